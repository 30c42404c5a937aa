"""Human reviews: they become the verdict, keep the machine's in history, pin quotes, and never overwrite blindly."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select, text

from factcheck.desk.cases import import_case
from factcheck.desk.claims import claim_dict, current_verdict, find_claim, verdict_history
from factcheck.desk.evidence import latest_snapshot
from factcheck.desk.models import AuditEvent, Claim, Verdict
from factcheck.desk.triage import BadQuote, NoIdentity, ReviewConflict, next_claim, review, triage_queue
from factcheck.desk.verify import verify

CASE_DIR = Path(__file__).parent / "fixtures" / "cases"
BI = "https://www.businessinsider.com/report"


def build(env, tmp_path: Path) -> Path:
    folder = tmp_path / "case"
    shutil.copytree(CASE_DIR, folder)
    with env.desk.session() as s:
        import_case(s, env.settings, folder / "case.yaml", actor="t")
    verify(env.desk, env.settings, actor="t")
    return folder / "case.yaml"


def human_verdicts(env) -> list[tuple[str, str | None, str]]:
    with env.desk.session() as s:
        rows = s.execute(select(Claim.key, Verdict.reviewer, Verdict.label).join(Claim, Verdict.claim_id == Claim.id)
                         .where(Verdict.kind == "human").order_by(Verdict.id)).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def event_count(env) -> int:
    with env.desk.session() as s:
        return s.execute(select(func.count()).select_from(AuditEvent)).scalar_one()


def test_review_becomes_the_verdict_and_keeps_history(desk, tmp_path):
    build(desk, tmp_path)
    with desk.desk.session() as s:
        got = next_claim(s, by="ana", minutes=30)
        assert got is not None
        key = got.key
    with desk.desk.session() as s:
        res = review(s, key, label="contested", note="The page says 400, not 600.", by="ana",
                     quotes=[f"{BI}#47-120"])
    assert res.revision == 1 and res.released == "ana" and res.previous is not None
    assert res.previous["kind"] == "machine"
    with desk.desk.session() as s:
        c = find_claim(s, key)
        d = claim_dict(s, c)
        history = verdict_history(s, c.id)
        snap = latest_snapshot(s, BI)
        events = list(s.execute(select(AuditEvent).where(AuditEvent.claim_id == c.id)
                                .order_by(AuditEvent.id)).scalars())
        assert c.assignee is None and c.assigned_until is None and c.revision == 1
        assert key not in [it.key for it in triage_queue(s)]
    assert d["verdict"] == "contested" and d["decided_by"] == "reviewer ana"
    assert d["rationale"] == "The page says 400, not 600."
    assert [v.kind for v in history] == ["machine", "human"]
    assert snap is not None
    q = d["evidence"][0]
    assert q["quote"] == snap.text[47:120] and q["snapshot_sha256"] == snap.sha256 and (q["start"], q["end"]) == (47, 120)
    assert q["role"] == "contradicts" and q["source"] == "Business Insider"
    assert [e.action for e in events][-2:] == ["claim.release", "verdict.human"]
    ev = events[-1]
    assert ev.actor == "ana" and ev.after["label"] == "contested" and ev.after["revision"] == 1
    assert ev.after["quotes"] == [{"url": BI, "snapshot_sha256": snap.sha256, "start": 47, "end": 120}]
    assert ev.before["kind"] == "machine"


def test_conflicting_review_is_refused_and_loses_nothing(desk, tmp_path):
    build(desk, tmp_path)
    with desk.desk.session() as s:
        got = next_claim(s, by="ana", minutes=30)  # ana looks at revision 0
        assert got is not None and got.revision == 0
        key = got.key
    with desk.desk.session() as s:  # bob saw revision 0 too (e.g. from `claims show`) and is quicker
        review(s, key, label="verified", note="bob checked", by="bob", expect_revision=0)
    before = event_count(desk)
    with pytest.raises(ReviewConflict) as info, desk.desk.session() as s:
        review(s, key, label="contested", note="ana disagrees", by="ana")
    msg = str(info.value)
    assert f"claim {key} was reviewed by bob at" in msg and "since you looked" in msg
    assert f"factcheck claims show {key}" in msg and "--expect-revision 1" in msg
    assert human_verdicts(desk) == [(key, "bob", "verified")]
    assert event_count(desk) == before
    with desk.desk.session() as s:
        c = find_claim(s, key)
        v = current_verdict(s, c.id)
        assert v is not None and (v.reviewer, v.label) == ("bob", "verified") and c.revision == 1
    with desk.desk.session() as s:  # having looked again, ana's review goes through and bob's stays in history
        review(s, key, label="contested", note="ana disagrees", by="ana", expect_revision=1)
    assert human_verdicts(desk) == [(key, "bob", "verified"), (key, "ana", "contested")]


def test_stale_expect_revision_is_refused(desk, tmp_path):
    build(desk, tmp_path)
    with desk.desk.session() as s:
        review(s, "C1", label="verified", note="first", by="bob")
    with pytest.raises(ReviewConflict, match="revision 1, you saw 0"), desk.desk.session() as s:
        review(s, "C1", label="contested", note="second", by="cy", expect_revision=0)
    assert human_verdicts(desk) == [("C1", "bob", "verified")]


def test_review_that_does_not_say_what_it_saw_does_not_replace_another_review(desk, tmp_path):
    """No expected revision and no assignment or earlier review to take it from: refused over someone
    else's review (it would silently replace it), allowed with the revision named."""
    build(desk, tmp_path)
    with desk.desk.session() as s:
        review(s, "C1", label="verified", note="first", by="bob")
    with pytest.raises(ReviewConflict, match=r"was reviewed by bob .*--expect-revision 1"), desk.desk.session() as s:
        review(s, "C1", label="contested", note="blind", by="cy")
    assert human_verdicts(desk) == [("C1", "bob", "verified")]
    with desk.desk.session() as s:
        review(s, "C1", label="contested", note="seen it", by="cy", expect_revision=1)
    # bob's own earlier review tells which revision he saw: refused as stale
    with pytest.raises(ReviewConflict, match="you saw 1"), desk.desk.session() as s:
        review(s, "C1", label="verified", note="again", by="bob")
    assert human_verdicts(desk) == [("C1", "bob", "verified"), ("C1", "cy", "contested")]


def test_edit_after_assignment_is_a_conflict(desk, tmp_path):
    case = build(desk, tmp_path)
    with desk.desk.session() as s:
        got = next_claim(s, by="ana", minutes=30, source="SignalFire")
        assert got is not None and got.key == "C2"
    data = yaml.safe_load(case.read_text())
    data["claims"][1]["text"] = "Laut SignalFire liegt Amazon bei der Mitarbeiterbindung im Mittelfeld."
    case.write_text(yaml.safe_dump(data, allow_unicode=True))
    with desk.desk.session() as s:
        import_case(s, desk.settings, case, actor="editor")
    with pytest.raises(ReviewConflict, match="was edited by editor"), desk.desk.session() as s:
        review(s, "C2", label="contested", note="x", by="ana")
    assert human_verdicts(desk) == []


def test_someone_elses_assignment_is_respected(desk, tmp_path):
    build(desk, tmp_path)
    with desk.desk.session() as s:
        got = next_claim(s, by="ana", minutes=30)
        assert got is not None
        key = got.key
    with pytest.raises(ReviewConflict, match=r"assigned to ana .*--expect-revision 0"), desk.desk.session() as s:
        review(s, key, label="verified", note="x", by="bob")
    assert human_verdicts(desk) == []


def test_identity_note_and_quotes_are_checked(desk, tmp_path):
    build(desk, tmp_path)
    cases = [
        ({"by": None}, NoIdentity, "FACTCHECK_USER"),
        ({"note": "  "}, Exception, "needs a note"),
        ({"label": "true"}, Exception, "unknown verdict"),
        ({"quotes": [f"{BI}#10-5"]}, BadQuote, "outside the capture"),
        ({"quotes": [f"{BI}#0-999999"]}, BadQuote, "outside the capture"),
        ({"quotes": [BI]}, BadQuote, "URL#start-end"),
        ({"quotes": ["https://nowhere.example/x#0-5"]}, BadQuote, "no capture of https://nowhere.example/x"),
    ]
    for change, exc, message in cases:
        kwargs = {"label": "verified", "note": "n", "by": "ana", "quotes": []} | change
        with pytest.raises(exc, match=message), desk.desk.session() as s:
            review(s, "C1", **kwargs)  # type: ignore[arg-type]
    assert human_verdicts(desk) == []


def test_review_cli(cli, tmp_path):
    db = f"sqlite:///{tmp_path / 'desk.db'}"
    shutil.copytree(CASE_DIR, tmp_path / "case")
    assert cli("--db", db, "init").code == 0
    assert cli("--db", db, "claims", "import", "case/case.yaml").code == 0
    assert cli("--db", db, "verify").code == 0
    nxt = cli("--db", db, "triage", "next", "--by", "ana")
    assert nxt.code == 0 and "revision 0" in nxt.stdout
    key = nxt.stdout.split()[0]
    r = cli("--db", db, "review", key, "--verdict", "verified", "--note", "ok", "--quote", f"{BI}#0-30",
            env={"FACTCHECK_USER": ""})
    assert r.code == 1 and "Error: who is reviewing" in r.stderr and "Traceback" not in r.stderr
    ok = cli("--db", db, "review", key, "--verdict", "verified", "--note", "bob checked", "--expect-revision", "0",
             env={"FACTCHECK_USER": "bob"})
    assert ok.code == 0, ok.stderr
    late = cli("--db", db, "review", key, "--verdict", "contested", "--note", "ana", "--by", "ana")
    assert late.code == 1 and f"Error: claim {key} was reviewed by bob" in late.stderr
    assert late.stderr.count("\n") == 1
    show = cli("--db", db, "claims", "show", key, "--json")
    import json

    d = json.loads(show.stdout)
    assert d["verdict"] == "verified" and d["decided_by"] == "reviewer bob"
    assert [h["kind"] for h in d["history"]] == ["machine", "human"]


def test_postgres_simultaneous_reviews_one_wins(pg_desk, tmp_path):
    """Two reviews of the same revision at the same moment: the second waits for the first, then is refused."""
    build(pg_desk, tmp_path)
    outcome: dict[str, object] = {}

    def second() -> None:
        try:
            with pg_desk.desk.session() as s:
                review(s, "C1", label="contested", note="bob", by="bob", expect_revision=0)
            outcome["bob"] = "saved"
        except ReviewConflict as exc:
            outcome["bob"] = str(exc)

    with pg_desk.desk.session() as s:
        review(s, "C1", label="verified", note="ana", by="ana", expect_revision=0)
        t = threading.Thread(target=second)
        t.start()
        with pg_desk.desk.engine.connect() as probe:  # wait until bob is blocked on ana's row lock
            for _ in range(600):
                # only backends of this test's database (a row-lock wait has no database of its own)
                if probe.execute(text(
                        "SELECT count(*) FROM pg_locks WHERE NOT granted AND pid IN "
                        "(SELECT pid FROM pg_stat_activity WHERE datname = current_database())")).scalar():
                    break
                threading.Event().wait(0.05)
            else:
                pytest.fail("the second review never waited for the first")
    t.join(timeout=60)
    assert "was reviewed by ana" in str(outcome["bob"])
    assert human_verdicts(pg_desk) == [("C1", "ana", "verified")]


def test_quote_by_number_as_claims_show_lists_them(cli, tmp_path):
    db = f"sqlite:///{tmp_path / 'desk.db'}"
    shutil.copytree(CASE_DIR, tmp_path / "case")
    for args in (("init",), ("claims", "import", "case/case.yaml"), ("verify",)):
        assert cli("--db", db, *args).code == 0
    import json

    listed = json.loads(cli("--db", db, "claims", "list", "--json").stdout)
    quoted = next(c for c in listed if c["evidence"])
    key, first = quoted["id"], quoted["evidence"][0]
    show = cli("--db", db, "claims", "show", key)
    assert f"[1] “{first['quote']}”" in show.stdout
    bad = cli("--db", db, "review", key, "--verdict", "verified", "--note", "n", "--by", "ana",
              "--quote", str(len(quoted["evidence"]) + 1))
    assert bad.code == 1 and f"lists quotes 1 to {len(quoted['evidence'])}" in bad.stderr
    ok = cli("--db", db, "review", key, "--verdict", "verified", "--note", "seen", "--by", "ana", "--quote", "1",
             "--json")
    assert ok.code == 0, ok.stderr
    pinned = json.loads(ok.stdout)["evidence"][0]
    # the same passage of the same snapshot the machine quoted, not re-resolved against a newer capture
    assert {k: pinned[k] for k in ("url", "snapshot_sha256", "start", "end", "quote")} == \
        {k: first[k] for k in ("url", "snapshot_sha256", "start", "end", "quote")}
