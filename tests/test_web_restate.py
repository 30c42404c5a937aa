"""The claim page lets a checker restate a claim in English: audited, judged again, escaped on the page."""

from __future__ import annotations

from sqlalchemy import func, select

from factcheck.desk.models import Claim, Verdict
from tests.test_web import csrf_of, events, sign_in, web  # noqa: F401  (web is a fixture)

STATEMENT = "SignalFire ranks Amazon <b>low</b> for retention."


def machine_verdicts(env, cid: int) -> int:
    with env.desk.session() as s:
        return s.execute(select(func.count()).select_from(Verdict)
                         .where(Verdict.claim_id == cid, Verdict.kind == "machine")).scalar_one()


def test_checker_restates_and_the_claim_is_judged_again(web):  # noqa: F811
    env, app, ids = web
    cid = ids["cid"]
    before = machine_verdicts(env, cid)
    c = sign_in(app, "cara")
    assert "Restate in English" in c.get(f"/claims/{cid}").text
    r = c.post(f"/claims/{cid}/statement", data={"csrf": csrf_of(c), "statement": STATEMENT})
    assert r.status_code == 303 and r.headers["location"] == f"/claims/{cid}"
    with env.desk.session() as s:
        claim = s.get(Claim, cid)
        assert claim is not None and claim.statement == STATEMENT and claim.revision == 1
    update = events(env, "claim.update")[-1]
    assert update.actor == "cara" and update.after["statement"] == STATEMENT
    assert machine_verdicts(env, cid) == before + 1
    page = c.get(f"/claims/{cid}").text
    assert "judged again" in page
    assert "&lt;b&gt;low&lt;/b&gt;" in page and "<b>low</b>" not in page
    # the same text again writes nothing
    c.post(f"/claims/{cid}/statement", data={"csrf": csrf_of(c), "statement": STATEMENT})
    assert len(events(env, "claim.update")) == 1 and machine_verdicts(env, cid) == before + 1


def test_viewers_and_forged_forms_cannot_restate(web):  # noqa: F811
    env, app, ids = web
    cid = ids["cid"]
    vic = sign_in(app, "vic")
    assert "Restate in English" not in vic.get(f"/claims/{cid}").text
    assert vic.post(f"/claims/{cid}/statement", data={"csrf": csrf_of(vic), "statement": "x"}).status_code == 403
    cara = sign_in(app, "cara")
    assert cara.post(f"/claims/{cid}/statement", data={"csrf": "forged" * 8, "statement": "x"}).status_code == 403
    assert cara.post("/claims/99999/statement", data={"csrf": csrf_of(cara), "statement": "x"}).status_code == 404
    with env.desk.session() as s:
        claim = s.get(Claim, cid)
        assert claim is not None and claim.statement is None and claim.revision == 0
