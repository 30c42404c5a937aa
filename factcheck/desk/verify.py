"""A verification run: retrieve candidates, judge each claim, store append-only machine verdicts.

Claims are committed in batches, so a crash part-way loses nothing already judged; the run row
records the tool version, the settings used and the counts. Its verdicts count as claims' current ones
only once the run is marked finished: a run whose process died is shown as interrupted (`desk.runs`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import itertools
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from factcheck import __version__
from factcheck.desk import audit, runs
from factcheck.desk.claims import case_claim_ids, find_claim
from factcheck.desk.db import Desk
from factcheck.desk.models import Citation, Claim, ClaimEvidence, EvidenceUrl, Run, Verdict, utcnow
from factcheck.desk.retrieve import RetrievalLimits, candidates_for_claims
from factcheck.judge import reader as entail
from factcheck.judge.verdict import ToJudge, judge_many, prepare, warm
from factcheck.settings import Settings
from factcheck.text import gloss
from factcheck.text.language import de_or_en


@dataclass
class RunResult:
    run_id: int
    claim_ids: list[int] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


def _attribution(claim: Claim) -> str | None:
    phrases = [ci.phrase for ci in claim.citations if ci.phrase]
    return phrases[0] if phrases else None


@dataclass(frozen=True)
class RunPlan:
    """How a run judges, decided once per run (inline, or a run made of worker jobs): the verdict settings
    with the reader turned on or off, and the word list the German gloss reads (None: no gloss)."""

    judge_settings: dict[str, Any]
    reader: str | None
    gloss_dictionary: str | None
    read_ahead: bool = True  # the next batch read in a second thread (setting verify_read_ahead)

    def stored(self, **about: Any) -> dict[str, Any]:
        """What the run row records: every verdict setting, what the run covers, the reader and the gloss."""
        use_nli = bool(self.judge_settings["nli"])
        return jsonable(self.judge_settings) | about | {
            "reader": entail.model_id(self.reader) if use_nli else None, "gloss": self.gloss_dictionary is not None}


def run_plan(settings: Settings) -> RunPlan:
    """The run's plan; "on" without a reader fails here, before anything is written."""
    judge_settings = settings.verdict_settings()
    reader = settings.nli_model or None
    judge_settings["nli"] = entail.enabled(settings.nli, reader)
    use_gloss = bool(settings.gloss) and gloss.available(settings.gloss_dictionary)
    return RunPlan(judge_settings, reader, settings.gloss_dictionary if use_gloss else None,
                   read_ahead=bool(settings.verify_read_ahead))


def verify(
    desk: Desk,
    settings: Settings,
    *,
    actor: str,
    claim_refs: Sequence[str] = (),
    claim_ids: Sequence[int] = (),
    case: str | None = None,
    batch_size: int = 50,
    limits: RetrievalLimits | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RunResult:
    plan = run_plan(settings)
    with desk.session() as s:
        if claim_refs or claim_ids:  # ids: callers that hold the rows already (check, evidence add)
            ids = list(dict.fromkeys([*claim_ids, *(find_claim(s, ref).id for ref in claim_refs)]))
        else:
            ids = case_claim_ids(s, case=case)
        now = utcnow()
        run = Run(version=__version__, actor=actor, started_at=now, heartbeat_at=now, host=runs.this_host(),
                  pid=os.getpid(), settings=plan.stored(claims=len(ids), case=case))
        s.add(run)
        s.flush()
        run_id = run.id
    result = RunResult(run_id=run_id, claim_ids=ids,
                       counts={"verified": 0, "unverified": 0, "contested": 0})
    with fewer_collections():  # the finish too: see fewer_collections
        try:
            _judge_all(desk, ids, run_id, result, actor=actor, judge_settings=plan.judge_settings,
                       batch_size=batch_size, limits=limits, progress=progress,
                       gloss_dictionary=plan.gloss_dictionary, read_ahead=plan.read_ahead)
        except BaseException:
            # an error or Ctrl-C: say so on the run row (a killed process cannot; `runs.run_state` sees it then)
            with contextlib.suppress(Exception), desk.session() as s:
                s.execute(update(Run).where(Run.id == run_id).values(interrupted_at=utcnow(),
                                                                       counts=dict(result.counts)))
            raise
        with desk.session() as s:
            finished = s.get(Run, run_id)
            assert finished is not None
            finished.finished_at = utcnow()
            finished.counts = dict(result.counts)
            audit.record(s, actor=actor, action="verify.run", entity="run", entity_id=run_id,
                         after={"counts": result.counts, "version": __version__})
    return result


# the cycle collector's young-generation threshold while claims are judged (Python's default: 700)
YOUNG_COLLECTION_EVERY = 10_000


@dataclass
class _Judging:
    """The runs judging in this process now, and the collector's thresholds to put back after the last."""

    runs: int = 0
    saved: tuple[int, ...] = ()
    lock: threading.Lock = field(default_factory=threading.Lock)


_judging = _Judging()


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """Python's cycle collector runs less often while claims are judged: every 10,000 new container
    objects instead of every 700. A run makes millions of small objects (rows, features, anchors) that
    live until their batch is stored or stay in the text memos, and the collector, which holds Python's
    lock and stops every thread while it scans, ran about 1,200 times in a 2,000-claim run, 8 of them full
    scans of everything the memos keep: 1.3 s of a 13 s run. Nothing a run makes waits for the collector
    to be freed (reference counting frees it), so memory is unchanged but for cycles, which are still
    collected, later. Runs in several threads share one setting, put back when the last one ends.

    A run's finish is inside too: it makes the run's verdicts current, which recomputes the queue columns of
    every claim judged, and with the thresholds put back before it, the full collection the run had put off
    came due there (0.24 s of a 0.47 s finish on the verify bench, 2,000 claims, the memos holding ~260,000
    objects)."""
    with _judging.lock:
        if not _judging.runs:
            _judging.saved = gc.get_threshold()
            gc.set_threshold(max(_judging.saved[0], YOUNG_COLLECTION_EVERY), *_judging.saved[1:])
        _judging.runs += 1
    try:
        yield
    finally:
        with _judging.lock:
            _judging.runs -= 1
            if not _judging.runs:
                gc.set_threshold(*_judging.saved)


def _judge_all(
    desk: Desk, ids: list[int], run_id: int, result: RunResult, *, actor: str, judge_settings: dict[str, Any],
    batch_size: int, limits: RetrievalLimits | None, progress: Callable[[int, int], None] | None,
    gloss_dictionary: str | None = None, read_ahead: bool = True,
) -> None:
    """Judge the claims batch by batch, each batch committed with a fresh heartbeat on the run row.

    The next batches are read (claims, glosses, retrieval) in a second thread while this one is judged: the
    database answers a search while Python judges, which it could not when each waited for the other (the
    reads write nothing and no verdict changes what the next batch reads). An in-memory desk has one
    connection for every session, so there the batches are read in turn; so they are with `read_ahead` off
    (setting verify_read_ahead: on one busy core the second thread only adds lock hand-offs).

    Reading ahead, a third thread encodes what each batch's German claims will ask of the sentence encoder
    (verdict.warm), from the moment the batch is read until judging reaches each claim: numpy leaves
    Python's lock while it multiplies, and the reading thread, busy with the next batch, had no time for it
    (the judging thread encoded 80 % of those texts itself)."""
    batches = [ids[i : i + batch_size] for i in range(0, len(ids), batch_size)]
    ahead = read_ahead and not desk.one_connection
    # where the judging is: (batch, claim), replaced whole by the judging thread, read by the encoding one
    judging = [(-1, -1)]
    stopping = threading.Event()

    def warm_batch(k: int, items: list[tuple[int, ToJudge]]) -> None:
        def skip(i: int) -> bool:
            return stopping.is_set() or judging[0] >= (k, i)

        warm([item for _cid, item in items], settings=judge_settings, skip=skip)

    with fewer_collections(), ThreadPoolExecutor(max_workers=1, thread_name_prefix="verify-encode") as encoder:

        def read(k: int) -> list[tuple[int, ToJudge]]:
            items = _read_batch(desk, batches[k], judge_settings=judge_settings, limits=limits,
                                gloss_dictionary=gloss_dictionary)
            if ahead:  # the batch's German claims' sentence encoding, in a thread of its own
                encoder.submit(warm_batch, k, items)
            return items

        def starting(k: int) -> Callable[[int], None]:
            def at(i: int) -> None:
                judging[0] = (k, i)
            return at

        done = 0
        try:
            for k, items in enumerate(_read_ahead(read, list(range(len(batches))), ahead=ahead)):
                judged = [(cid, j) for (cid, _item), j in zip(items, judge_many(
                    [item for _cid, item in items], settings=judge_settings, starting=starting(k)), strict=True)]
                for label, n in _store_verdicts(desk, run_id, judged, actor=actor).items():
                    result.counts[label] = result.counts.get(label, 0) + n
                done += len(items)
                if progress:
                    progress(done, len(ids))
        finally:
            stopping.set()  # what is left to warm is never judged now (its errors, if any, are judging's too)
            encoder.shutdown(cancel_futures=True)


# batches read ahead of the one being judged: enough that the reading thread is never idle while judging
# waits for the sentence encoder, which needs each batch read before it can start on it (see _judge_all)
READ_AHEAD_BATCHES = 3


def _read_ahead(read: Callable[[Any], Any], batches: Sequence[Any], *, ahead: bool,
                depth: int = READ_AHEAD_BATCHES) -> Iterator[Any]:
    """read(batch) for each batch in order; with `ahead`, the `depth` batches after the one yielded are read
    meanwhile, in turn, in a worker thread. A read's error comes out where its batch would have; when the
    caller stops early (an error, Ctrl-C), the read under way is waited for and those not started are
    never made, so nothing is left running on the desk."""
    if not ahead or len(batches) < 2:
        for batch in batches:
            yield read(batch)
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="verify-read") as pool:
        pending = deque(pool.submit(read, batch) for batch in batches[:depth])
        following = iter(batches[depth:])
        try:
            while pending:
                got = pending.popleft().result()
                for batch in itertools.islice(following, 1):
                    pending.append(pool.submit(read, batch))
                yield got
        finally:
            for future in pending:
                future.cancel()


def _read_batch(desk: Desk, ids: Sequence[int], *, judge_settings: dict[str, Any],
                limits: RetrievalLimits | None, gloss_dictionary: str | None) -> list[tuple[int, ToJudge]]:
    """What judging one batch of claims needs, read in one session that writes nothing: the claims with their
    citations in one query, the candidates of all of them together. Judging happens outside it, and before
    the transaction that stores the verdicts opens, since storing takes the audit chain's lock (one writer at
    a time on PostgreSQL)."""
    with desk.session() as s:
        claims = list(s.execute(
            select(Claim).where(Claim.id.in_(list(ids))).options(selectinload(Claim.citations)).order_by(Claim.id)
        ).scalars())
        # a German claim with no English wording is searched with its gloss too, and judged with it
        readings = {claim.id: _gloss(claim, gloss_dictionary) for claim in claims}
        prepare([(claim.text, claim.statement) for claim in claims], settings=judge_settings)
        # with tied_first, a claim's tied passages are all the verdict reads when it has any: not searched
        candidates = candidates_for_claims(s, claims, limits, readings=readings,
                                           tied_only=bool(judge_settings["tied_first"]))
        return [(claim.id, ToJudge(claim.text, claim.statement, [ci.name for ci in claim.citations],
                                   candidates[claim.id], _attribution(claim), readings[claim.id]))
                for claim in claims]


def _store_verdicts(desk: Desk, run_id: int, judged: list[tuple[int, Any]], *, actor: str) -> dict[str, int]:
    """Write one batch's verdicts (one multi-row insert), then their audit events in the claims' order, and
    a fresh heartbeat on the run row, in one transaction. Label counts of the batch."""
    counts: dict[str, int] = {}
    with desk.session() as s:
        rows = []
        for claim_id, j in judged:
            quotes = [dataclasses.asdict(q) for q in j.quotes]
            rows.append((claim_id, j, quotes, Verdict(
                claim_id=claim_id, run_id=run_id, kind="machine", label=j.label,
                confidence=round(float(j.confidence), 3), rationale=j.rationale, first_hand=j.first_hand,
                quotes=quotes, signals=jsonable(j.signals))))
        s.add_all([v for *_rest, v in rows])
        s.flush()  # the verdicts' ids are known from here on
        # their events in one INSERT, chained in the claims' order (as one `record` each would)
        audit.append_many(s, [audit.Entry(
            actor=actor, action="verdict.machine", entity="verdict", entity_id=v.id, claim_id=claim_id,
            after={"run": run_id, "label": j.label, "confidence": v.confidence,
                   "snapshots": sorted({q["snapshot_sha256"] for q in quotes})}) for claim_id, j, quotes, v in rows])
        for _claim_id, j, _quotes, _v in rows:
            counts[j.label] = counts.get(j.label, 0) + 1
        s.execute(update(Run).where(Run.id == run_id).values(heartbeat_at=utcnow()))
    return counts


def judge_into_run(desk: Desk, settings: Settings, run_id: int, claim_ids: Sequence[int], *, actor: str,
                   batch_size: int = 50) -> dict[str, int]:
    """Judge `claim_ids` into the existing run `run_id` without finishing it: a worker's share of a run made
    of jobs (`desk.jobs`), which finishes the run when its last batch is done. Label counts of this share."""
    plan = run_plan(settings)
    result = RunResult(run_id=run_id, claim_ids=list(claim_ids))
    _judge_all(desk, result.claim_ids, run_id, result, actor=actor, judge_settings=plan.judge_settings,
               batch_size=batch_size, limits=None, progress=None, gloss_dictionary=plan.gloss_dictionary,
               read_ahead=plan.read_ahead)
    return result.counts


def _gloss(claim: Claim, gloss_dictionary: str | None) -> str | None:
    """The word gloss of a German claim without English wording (None for any other claim)."""
    if gloss_dictionary and not (claim.statement or "").strip() and de_or_en(claim.text) == "de":
        return gloss.gloss(claim.text, gloss_dictionary)
    return None


def claims_for_evidence(session: Session, urls: Iterable[str]) -> list[int]:
    """Claims that new captures of `urls` can change: those the URLs are tied to as evidence, and those
    citing the source a URL belongs to (retrieval searches a cited source's pages too)."""
    urls = list(urls)
    if not urls:
        return []
    url_ids = select(EvidenceUrl.id).where(EvidenceUrl.url.in_(urls))
    tied = select(ClaimEvidence.claim_id).where(ClaimEvidence.evidence_url_id.in_(url_ids))
    sources = select(EvidenceUrl.source_id).where(EvidenceUrl.url.in_(urls), EvidenceUrl.source_id.is_not(None))
    citing = select(Citation.claim_id).where(Citation.source_id.in_(sources))
    ids = set(session.execute(tied).scalars()) | set(session.execute(citing).scalars())
    return sorted(ids)


def jsonable(value: Any) -> Any:
    """Settings and signals as stored JSON: keys as text, floats rounded, anything else as its text."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    if isinstance(value, str | int | bool) or value is None:
        return value
    if isinstance(value, float):
        return round(value, 4)
    return str(value)
