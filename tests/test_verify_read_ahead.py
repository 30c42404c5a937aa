"""Verify reads the next batch (claims, glosses, retrieval) in a second thread while it judges the one read:
the same verdicts as reading in turn, batches in order, a read's error where its batch would have been, no
read left running when the run stops early, and an in-memory desk (one shared connection) read in turn."""

from __future__ import annotations

import threading
import time

import pytest

from factcheck.desk import verify as verify_mod
from factcheck.desk.db import Desk
from factcheck.desk.verify import READ_AHEAD_BATCHES, _read_ahead, verify
from factcheck.settings import load_settings
from tests.bench_modules import load_benchmark
from tests.test_verify_batch import _verdicts


def test_batches_come_in_order_and_the_next_are_read_meanwhile():
    started = {k: threading.Event() for k in range(8)}

    def read(batch):
        started[batch[0]].set()
        return batch[0]

    got = []
    for k in _read_ahead(read, [[k] for k in range(8)], ahead=True):
        # the next READ_AHEAD_BATCHES batches are read while this one is worked on
        for later in range(k + 1, min(k + 1 + READ_AHEAD_BATCHES, 8)):
            assert started[later].wait(5), f"batch {later} was not read ahead of {k}"
        got.append(k)
    assert got == list(range(8))


def test_no_more_batches_are_read_ahead_than_asked():
    reads: list[int] = []
    for k in _read_ahead(lambda batch: reads.append(batch[0]) or batch[0], [[k] for k in range(9)], ahead=True,
                         depth=2):
        time.sleep(0.05)  # time enough for the reading thread to run further ahead, if it would
        assert max(reads) <= k + 2


def test_in_turn_reads_nothing_ahead():
    reads: list[int] = []

    def read(batch):
        reads.append(batch[0])
        return batch[0]

    for k in _read_ahead(read, [[0], [1], [2]], ahead=False):
        assert reads == list(range(k + 1))


def test_a_read_error_comes_out_where_its_batch_would_have():
    def read(batch):
        if batch[0] == 2:
            raise RuntimeError("database went away")
        return batch[0]

    got = []
    with pytest.raises(RuntimeError, match="went away"):
        for k in _read_ahead(read, [[0], [1], [2], [3]], ahead=True):
            got.append(k)
    assert got == [0, 1]


def test_no_read_is_left_running_when_the_caller_stops():
    started, finished = threading.Event(), threading.Event()

    def read(batch):
        if batch[0] == 1:
            started.set()
            time.sleep(0.3)
            finished.set()
        return batch[0]

    gen = _read_ahead(read, [[0], [1], [2]], ahead=True)
    assert next(gen) == 0
    assert started.wait(5)  # batch 1's read is under way
    gen.close()  # the caller failed while judging batch 0
    assert finished.is_set()  # the read was waited for, not left to touch the desk after the run stopped
    assert not any(t.name.startswith("verify-read") for t in threading.enumerate())


def test_a_read_not_yet_started_is_not_made_when_the_caller_stops():
    reads: list[int] = []
    under_way = threading.Event()
    gate = threading.Event()

    def read(batch):
        reads.append(batch[0])
        if batch[0] == 1:
            under_way.set()
            gate.wait(5)
        return batch[0]

    gen = _read_ahead(read, [[k] for k in range(6)], ahead=True)
    assert next(gen) == 0
    assert under_way.wait(5)  # batch 1 is being read, 2 and 3 wait their turn
    threading.Timer(0.2, gate.set).start()
    gen.close()  # the caller failed while judging batch 0: the read under way is waited for
    assert reads == [0, 1]  # and nothing queued after it is read once the caller has stopped


def _reading_threads(monkeypatch) -> set[str]:
    """The names of the threads verify reads its batches in, filled as it reads."""
    threads: set[str] = set()
    real = verify_mod._read_batch

    def spying(*args, **kwargs):
        threads.add(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(verify_mod, "_read_batch", spying)
    return threads


def test_reading_ahead_gives_the_verdicts_of_reading_in_turn(verify_seeded, monkeypatch):
    desk, settings = verify_seeded  # the verify batch tests' desk: every kind of claim, German ones among them
    threads = _reading_threads(monkeypatch)
    ahead = verify(desk, settings, actor="t", batch_size=7)
    assert any(name.startswith("verify-read") for name in threads)  # it did read in the second thread
    monkeypatch.setattr(Desk, "one_connection", property(lambda self: True))
    threads.clear()
    in_turn = verify(desk, settings, actor="t", batch_size=7)
    assert threads == {threading.main_thread().name}
    a, b = _verdicts(desk, ahead.run_id), _verdicts(desk, in_turn.run_id)
    assert len(a) == 120 and a == b
    assert ahead.counts == in_turn.counts


def test_an_in_memory_desk_is_read_in_turn():
    desk = Desk("sqlite:///:memory:", check=False)
    assert desk.one_connection
    desk.dispose()


def test_german_claims_are_warmed_in_a_thread_of_their_own(verify_seeded, monkeypatch):
    """The sentence encoder's share of a batch runs in the verify-encode thread (not in the reading thread,
    which is busy reading the next batch), and not at all when reading in turn."""
    desk, settings = verify_seeded
    threads: list[str] = []
    real = verify_mod.warm

    def spying(items, **kwargs):
        threads.append(threading.current_thread().name)
        return real(items, **kwargs)

    monkeypatch.setattr(verify_mod, "warm", spying)
    verify(desk, settings, actor="t", batch_size=7)
    assert threads and all(name.startswith("verify-encode") for name in threads)
    assert len(threads) == -(-120 // 7)  # once per batch
    threads.clear()
    monkeypatch.setattr(Desk, "one_connection", property(lambda self: True))
    verify(desk, settings, actor="t", batch_size=7)
    assert threads == []


def test_warming_leaves_out_the_claims_judging_has_reached(monkeypatch):
    from factcheck.judge import semantic, verdict
    from factcheck.judge.match import Candidate
    from factcheck.judge.verdict import ToJudge

    if not semantic.available():
        pytest.skip("sentence encoder not installed")
    asked: list[list[str]] = []
    real = semantic.embed
    monkeypatch.setattr(semantic, "embed", lambda texts: asked.append(list(texts)) or real(texts))
    cand = Candidate(passage_id=1, text="Oracle hired 600 people.", start=0, end=24, snapshot_sha256="0" * 64,
                     url="https://x.example/")
    claims = [ToJudge(f"Laut Bloomberg hat Oracle {n} Mitarbeiter eingestellt.", None, [], [cand])
              for n in (100, 200, 300, 400)]
    verdict.warm(claims, skip=lambda i: i in (0, 2))
    embedded = {t for texts in asked for t in texts}
    assert {claims[1].claim_text, claims[3].claim_text} <= embedded
    assert not {claims[0].claim_text, claims[2].claim_text} & embedded
    # the passages of both claims warmed asked for in one call (then their windows, in another)
    assert claims[1].claim_text in asked[0] and claims[3].claim_text in asked[0]


def test_the_setting_turns_reading_ahead_off(tmp_path, monkeypatch):
    """verify_read_ahead = false (here from the environment, as a busy one-core machine would set it): every
    batch is read in the thread that judges."""
    url = f"sqlite:///{tmp_path / 'desk.db'}"
    load_benchmark("verify_bench").build(url, 1000, 30)
    threads = _reading_threads(monkeypatch)
    desk = Desk(url, check=False)
    for environ, ahead in (({"FACTCHECK_VERIFY_READ_AHEAD": "false"}, False), ({}, True)):
        threads.clear()
        settings = load_settings({"db": url, "evidence_dir": str(tmp_path / "evidence"), "nli": "off"},
                                 environ=environ, desk_dir=tmp_path)
        assert settings.verify_read_ahead is ahead
        verify(desk, settings, actor="t", batch_size=5)
        assert any(n.startswith("verify-read") for n in threads) is ahead, (environ, threads)
    desk.dispose()
