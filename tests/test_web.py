"""The web desk through Starlette's test client: every route, every role, CSRF, headers, escaping, audit.

Runs on SQLite and PostgreSQL (the `desk` fixture). The browser end-to-end tests are in test_web_browser.py.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from factcheck.desk import users
from factcheck.desk.cases import import_case
from factcheck.desk.evidence import store_capture
from factcheck.desk.models import (
    Article,
    AuditEvent,
    Claim,
    EvidenceUrl,
    LoginAttempt,
    Run,
    Snapshot,
    Verdict,
)
from factcheck.desk.triage import triage_queue
from factcheck.desk.verify import verify
from factcheck.web import create_app

with warnings.catch_warnings():  # Starlette 1.x suggests httpx2; httpx works the same for these tests
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

CASE_DIR = Path(__file__).parent / "fixtures" / "cases"
SF = "https://www.signalfire.com/talent-report"
PASSWORD = "correct horse battery"
HOSTILE = "Amazon ranks low. <script>alert('pwned')</script> <img src=x onerror=alert(2)> Retention is 61 percent."
PAGES = ["/queue", "/claims/{cid}", "/articles", "/articles/{aid}", "/captures/{sid}", "/runs", "/reports",
         "/sources", "/audit", "/reports/download?format=json"]


def build(env, tmp_path: Path) -> dict[str, int]:
    """The fixture case imported and verified, a hostile capture quoted by C2, article text with offsets, users."""
    folder = tmp_path / "case"
    shutil.copytree(CASE_DIR, folder)
    with env.desk.session() as s:
        import_case(s, env.settings, folder / "case.yaml", actor="t")
    verify(env.desk, env.settings, actor="t")
    with env.desk.session() as s:
        eu = s.execute(select(EvidenceUrl).where(EvidenceUrl.url == SF)).scalar_one()
        snap, _ = store_capture(s, env.settings, url=SF, body=HOSTILE.encode(), origin="fetch", evidence_url=eu,
                                status=200, content_type="text/plain")
        start = snap.text.index("Retention")
        c2 = s.execute(select(Claim).where(Claim.key == "C2")).scalar_one()
        run = s.execute(select(Run).order_by(Run.id.desc())).scalars().first()
        s.add(Verdict(claim_id=c2.id, run_id=run.id, kind="machine", label="contested", confidence=0.8,
                      rationale="pinned: <b>bold</b> claim", quotes=[{
                          "url": SF, "snapshot_sha256": snap.sha256, "quote": snap.text[start:],
                          "start": start, "end": len(snap.text), "source": "SignalFire", "role": "contradicts"}]))
        art = s.execute(select(Article)).scalars().one()
        art.text = "Intro. " + c2.text + " Outro <em>not markup</em>."
        c2.start, c2.end = 7, 7 + len(c2.text)
        for name, role in (("vic", "viewer"), ("cara", "checker"), ("carl", "checker"), ("eddie", "editor")):
            users.add_user(s, name, role=role, password=PASSWORD, actor="t")
        s.flush()
        return {"cid": c2.id, "aid": art.id, "sid": snap.id}


@pytest.fixture
def web(desk, tmp_path):
    ids = build(desk, tmp_path)
    app = create_app(desk.desk, desk.settings)
    return desk, app, ids


def token(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "page has no CSRF field"
    return m.group(1)


def client(app) -> TestClient:
    return TestClient(app, follow_redirects=False, base_url="http://localhost")


def sign_in(app, name: str, password: str = PASSWORD) -> TestClient:
    c = client(app)
    r = c.post("/login", data={"name": name, "password": password, "csrf": token(c.get("/login").text),
                               "next": "/queue"})
    assert r.status_code == 303 and r.headers["location"] == "/queue", r.text
    return c


def csrf_of(c: TestClient, path: str = "/queue") -> str:
    return token(c.get(path).text)


def events(env, action: str) -> list[AuditEvent]:
    with env.desk.session() as s:
        return list(s.execute(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)).scalars())


# ------------------------------------------------------------------ signed out, headers


def test_signed_out_is_sent_to_sign_in_for_every_page(web):
    _env, app, ids = web
    c = client(app)
    for page in ["/", *PAGES, "/users"]:
        r = c.get(page.format(**ids))
        assert r.status_code == 303, page
        assert r.headers["location"].startswith("/login?next=/"), page
    assert "Sign in" in c.get("/login").text


def test_security_headers_and_cookie_flags(web):
    _env, app, _ids = web
    c = client(app)
    r = c.get("/login")
    csp = r.headers["content-security-policy"]
    for part in ("default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'",
                 "form-action 'self'"):
        assert part in csp
    assert "unsafe-inline" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "same-origin"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert "<script" not in r.text and "style=" not in r.text  # nothing the CSP would have to allow
    css = c.get("/static/desk.css")
    assert css.status_code == 200 and css.headers["x-content-type-options"] == "nosniff"
    assert "http://" not in css.text and "https://" not in css.text  # no external assets


def test_session_secret_is_made_once_per_desk(web):
    env, app, _ids = web
    c = sign_in(app, "vic")
    again = create_app(env.desk, env.settings)  # a restarted server reads the same secret
    c2 = TestClient(again, follow_redirects=False, cookies=c.cookies, base_url="http://localhost")
    assert c2.get("/queue").status_code == 200
    with env.desk.session() as s:
        assert users.desk_secret(s, "web-session") == users.desk_secret(s, "web-session")
        assert len(users.desk_secret(s, "web-session")) >= 40


# ------------------------------------------------------------------ sign in, rate limit


def test_sign_in_and_out_are_audited(web):
    env, app, _ids = web
    c = client(app)
    bad = c.post("/login", data={"name": "cara", "password": "wrong password", "csrf": token(c.get("/login").text)})
    assert bad.status_code == 401 and "Wrong name or password" in bad.text
    unknown = c.post("/login", data={"name": "nobody", "password": "x" * 9, "csrf": token(c.get("/login").text)})
    assert unknown.status_code == 401
    c = sign_in(app, "cara")
    assert c.get("/queue").status_code == 200
    assert [e.actor for e in events(env, "auth.failed")] == ["cara", "nobody"]
    assert [e.actor for e in events(env, "auth.login")] == ["cara"]
    r = c.post("/logout", data={"csrf": csrf_of(c)})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert [e.actor for e in events(env, "auth.logout")] == ["cara"]
    assert c.get("/queue").status_code == 303


def test_a_cookie_saved_before_sign_out_no_longer_opens_the_desk(web):
    """Signing out ends the session on the server: a copy of the cookie (a second tab's, a stolen one) that
    still carries the signed-in state is refused, while another person's session goes on."""
    env, app, _ids = web
    c = sign_in(app, "cara")
    other = sign_in(app, "vic")
    saved = dict(c.cookies)
    assert saved and c.get("/queue").status_code == 200
    assert c.post("/logout", data={"csrf": csrf_of(c)}).status_code == 303
    replay = client(app)
    for name, value in saved.items():
        replay.cookies.set(name, value)
    for page in ("/queue", "/runs"):
        r = replay.get(page)
        assert r.status_code == 303 and r.headers["location"].startswith("/login"), page
    posted = replay.post("/queue/next", data={"csrf": "x" * 43})
    assert posted.status_code in (303, 403)
    with env.desk.session() as s:
        assert s.execute(select(Claim).where(Claim.assignee == "cara")).first() is None
    assert other.get("/queue").status_code == 200
    assert sign_in(app, "cara").get("/queue").status_code == 200  # signing in again works


def test_sign_in_is_rate_limited(web):
    env, app, _ids = web
    c = client(app)
    for _ in range(users.FAILURE_LIMIT):
        assert c.post("/login", data={"name": "cara", "password": "nope nope",
                                      "csrf": token(c.get("/login").text)}).status_code == 401
    r = c.post("/login", data={"name": "cara", "password": PASSWORD, "csrf": token(c.get("/login").text)})
    assert r.status_code == 429 and "Too many failed sign-ins" in r.text  # even the right password
    # another name from the same address is still fine
    assert sign_in(app, "vic").get("/queue").status_code == 200
    with env.desk.session() as s:
        assert users.failures(s, name="cara", ip="testclient") == users.FAILURE_LIMIT
        for attempt in s.execute(select(LoginAttempt)).scalars():
            attempt.at -= users.FAILURE_WINDOW
    assert sign_in(app, "cara").get("/queue").status_code == 200  # the window passed


def test_next_after_sign_in_stays_on_this_site(web):
    _env, app, _ids = web
    c = client(app)
    r = c.post("/login", data={"name": "vic", "password": PASSWORD, "csrf": token(c.get("/login").text),
                               "next": "//evil.example/steal"})
    assert r.headers["location"] == "/queue"


def test_disabled_account_loses_its_session(web):
    env, app, _ids = web
    c = sign_in(app, "cara")
    with env.desk.session() as s:
        users.set_disabled(s, "cara", True, actor="t")
    assert c.get("/queue").status_code == 303
    c2 = client(app)
    r = c2.post("/login", data={"name": "cara", "password": PASSWORD, "csrf": token(c2.get("/login").text)})
    assert r.status_code == 401


def test_password_change_ends_open_sessions(web):
    env, app, _ids = web
    old = sign_in(app, "cara")
    other = sign_in(app, "vic")
    assert old.get("/queue").status_code == 200
    with env.desk.session() as s:
        users.set_password(s, "cara", "a brand new passphrase", actor="t")
    r = old.get("/queue")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert other.get("/queue").status_code == 200  # someone else's session is untouched
    fresh = sign_in(app, "cara", "a brand new passphrase")
    assert fresh.get("/queue").status_code == 200


def test_only_known_host_names_are_answered(web):
    env, app, _ids = web
    assert client(app).get("/login").status_code == 200
    evil = TestClient(app, follow_redirects=False, base_url="http://rebound.example")
    assert evil.get("/login").status_code == 400  # a foreign name pointed at this desk
    from factcheck.settings import load_settings
    from factcheck.web.app import allowed_hosts

    named = load_settings({"web_hosts": "desk.newsroom.example, 10.0.0.5"}, environ={}, desk_dir=env.folder)
    hosts = allowed_hosts(named, "0.0.0.0")
    assert "desk.newsroom.example" in hosts and "10.0.0.5" in hosts and "localhost" in hosts
    assert "0.0.0.0" not in hosts
    app2 = create_app(env.desk, named, hosts=hosts)
    ok = TestClient(app2, follow_redirects=False, base_url="http://desk.newsroom.example")
    assert ok.get("/login").status_code == 200


# ------------------------------------------------------------------ CSRF


def test_forms_without_the_csrf_token_are_refused(web):
    env, app, ids = web
    c = sign_in(app, "eddie")
    posts = {
        "/queue/next": {},
        f"/claims/{ids['cid']}/review": {"verdict": "verified", "note": "forged"},
        f"/claims/{ids['cid']}/release": {},
        "/sources": {"name": "Forged Source"},
        "/users": {"name": "mallory", "role": "editor", "password": "x" * 12},
        "/users/vic": {"role": "editor"},
        "/logout": {},
    }
    for path, data in posts.items():
        assert c.post(path, data=data).status_code == 403, path
        assert c.post(path, data=data | {"csrf": "wrong" * 10}).status_code == 403, path
    fresh = client(app)
    assert fresh.post("/login", data={"name": "eddie", "password": PASSWORD}).status_code == 403
    # a token from another session does not work either
    other = token(client(app).get("/login").text)
    assert c.post("/sources", data={"name": "Forged Source", "csrf": other}).status_code == 403
    # right token, but posted from another site
    r = c.post("/sources", data={"name": "Forged Source", "csrf": csrf_of(c)},
               headers={"origin": "https://evil.example"})
    assert r.status_code == 403
    with env.desk.session() as s:
        assert users.find_user(s, "mallory") is None
        assert s.execute(select(Verdict).where(Verdict.kind == "human")).first() is None
    assert [e for e in events(env, "source.create") if e.actor == "eddie"] == []


# ------------------------------------------------------------------ roles


def test_viewer_reads_everything_but_changes_nothing(web):
    env, app, ids = web
    c = sign_in(app, "vic")
    for page in PAGES:
        assert c.get(page.format(**ids)).status_code == 200, page
    page = c.get(f"/claims/{ids['cid']}").text
    assert "Save verdict" not in page and "Take next" not in c.get("/queue").text
    t = csrf_of(c)
    assert c.post("/queue/next", data={"csrf": t}).status_code == 403
    r = c.post(f"/claims/{ids['cid']}/review", data={"csrf": t, "verdict": "verified", "note": "looks fine"})
    assert r.status_code == 403 and "cannot" in r.text
    assert c.post("/sources", data={"csrf": t, "name": "X"}).status_code == 403
    assert c.get("/users").status_code == 403
    assert c.post("/users", data={"csrf": t, "name": "x", "role": "editor", "password": "y" * 10}).status_code == 403
    with env.desk.session() as s:
        assert s.execute(select(Verdict).where(Verdict.kind == "human")).first() is None
        assert users.find_user(s, "x") is None


def test_checker_takes_next_reads_evidence_and_reviews(web):
    env, app, ids = web
    c = sign_in(app, "cara")
    with env.desk.session() as s:
        first = triage_queue(s)[0]
    r = c.post("/queue/next", data={"csrf": csrf_of(c)})
    assert r.status_code == 303 and r.headers["location"] == f"/claims/{first.claim_id}"
    page = c.get(r.headers["location"]).text
    assert "is yours until" in page and "Save verdict" in page
    with env.desk.session() as s:
        claim = s.get(Claim, first.claim_id)
        assert claim.assignee == "cara"
    assert [e.actor for e in events(env, "claim.assign")] == ["cara"]
    # C2 is the contested claim: its quote shows inside its passage with the quoted part marked
    assert first.claim_id == ids["cid"]
    assert '<mark class="q">' in page and 'rel="noopener noreferrer"' in page
    assert f'href="/captures/{ids["sid"]}?start=' in page
    assert f'<a href="/captures/{ids["sid"]}">archived capture</a>' in page  # its evidence, linked to the capture
    quote = re.search(r'name="quote" value="([^"]+)"', page)
    assert quote, "the review form offers passages to quote"
    r = c.post(f"/claims/{first.claim_id}/review", data={
        "csrf": csrf_of(c), "verdict": "contested", "note": "the page says 61 percent",
        "quote": quote.group(1), "revision": "0"})
    assert r.status_code == 303 and r.headers["location"] == "/queue"
    queue = c.get("/queue").text
    assert "contested — saved under your name" in queue
    with env.desk.session() as s:
        v = s.execute(select(Verdict).where(Verdict.kind == "human")).scalar_one()
        assert (v.reviewer, v.label, v.note) == ("cara", "contested", "the page says 61 percent")
        assert v.quotes[0]["url"] == SF and v.quotes[0]["snapshot_sha256"]
        assert first.claim_id not in [it.claim_id for it in triage_queue(s)]
        assert s.get(Claim, first.claim_id).assignee is None
    assert [e.actor for e in events(env, "verdict.human")] == ["cara"]
    report = json.loads(c.get("/reports/download?format=json").text)
    c2 = next(x for x in report["claims"] if x["id"] == "C2")
    assert (c2["verdict"], c2["decided_by"]) == ("contested", "reviewer cara")


def test_review_needs_a_verdict_and_a_note(web):
    env, app, ids = web
    c = sign_in(app, "cara")
    r = c.post(f"/claims/{ids['cid']}/review", data={"csrf": csrf_of(c), "verdict": "verified", "note": "  ",
                                                     "revision": "0"})
    assert r.status_code == 400 and "needs a note" in r.text
    r = c.post(f"/claims/{ids['cid']}/review", data={"csrf": csrf_of(c), "verdict": "true", "note": "x",
                                                     "revision": "0"})
    assert r.status_code == 400 and "unknown verdict" in r.text
    with env.desk.session() as s:
        assert s.execute(select(Verdict).where(Verdict.kind == "human")).first() is None


def test_stale_review_is_refused_and_held_claims_need_override(web):
    env, app, ids = web
    cara, carl = sign_in(app, "cara"), sign_in(app, "carl")
    assert cara.post("/queue/next", data={"csrf": csrf_of(cara)}).headers["location"] == f"/claims/{ids['cid']}"
    carl_page = carl.get(f"/claims/{ids['cid']}").text
    assert "Held by cara" in carl_page and "review anyway" in carl_page
    r = carl.post(f"/claims/{ids['cid']}/review", data={"csrf": csrf_of(carl), "verdict": "verified",
                                                        "note": "fine", "revision": "0"})
    assert r.status_code == 400 and "assigned to cara" in r.text
    ok = cara.post(f"/claims/{ids['cid']}/review", data={"csrf": csrf_of(cara), "verdict": "contested",
                                                         "note": "61 not 45", "revision": "0"})
    assert ok.status_code == 303
    # carl's page still shows revision 0: his late verdict must not overwrite cara's
    late = carl.post(f"/claims/{ids['cid']}/review", data={"csrf": csrf_of(carl), "verdict": "verified",
                                                           "note": "fine", "revision": "0", "override": "1"})
    assert late.status_code == 303
    assert "Nothing was saved" in carl.get(late.headers["location"]).text
    with env.desk.session() as s:
        assert [v.reviewer for v in s.execute(select(Verdict).where(Verdict.kind == "human")).scalars()] == ["cara"]


@pytest.mark.parametrize("sent", [None, "", "abc", "-1", "1.0", "٣", "9" * 40])
def test_review_without_a_revision_is_refused_like_a_stale_one(web, sent):
    """A form that does not say which revision it reviewed must not overwrite a review made meanwhile."""
    env, app, ids = web
    cara, carl = sign_in(app, "cara"), sign_in(app, "carl")
    ok = cara.post(f"/claims/{ids['cid']}/review", data={"csrf": csrf_of(cara), "verdict": "contested",
                                                         "note": "61 not 45", "revision": "0"})
    assert ok.status_code == 303
    data = {"csrf": csrf_of(carl), "verdict": "verified", "note": "fine", "override": "1"}
    if sent is not None:
        data["revision"] = sent
    late = carl.post(f"/claims/{ids['cid']}/review", data=data)
    assert late.status_code == 303 and late.headers["location"] == f"/claims/{ids['cid']}"
    assert "Nothing was saved" in carl.get(late.headers["location"]).text
    with env.desk.session() as s:
        humans = list(s.execute(select(Verdict).where(Verdict.kind == "human")).scalars())
        assert [(v.reviewer, v.label) for v in humans] == [("cara", "contested")]
        assert s.get(Claim, ids["cid"]).revision == 1
    assert [e.actor for e in events(env, "verdict.human")] == ["cara"]


def test_two_checkers_never_get_the_same_claim(web):
    _env, app, _ids = web
    cara, carl = sign_in(app, "cara"), sign_in(app, "carl")
    a = cara.post("/queue/next", data={"csrf": csrf_of(cara)}).headers["location"]
    b = carl.post("/queue/next", data={"csrf": csrf_of(carl)}).headers["location"]
    assert a.startswith("/claims/") and b.startswith("/claims/") and a != b


def test_release(web):
    env, app, _ids = web
    cara = sign_in(app, "cara")
    loc = cara.post("/queue/next", data={"csrf": csrf_of(cara)}).headers["location"]
    r = cara.post(loc + "/release", data={"csrf": csrf_of(cara)})
    assert r.status_code == 303 and "back in the queue" in cara.get(loc).text
    assert [e.actor for e in events(env, "claim.release")] == ["cara"]


def test_queue_filters_and_sorts(web):
    _env, app, _ids = web
    c = sign_in(app, "vic")
    page = c.get("/queue?status=contested").text
    assert "C2" in page and ">C3<" not in page
    assert "Nothing needs a person" in c.get("/queue?source=Nobody").text
    assert c.get("/queue?status=bogus").status_code == 400
    assert c.get("/queue?mine=1").status_code == 200


def _queue_order(html: str) -> list[str]:
    return re.findall(r'<a href="/claims/\d+"><b>([^<]+)</b></a>', html)


def test_queue_sort_options_order_the_rows(web):
    """Each sort option gives its own order: three claims whose waiting time, confidence, check-worthiness,
    status and id each rank them differently (so a sort that fell back to another would show)."""
    env, app, _ids = web
    base = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
    plan = {  # key: (label, confidence, checkworthiness, verdict made at)
        "C1": ("unverified", 0.5, 0.6, base + timedelta(hours=3)),
        "C2": ("unverified", 0.9, 0.9, base + timedelta(hours=1)),
        "C3": ("contested", 0.2, 0.1, base + timedelta(hours=2)),
    }
    with env.desk.session() as s:
        s.execute(update(Snapshot).values(fetched_at=datetime(2020, 1, 1, tzinfo=UTC)))  # no "new evidence"
        run = Run(version="t", actor="t", finished_at=base, settings={}, counts={})
        s.add(run)
        s.flush()
        for key, (label, conf, cw, at) in plan.items():
            claim = s.execute(select(Claim).where(Claim.key == key)).scalar_one()
            claim.checkworthiness = cw
            s.add(Verdict(claim_id=claim.id, run_id=run.id, kind="machine", label=label, confidence=conf,
                          rationale="", quotes=[], created_at=at))
    c = sign_in(app, "vic")
    expected = {
        "urgency": ["C3", "C2", "C1"],  # contested first, then by check-worthiness
        "oldest": ["C2", "C3", "C1"],
        "newest": ["C1", "C3", "C2"],
        "confidence": ["C3", "C1", "C2"],
        "worth": ["C2", "C1", "C3"],
        "id": ["C1", "C2", "C3"],
    }
    assert len({tuple(v) for v in expected.values()}) == len(expected)
    for sort, order in expected.items():
        r = c.get(f"/queue?sort={sort}")
        assert r.status_code == 200
        assert _queue_order(r.text) == order, sort
    assert _queue_order(c.get("/queue?sort=bogus").text) == expected["urgency"]  # unknown: the default


def test_editor_manages_sources_and_users(web):
    env, app, _ids = web
    c = sign_in(app, "eddie")
    r = c.post("/sources", data={"csrf": csrf_of(c, "/sources"), "name": "BI", "aliases": "Business Insider DE",
                                 "domains": "businessinsider.de"})
    assert r.status_code == 303
    page = c.get("/sources").text
    assert "Business Insider DE" in page and "businessinsider.de" in page
    assert [e.actor for e in events(env, "source.update")] == ["eddie"]
    checker = sign_in(app, "cara")
    assert checker.post("/sources", data={"csrf": csrf_of(checker), "name": "X"}).status_code == 403
    assert checker.get("/users").status_code == 403
    r = c.post("/users", data={"csrf": csrf_of(c, "/users"), "name": "Nina", "role": "checker",
                               "password": "long enough pw"})
    assert r.status_code == 303
    assert "nina" in c.get("/users").text
    assert sign_in(app, "nina", "long enough pw").get("/queue").status_code == 200
    c.post("/users/nina", data={"csrf": csrf_of(c, "/users"), "role": "viewer", "state": "disabled"})
    with env.desk.session() as s:
        u = users.get_user(s, "nina")
        assert (u.role, u.disabled) == ("viewer", True)
    c.post("/users/eddie", data={"csrf": csrf_of(c, "/users"), "role": "viewer", "state": "enabled"})
    with env.desk.session() as s:
        assert users.get_user(s, "eddie").role == "editor"  # no locking oneself out
    short = c.post("/users", data={"csrf": csrf_of(c, "/users"), "name": "pat", "role": "checker", "password": "short"})
    assert short.status_code == 303 and "at least 8" in c.get("/users").text
    assert [e.actor for e in events(env, "user.create")][-1] == "eddie"


# ------------------------------------------------------------------ reading pages, escaping


def test_hostile_evidence_and_claims_are_escaped(web):
    env, app, ids = web
    with env.desk.session() as s:
        s.execute(update(Claim).where(Claim.id == ids["cid"]).values(
            statement="<img src=x onerror=alert(3)> restated"))
    c = sign_in(app, "cara")
    for path in (f"/claims/{ids['cid']}", f"/captures/{ids['sid']}", f"/articles/{ids['aid']}"):
        page = c.get(path).text
        assert "<script>alert" not in page and "<img src=x" not in page and "<em>not markup" not in page, path
        assert "<script" not in page, path
    assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in c.get(f"/captures/{ids['sid']}").text
    assert "&lt;b&gt;bold&lt;/b&gt;" in c.get(f"/claims/{ids['cid']}").text
    assert "&lt;em&gt;not markup&lt;/em&gt;" in c.get(f"/articles/{ids['aid']}").text


def test_article_view_highlights_claims_in_verdict_colours(web):
    _env, app, ids = web
    c = sign_in(app, "vic")
    page = c.get(f"/articles/{ids['aid']}").text
    assert f'<a class="c contested" href="/claims/{ids["cid"]}"' in page
    assert "Intro. " in page
    assert c.get("/articles/99999").status_code == 404


def test_capture_viewer_shows_text_and_marks_the_quote(web):
    _env, app, ids = web
    c = sign_in(app, "vic")
    page = c.get(f"/captures/{ids['sid']}?start=0&end=6").text
    assert '<mark class="q" id="q">Amazon</mark>' in page and "Extracted text only" in page
    assert c.get(f"/captures/{ids['sid']}?start=5&end=99999").status_code == 200  # out of range: no mark
    assert c.get("/captures/99999").status_code == 404
    assert c.get("/claims/99999").status_code == 404


def test_runs_and_report_downloads(web):
    _env, app, _ids = web
    c = sign_in(app, "vic")
    runs = c.get("/runs").text
    assert "Verification runs" in runs and "<td class=\"num\">1</td>" in runs
    assert "Decided by a reviewer" in c.get("/reports").text
    for fmt in ("html", "md", "json", "csv", "claimreview"):
        r = c.get(f"/reports/download?format={fmt}")
        assert r.status_code == 200, fmt
        assert r.headers["content-disposition"].startswith("attachment; filename=\"factcheck-report"), fmt
        assert "script-src" not in r.headers["content-security-policy"]  # default-src 'none' covers scripts
        assert "default-src 'none'" in r.headers["content-security-policy"]
    assert json.loads(c.get("/reports/download?format=json").text)["claims"]
    rows = list(csv.reader(io.StringIO(c.get("/reports/download?format=csv").content.decode("utf-8-sig"))))
    assert len(rows) > 1
    case = c.get("/reports/download?format=md&case=Test case: hiring")
    assert case.status_code == 200 and "test-case--hiring" in case.headers["content-disposition"].lower()
    assert c.get("/reports/download?format=exe").status_code == 400
    assert c.get("/reports/download?format=json&case=nope").status_code == 400


# ------------------------------------------------------------------ accounts library and CLI


def test_users_library(memory_desk):
    with memory_desk.desk.session() as s:
        u = users.add_user(s, " Ana ", role="checker", password="s3cret-pass", actor="t")
        assert u.name == "ana" and u.password_hash.startswith("$argon2")
        assert users.verify_password(s, "ANA", "s3cret-pass") is not None
        assert users.verify_password(s, "ana", "wrong-pass") is None
        with pytest.raises(users.UserExists):
            users.add_user(s, "ana", role="viewer", password="another-pass", actor="t")
        with pytest.raises(users.UserError):
            users.add_user(s, "bad name!", role="viewer", password="another-pass", actor="t")
        with pytest.raises(users.UserError):
            users.add_user(s, "bo", role="admin", password="another-pass", actor="t")
        with pytest.raises(users.UserError):
            users.add_user(s, "bo", role="viewer", password="short", actor="t")
        assert users.role_allows("editor", "checker") and not users.role_allows("viewer", "checker")
        audit = s.execute(select(AuditEvent).where(AuditEvent.action == "user.create")).scalar_one()
        assert "password" not in json.dumps(audit.after) and "argon2" not in json.dumps(audit.after)


def test_users_cli(cli):
    assert cli("init").code == 0
    r = cli("users", "add", "ana", "--role", "checker", "--password-stdin", input="a good password\n")
    assert r.code == 0 and "Added ana (checker)" in r.stdout
    again = cli("users", "add", "ana", "--role", "viewer", "--password-stdin", input="a good password\n")
    assert again.code == 1 and again.stderr.startswith("Error: user 'ana' already exists")
    short = cli("users", "add", "bo", "--role", "viewer", "--password-stdin", input="short\n")
    assert short.code == 1 and "at least 8" in short.stderr
    assert cli("users", "add", "bo", "--role", "admin").code == 2
    listed = json.loads(cli("users", "list", "--json").stdout)
    assert [(u["name"], u["role"], u["disabled"]) for u in listed] == [("ana", "checker", False)]
    assert "password" not in json.dumps(listed)
    assert cli("users", "set", "ana", "--role", "editor", "--disable").code == 0
    listed = json.loads(cli("users", "list", "--json").stdout)
    assert (listed[0]["role"], listed[0]["disabled"]) == ("editor", True)
    assert "serve" in cli("--help").stdout and "--host" in cli("serve", "--help").stdout
