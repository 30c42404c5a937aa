"""The web desk against oversized ids and oversized text: ids past the databases' integers (PostgreSQL's
`integer` ids end at 2^31-1, SQLite's at 2^63-1) are no page (404, never 500), over-long fields are refused
with a message, and no user text can swell the session cookie. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from test_web import build, csrf_of, sign_in

from factcheck.desk.models import Source, Verdict
from factcheck.settings import FIELD_LIMITS
from factcheck.web import create_app

BIG_IDS = ["9223372036854775808", "9223372036854775807", "99999999999999999999999999", "2147483648",
           "9999999999", "000000000000000000001"]


@pytest.fixture
def web(desk, tmp_path):
    ids = build(desk, tmp_path)
    return desk, create_app(desk.desk, desk.settings), ids


def test_ids_past_the_database_integers_are_not_found(web):
    _env, app, ids = web
    c = sign_in(app, "cara")
    for path in ("/claims/{}", "/captures/{}", "/articles/{}"):
        assert c.get(path.format(ids["cid"] if "claims" in path else ids["sid"] if "captures" in path
                                 else ids["aid"])).status_code == 200
        for big in BIG_IDS:
            r = c.get(path.format(big))
            assert r.status_code == 404, (path, big, r.status_code)
    for big in BIG_IDS:
        for action in ("review", "release"):
            r = c.post(f"/claims/{big}/{action}", data={"csrf": csrf_of(c)})
            assert r.status_code == 404, (action, big)
    assert c.get("/claims/2147483647").status_code == 404  # the largest id there can be: looked up, not there


def cookie_sizes(response) -> list[int]:
    return [len(v) for k, v in response.headers.multi_items() if k.lower() == "set-cookie"]


def test_a_megabyte_source_name_is_refused_and_never_reaches_the_cookie(web):
    env, app, _ids = web
    c = sign_in(app, "eddie")
    with env.desk.session() as s:
        sources_before = s.execute(select(func.count()).select_from(Source)).scalar_one()
    for name, aliases in (("N" * 1_000_000, ""), ("Fine name", "A" * 500_000)):
        r = c.post("/sources", data={"csrf": csrf_of(c, "/sources"), "name": name, "aliases": aliases,
                                     "domains": ""})
        assert r.status_code == 303
        assert max(cookie_sizes(r), default=0) < 4096
        page = c.get("/sources")
        assert page.status_code == 200 and "Nothing was saved" in page.text and "characters long" in page.text
    with env.desk.session() as s:
        assert s.execute(select(func.count()).select_from(Source)).scalar_one() == sources_before
    # a long name that fits is stored, and its confirmation is cut before it goes into the cookie
    name = "L" * FIELD_LIMITS["source_name"].chars
    r = c.post("/sources", data={"csrf": csrf_of(c, "/sources"), "name": name, "aliases": "", "domains": ""})
    assert r.status_code == 303 and max(cookie_sizes(r)) < 4096
    assert c.get("/queue").status_code == 200


def test_messages_that_echo_user_text_are_cut_before_the_cookie(web):
    """A refused user name is echoed in its error message; the message is cut, the browser keeps working."""
    _env, app, _ids = web
    c = sign_in(app, "eddie")
    r = c.post("/users", data={"csrf": csrf_of(c, "/users"), "name": "x" * 1_000_000, "role": "checker",
                               "password": "long enough pw"})
    assert r.status_code == 303
    assert max(cookie_sizes(r), default=0) < 4096
    page = c.get("/users")
    assert page.status_code == 200 and "user name &#39;xxxx" in page.text and "xxx…" in page.text
    assert c.get("/queue").status_code == 200


def test_an_oversized_review_note_is_refused_with_the_form(web):
    env, app, ids = web
    c = sign_in(app, "cara")
    r = c.post(f"/claims/{ids['cid']}/review", data={"csrf": csrf_of(c), "verdict": "verified",
                                                     "note": "n" * 900_000, "revision": "0"})
    assert r.status_code == 400
    assert "review note is 900,000 characters long; the most is 10,000" in r.text
    assert max(cookie_sizes(r), default=0) < 4096
    with env.desk.session() as s:
        assert s.execute(select(Verdict).where(Verdict.kind == "human")).first() is None
    assert c.get("/queue").status_code == 200
