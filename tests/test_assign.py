"""Assigning claims to a named person: `claims assign ID... --to NAME`, and bulk assign / bulk verdict from
the web queue. One audit event per claim; all or nothing.

CLI through the real entry point on SQLite and PostgreSQL; the web through Starlette's test client.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from newsroom_util import case_desk
from sqlalchemy import select, update
from test_web import csrf_of, events, sign_in

from factcheck.desk.models import Claim, Verdict, utcnow
from factcheck.web import create_app


def test_assign_several_claims_one_event_each(cli, cli_db, tmp_path):
    d = case_desk(cli, cli_db, tmp_path, verify=True)
    rows = d.json("claims", "assign", "C1", "C2", "--to", "  Ana  Lopez ", "--by", "eddie")
    assert [(r["id"], r["assignee"]) for r in rows] == [("C1", "Ana Lopez"), ("C2", "Ana Lopez")]
    until = datetime.fromisoformat(rows[0]["assigned_until"])
    assert timedelta(hours=47) < until - datetime.now(until.tzinfo) <= timedelta(hours=48)  # handoff_hours
    assert d.json("claims", "show", "C1")["assignee"] == "Ana Lopez"
    assert d.json("claims", "show", "C3")["assignee"] is None
    assert {r["id"] for r in d.json("triage", "--assignee", "Ana Lopez")} <= {"C1", "C2"}  # the queue's filter
    ev = d.events("claim.assign")
    assert [(e["claim"], e["actor"], e["after"]["assignee"], e["before"]["assignee"]) for e in ev] == [
        ("C1", "eddie", "Ana Lopez", None), ("C2", "eddie", "Ana Lopez", None)]
    # reassigning keeps who held it before; --hours overrides the setting
    rows = d.json("claims", "assign", "C1", "--to", "bo", "--hours", "2")
    assert rows[0]["assignee"] == "bo"
    assert d.events("claim.assign")[-1]["before"]["assignee"] == "Ana Lopez"
    r = d("claims", "assign", "C3", "--to", "bo")
    assert r.code == 0 and "Assigned C3 to bo until" in r.stdout
    assert d("audit", "verify").code == 0


def test_assign_is_all_or_nothing(cli, cli_db, tmp_path):
    d = case_desk(cli, cli_db, tmp_path)
    for args, env, msg in (
        (("claims", "assign", "C1", "C9", "--to", "bo"), None, "no claim 'C9'"),
        (("claims", "assign", "C1", "--to", "   "), None, "assign to whom"),
        (("claims", "assign", "C1", "--to", "bo"), {"FACTCHECK_USER": ""}, "who is assigning"),
    ):
        r = d(*args, env=env)
        assert r.code == 1 and r.stderr.startswith("Error: ") and msg in r.stderr, r.stderr
    assert d("claims", "assign", "--to", "bo").code == 2  # no ids: usage error
    assert d.json("claims", "show", "C1")["assignee"] is None and d.events("claim.assign") == []


def _queue_values(c) -> dict[str, str]:
    """Bulk checkbox values by claim key, as the queue page shows them."""
    import re

    page = c.get("/queue").text
    return {key: value for value, key in re.findall(r'name="claim" value="([^"]+)" aria-label="select ([^"]+)"', page)}


def test_web_bulk_assign_by_editors_only(desk, tmp_path):
    from test_web import build

    build(desk, tmp_path)
    app = create_app(desk.desk, desk.settings)
    eddie = sign_in(app, "eddie")
    vals = _queue_values(eddie)
    assert set(vals) >= {"C2", "C3"} and 'id="bulk-assign"' in eddie.get("/queue").text
    r = eddie.post("/queue/bulk", data={"csrf": csrf_of(eddie), "action": "assign", "to": "cara",
                                        "claim": [vals["C2"], vals["C3"]]})
    assert r.status_code == 303
    page = eddie.get("/queue").text
    assert "Assigned 2 claim(s) to cara." in page
    ev = events(desk, "claim.assign")
    assert [(e.actor, e.after["assignee"]) for e in ev] == [("eddie", "cara"), ("eddie", "cara")]
    assert len({e.claim_id for e in ev}) == 2  # one event per claim
    cara = sign_in(app, "cara")
    assert 'id="bulk-assign"' not in cara.get("/queue").text  # checkers see only the verdict action
    r = cara.post("/queue/bulk", data={"csrf": csrf_of(cara), "action": "assign", "to": "cara",
                                       "claim": [vals["C2"]]})
    assert r.status_code == 403
    assert eddie.post("/queue/bulk", data={"action": "assign", "to": "x", "claim": [vals["C2"]]}).status_code == 403
    r = eddie.post("/queue/bulk", data={"csrf": csrf_of(eddie), "action": "assign", "to": "x"})
    assert r.status_code == 303 and "tick at least one claim" in eddie.get("/queue").text
    # single assign from the claim page
    cid = int(vals["C2"].split(":")[0])
    r = eddie.post(f"/claims/{cid}/assign", data={"csrf": csrf_of(eddie), "to": "carl"})
    assert r.status_code == 303 and "Held by carl" in eddie.get(f"/claims/{cid}").text


def test_web_bulk_verdict_one_event_each_and_guards(desk, tmp_path):
    from test_web import build

    build(desk, tmp_path)
    app = create_app(desk.desk, desk.settings)
    cara = sign_in(app, "cara")
    vals = _queue_values(cara)
    picked = [vals["C2"], vals["C3"]]
    # a stale revision for one row: nothing is saved for any
    with desk.desk.session() as s:
        s.execute(update(Claim).where(Claim.key == "C3").values(revision=Claim.revision + 1))
    r = cara.post("/queue/bulk", data={"csrf": csrf_of(cara), "action": "verdict", "verdict": "unverified",
                                       "note": "no source to check", "claim": picked})
    assert r.status_code == 303 and "Nothing was saved" in cara.get("/queue").text
    assert events(desk, "verdict.human") == []
    vals = _queue_values(cara)
    picked = [vals["C2"], vals["C3"]]
    # held by someone else: refused unless "review anyway"
    with desk.desk.session() as s:
        c3 = s.execute(select(Claim).where(Claim.key == "C3")).scalar_one()
        c3.assignee, c3.assigned_until = "carl", utcnow() + timedelta(hours=1)
    data = {"csrf": csrf_of(cara), "action": "verdict", "rating": "needs context", "note": "no source to check",
            "claim": picked}
    cara.post("/queue/bulk", data=data)
    assert "assigned to carl" in cara.get("/queue").text and events(desk, "verdict.human") == []
    r = cara.post("/queue/bulk", data=data | {"csrf": csrf_of(cara), "override": "1"})
    assert r.status_code == 303 and "on 2 claim(s)" in cara.get("/queue").text
    ev = events(desk, "verdict.human")
    assert len(ev) == 2 and {e.actor for e in ev} == {"cara"} and len({e.claim_id for e in ev}) == 2
    with desk.desk.session() as s:
        got = s.execute(select(Verdict.label, Verdict.rating).where(Verdict.kind == "human")).all()
    assert sorted(got) == [("unverified", "needs context"), ("unverified", "needs context")]
    vic = sign_in(app, "vic")
    assert vic.post("/queue/bulk", data={"csrf": csrf_of(vic), "action": "verdict", "verdict": "verified",
                                         "note": "x", "claim": picked}).status_code == 403
    assert 'name="claim"' not in vic.get("/queue").text
