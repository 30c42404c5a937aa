"""While claims are judged, Python's cycle collector runs less often (a young collection every
YOUNG_COLLECTION_EVERY new objects), and the process's own thresholds are back once the run ends: after a
run, after a run that failed, and after the last of several runs judging at once in threads."""

from __future__ import annotations

import gc
import threading

import pytest

from factcheck.desk import verify as verify_mod
from factcheck.desk.verify import YOUNG_COLLECTION_EVERY, fewer_collections, verify


@pytest.fixture
def thresholds():
    """The process's thresholds, set to something of the test's own and put back afterwards."""
    saved = gc.get_threshold()
    gc.set_threshold(700, 9, 11)
    yield (700, 9, 11)
    gc.set_threshold(*saved)


def _judging_thresholds(monkeypatch) -> list[tuple[int, ...]]:
    seen: list[tuple[int, ...]] = []
    real = verify_mod.judge_many

    def spying(*args, **kwargs):
        seen.append(gc.get_threshold())
        return real(*args, **kwargs)

    monkeypatch.setattr(verify_mod, "judge_many", spying)
    return seen


def test_a_run_judges_with_fewer_collections_and_puts_the_thresholds_back(verify_seeded, monkeypatch, thresholds):
    desk, settings = verify_seeded
    seen = _judging_thresholds(monkeypatch)
    result = verify(desk, settings, actor="t", batch_size=40)
    assert sum(result.counts.values()) == 120
    assert seen and all(t == (YOUNG_COLLECTION_EVERY, 9, 11) for t in seen)  # only the young threshold moves
    assert gc.get_threshold() == thresholds


def test_the_finish_that_makes_a_runs_verdicts_current_runs_with_fewer_collections_too(
        verify_seeded, monkeypatch, thresholds):
    """The finish recomputes the queue of every claim judged; with the thresholds put back before it, the
    full collection the run had put off came due there (half of the finish's time on the verify bench)."""
    from factcheck.desk import audit, queue

    desk, settings = verify_seeded
    at_finish: dict[str, tuple[int, ...]] = {}
    real_record, real_refresh = audit.record, queue.refresh

    def recording(session, **kwargs):
        if kwargs.get("action") == "verify.run":
            at_finish["record"] = gc.get_threshold()
        return real_record(session, **kwargs)

    def refreshing(session, claim_ids):
        ids = None if claim_ids is None else list(claim_ids)
        if ids is not None and len(ids) == 120:  # the finish: every claim of the run
            at_finish["queue"] = gc.get_threshold()
        return real_refresh(session, ids)

    monkeypatch.setattr(audit, "record", recording)
    monkeypatch.setattr(queue, "refresh", refreshing)
    result = verify(desk, settings, actor="t", batch_size=40)
    assert sum(result.counts.values()) == 120
    assert at_finish == {"record": (YOUNG_COLLECTION_EVERY, 9, 11), "queue": (YOUNG_COLLECTION_EVERY, 9, 11)}
    assert gc.get_threshold() == thresholds


def test_a_failed_run_puts_the_thresholds_back(verify_seeded, monkeypatch, thresholds):
    desk, settings = verify_seeded

    def failing(*args, **kwargs):
        assert gc.get_threshold()[0] == YOUNG_COLLECTION_EVERY
        raise RuntimeError("judging failed")

    monkeypatch.setattr(verify_mod, "judge_many", failing)
    with pytest.raises(RuntimeError, match="judging failed"):
        verify(desk, settings, actor="t")
    assert gc.get_threshold() == thresholds


def test_a_higher_threshold_of_the_process_is_kept(thresholds):
    gc.set_threshold(50_000, 9, 11)
    with fewer_collections():
        assert gc.get_threshold() == (50_000, 9, 11)
    assert gc.get_threshold() == (50_000, 9, 11)


def test_runs_in_threads_share_the_setting_until_the_last_one_ends(thresholds):
    first_in, second_in, first_out, second_done = (threading.Event() for _ in range(4))
    during: dict[str, tuple[int, ...]] = {}

    def first() -> None:
        with fewer_collections():
            first_in.set()
            second_in.wait(5)
        first_out.set()

    def second() -> None:
        first_in.wait(5)
        with fewer_collections():
            second_in.set()
            first_out.wait(5)
            during["after the first ended"] = gc.get_threshold()
        second_done.set()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert second_done.is_set()
    assert during["after the first ended"] == (YOUNG_COLLECTION_EVERY, 9, 11)
    assert gc.get_threshold() == thresholds
