"""One rule for a claim's current verdict (`claims.pick_current`), and every reader of the desk follows it.

The rule: a reviewer's verdict stands over every machine verdict, also over machine runs made after the
review; among verdicts of one kind the newest wins. The listing (`claims.current_verdict`), the triage
queue (`triage.current_verdicts`) and the report model (`build_report`) must all give the same answer,
and must all change together when the rule changes: none of them may keep its own copy.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from types import SimpleNamespace

import pytest

from factcheck.desk import claims, triage
from factcheck.desk.models import Case, Claim, Run, Verdict, utcnow
from factcheck.report import build_report

# claim key -> its verdicts, oldest first: (kind, who). Machine verdicts carry a run, human ones a reviewer.
HISTORIES: dict[str, list[tuple[str, str]]] = {
    "REVIEWED_THEN_RERUN": [("machine", "run1"), ("human", "ana"), ("machine", "run2")],
    "TWO_REVIEWERS": [("human", "ana"), ("machine", "run1"), ("human", "bob"), ("machine", "run2")],
    "MACHINE_ONLY": [("machine", "run1"), ("machine", "run2")],
    "NONE": [],
    # "killed" is a run whose process died before it finished: its verdicts never count
    "RUN_KILLED": [("machine", "run1"), ("machine", "killed")],
    "ONLY_KILLED": [("machine", "killed")],
    "REVIEWED_THEN_KILLED": [("human", "ana"), ("machine", "killed")],
}
# which verdict (index into the history) is current under the desk's rule
EXPECTED = {"REVIEWED_THEN_RERUN": 1, "TWO_REVIEWERS": 2, "MACHINE_ONLY": 1, "NONE": None, "RUN_KILLED": 0,
            "ONLY_KILLED": None, "REVIEWED_THEN_KILLED": 0}
# ... and under a rule turned upside down (machine over human), to prove every reader asks the one rule
EXPECTED_MACHINE_FIRST = {"REVIEWED_THEN_RERUN": 2, "TWO_REVIEWERS": 3, "MACHINE_ONLY": 1, "NONE": None,
                          "RUN_KILLED": 0, "ONLY_KILLED": None, "REVIEWED_THEN_KILLED": 0}


FINISHED = {1}  # run 1 finished; run 2 did not (still going, or its process was killed)


def v(vid: int, kind: str, run: int | None = None) -> SimpleNamespace:
    return SimpleNamespace(id=vid, kind=kind, run_id=run if run is not None else (1 if kind == "machine" else None))


def pick(history) -> SimpleNamespace | None:
    return claims.pick_current(history, finished_runs=FINISHED)


# ------------------------------------------------------------------ the rule itself


def test_reviewer_stands_over_machine_runs_before_and_after_the_review():
    history = [v(1, "machine"), v(2, "human"), v(3, "machine")]
    assert pick(history) is history[1]


def test_newest_reviewer_wins_over_an_older_reviewer():
    history = [v(1, "human"), v(2, "machine"), v(5, "human"), v(7, "machine")]
    assert pick(history) is history[2]


def test_without_a_reviewer_the_newest_machine_verdict_wins():
    history = [v(1, "machine"), v(4, "machine")]
    assert pick(history) is history[1]


def test_order_of_the_input_does_not_matter_and_unknown_kinds_never_count():
    history = [v(9, "human"), v(3, "human"), v(12, "machine"), v(20, "imported")]
    assert pick(history) is history[0]
    assert pick(reversed(history)) is history[0]
    assert pick([v(1, "imported")]) is None
    assert pick([]) is None


def test_machine_verdicts_of_a_run_that_did_not_finish_never_count():
    history = [v(1, "machine", 1), v(4, "machine", 2)]
    assert pick(history) is history[0]  # the newer verdict's run was interrupted: the finished run's stands
    assert pick([v(4, "machine", 2)]) is None
    assert pick([v(4, "machine", 2), v(3, "human")]).kind == "human"
    assert pick([SimpleNamespace(id=5, kind="machine", run_id=None)]) is None


# ------------------------------------------------------------------ every reader of the desk follows it


def _seed(env) -> dict[str, list[int]]:
    """The HISTORIES on a desk; returns claim key -> verdict ids in the order of its history."""
    ids: dict[str, list[int]] = {}
    with env.desk.session() as s:
        case = Case(key="rule", title="Current verdict rule")
        s.add(case)
        runs = {name: Run(version="test", actor="t", finished_at=utcnow()) for name in ("run1", "run2")}
        runs["killed"] = Run(version="test", actor="t", host="elsewhere", pid=1,
                             heartbeat_at=utcnow() - timedelta(hours=2))
        s.add_all(runs.values())
        s.flush()
        for key, history in HISTORIES.items():
            claim = Claim(case_id=case.id, key=key, text=f"Claim {key}.")
            s.add(claim)
            s.flush()
            ids[key] = []
            for kind, who in history:
                row = Verdict(
                    claim_id=claim.id, kind=kind, label="verified" if kind == "human" else "unverified",
                    run_id=runs[who].id if kind == "machine" else None,
                    reviewer=who if kind == "human" else None,
                    rationale=f"{kind} {who}", note=f"by {who}" if kind == "human" else None, quotes=[],
                )
                s.add(row)
                s.flush()  # ids in insertion order, as the desk appends them
                ids[key].append(row.id)
    return ids


def via_claims(env) -> dict[str, int | None]:
    with env.desk.session() as s:
        out = {}
        for c in claims.list_claims(s, case="rule"):
            cur = claims.current_verdict(s, c.id)
            out[c.key] = cur.id if cur is not None else None
        return out


def via_triage(env) -> dict[str, int | None]:
    with env.desk.session() as s:
        keys = {c.id: c.key for c in claims.list_claims(s, case="rule")}
        current = triage.current_verdicts(s, list(keys))
        return {key: (current[cid].id if cid in current else None) for cid, key in keys.items()}


def via_report(env) -> dict[str, int | None]:
    with env.desk.session() as s:
        rep = build_report(s, env.settings, case="rule")
        return {c.key: (c.verdict.id if c.verdict is not None else None) for c in rep.claims}


READERS: dict[str, Callable] = {"claims": via_claims, "triage": via_triage, "report": via_report}


def _expected(ids: dict[str, list[int]], which: dict[str, int | None]) -> dict[str, int | None]:
    return {key: (ids[key][i] if i is not None else None) for key, i in which.items()}


@pytest.mark.parametrize("reader", READERS)
def test_every_reader_gives_the_current_verdict_by_the_rule(desk, reader):
    ids = _seed(desk)
    assert READERS[reader](desk) == _expected(ids, EXPECTED)


@pytest.mark.parametrize("reader", READERS)
def test_every_reader_asks_the_one_rule(memory_desk, reader, monkeypatch):
    """Turn the precedence upside down: a reader with its own copy of the rule would not follow."""
    ids = _seed(memory_desk)
    monkeypatch.setattr(claims, "VERDICT_PRECEDENCE", {"machine": 1, "human": 0})
    assert READERS[reader](memory_desk) == _expected(ids, EXPECTED_MACHINE_FIRST)


def test_report_says_who_decided_and_that_the_later_machine_run_did_not_replace_the_review(memory_desk):
    ids = _seed(memory_desk)
    with memory_desk.desk.session() as s:
        rep = build_report(s, memory_desk.settings, case="rule")
        run2 = s.get(Verdict, ids["REVIEWED_THEN_RERUN"][2]).run_id
        by_run = build_report(s, memory_desk.settings, case="rule", run=run2)
    c = next(c for c in rep.claims if c.key == "REVIEWED_THEN_RERUN")
    assert c.verdict is not None and c.verdict.decided_by == "reviewer ana" and not c.superseded
    # the run's own report shows the run's verdict, marked as no longer the claim's current one
    c = next(c for c in by_run.claims if c.key == "REVIEWED_THEN_RERUN")
    assert c.verdict is not None and c.verdict.id == ids["REVIEWED_THEN_RERUN"][2] and c.superseded
    assert rep.summary["decided_by_reviewer"] == 3 and rep.summary["decided_by_machine"] == 2


def test_a_run_starts_from_the_ids_list_claims_gives(memory_desk):
    """verify and verify --queue start from case_claim_ids: the same claims as list_claims, in its order."""
    _seed(memory_desk)
    with memory_desk.desk.session() as s:
        other = Case(key="other", title="Another case")
        s.add(other)
        s.flush()
        s.add(Claim(case_id=other.id, key="ELSEWHERE", text="Another claim."))
    with memory_desk.desk.session() as s:
        for case in (None, "rule", "other"):
            want = [c.id for c in claims.list_claims(s, case=case)]
            assert want and claims.case_claim_ids(s, case=case) == want
        assert len(claims.case_claim_ids(s)) > len(claims.case_claim_ids(s, case="rule"))
        with pytest.raises(claims.UnknownClaim, match="no case 'nope'"):
            claims.case_claim_ids(s, case="nope")
