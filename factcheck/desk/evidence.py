"""The desk side of evidence: captures become immutable snapshots with passages.

Fetched pages and saved files take the same road (archive → extract → passages), so
offline and fetched evidence are alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from factcheck.desk.models import EvidenceUrl, Passage, Snapshot, utcnow
from factcheck.documents.archive import Archive, sha256_hex
from factcheck.errors import FactcheckError
from factcheck.judge.match import passage_features
from factcheck.settings import Settings
from factcheck.text.passages import Passage as TextPassage
from factcheck.text.passages import split_passages

if TYPE_CHECKING:
    from factcheck.documents.extract import Extracted


class EvidenceError(FactcheckError):
    pass


def latest_snapshot(session: Session, url: str) -> Snapshot | None:
    return session.execute(
        select(Snapshot).where(Snapshot.url == url).order_by(Snapshot.fetched_at.desc(), Snapshot.id.desc()).limit(1)
    ).scalar()


@dataclass(frozen=True)
class PreparedCapture:
    """The work on one capture that needs no database: extraction, the WARC record, passages.

    Made by `prepare_capture` (in any thread or process: it touches only the bytes and the archive
    folder), stored by `store_capture(..., prepared=...)` in the writer's transaction.
    """

    sha256: str
    extracted: Extracted
    warc_path: str
    passages: list[TextPassage]
    features: list[str] | None = None  # of each passage (judge.match.passage_features), made with them


def prepare_capture(
    archive_root: Path,
    *,
    url: str,
    body: bytes,
    origin: str,
    fetched_at: datetime,
    status: int | None = None,
    headers: dict[str, str] | None = None,
    final_url: str | None = None,
    content_type: str | None = None,
    filename: str | None = None,
) -> PreparedCapture:
    """Extract one capture, archive its bytes (content-addressed: the same bytes land in the same WARC
    file) and split its text into passages. Raises EvidenceError when the bytes do not extract, before
    anything is archived."""
    from factcheck.documents.extract import (  # heavy (trafilatura): load only when needed
        ExtractionError,
        extract_bytes,
    )

    try:
        extracted = extract_bytes(body, content_type=content_type, url=final_url or url, filename=filename)
    except ExtractionError as exc:
        raise EvidenceError(f"{filename or url}: {exc}") from None
    archive = Archive(archive_root)
    if origin == "file":
        stored = archive.store_file(url=url, body=body, content_type=extracted.content_type,
                                    saved_at=fetched_at)
    else:
        stored = archive.store(url=final_url or url, body=body, status=status or 200, headers=headers or {},
                               fetched_at=fetched_at)
    passages = split_passages(extracted.text)
    return PreparedCapture(stored.sha256, extracted, stored.path, passages,
                           [passage_features(p.text) for p in passages])


def store_capture(
    session: Session,
    settings: Settings,
    *,
    url: str,
    body: bytes,
    origin: str,
    evidence_url: EvidenceUrl | None = None,
    fetched_at: datetime | None = None,
    status: int | None = None,
    headers: dict[str, str] | None = None,
    final_url: str | None = None,
    redirects: list[Any] | None = None,
    content_type: str | None = None,
    filename: str | None = None,
    prepared: PreparedCapture | None = None,
) -> tuple[Snapshot, bool]:
    """Archive and extract one capture. Returns (snapshot, created); bytes equal to the latest capture are not stored again.

    `prepared` is the same capture's `prepare_capture` done beforehand (elsewhere, from these very
    arguments); without it the work is done here."""
    capture = Capture(url=url, body=body, origin=origin, evidence_url=evidence_url, fetched_at=fetched_at,
                      status=status, headers=headers, final_url=final_url, redirects=redirects,
                      content_type=content_type, filename=filename, prepared=prepared)
    (stored,) = store_captures(session, settings, [capture], latest={url: latest_snapshot(session, url)})
    if isinstance(stored, EvidenceError):
        raise stored
    return stored


@dataclass
class Capture:
    """One capture to store: `store_capture`'s arguments."""

    url: str
    body: bytes
    origin: str
    evidence_url: EvidenceUrl | None = None
    fetched_at: datetime | None = None
    status: int | None = None
    headers: dict[str, str] | None = None
    final_url: str | None = None
    redirects: list[Any] | None = None
    content_type: str | None = None
    filename: str | None = None
    prepared: PreparedCapture | None = None


def store_captures(session: Session, settings: Settings, captures: Sequence[Capture], *,
                   latest: dict[str, Snapshot | None] | None = None,
                   before_terms: Callable[[], None] | None = None) -> list[tuple[Snapshot, bool] | EvidenceError]:
    """`store_capture` of several captures, in order, in a few statements whatever their number: the URLs'
    latest snapshots (unless `latest` holds them: it is kept up to date), one insert of the new snapshots, one
    of all their passages and one count of their terms (`before_terms` is called before it, when there are
    new snapshots: the term rows are shared by every writer). Per capture: (snapshot, created), or the
    EvidenceError that extracting it raised (nothing stored for it; the others are)."""
    from factcheck.desk.retrieve import count_terms

    if latest is None:
        latest = dict(latest_snapshots(session, sorted({c.url for c in captures})))
    out: list[tuple[Snapshot, bool] | EvidenceError] = []
    new: list[tuple[Snapshot, list[TextPassage], list[str] | None]] = []
    for c in captures:
        sha = sha256_hex(c.body)
        last = latest.get(c.url)
        if last is not None and last.sha256 == sha:
            out.append((last, False))  # unchanged since the last capture (a page that changed back is a new one)
            continue
        fetched_at = c.fetched_at or utcnow()
        prepared = c.prepared
        if prepared is None or prepared.sha256 != sha:
            try:
                prepared = prepare_capture(settings.evidence_path, url=c.url, body=c.body, origin=c.origin,
                                           fetched_at=fetched_at, status=c.status, headers=c.headers,
                                           final_url=c.final_url, content_type=c.content_type, filename=c.filename)
            except EvidenceError as exc:
                out.append(exc)
                continue
        extracted = prepared.extracted
        eu = c.evidence_url
        snap = Snapshot(
            evidence_url_id=eu.id if eu else None, source_id=eu.source_id if eu else None,
            url=c.url, final_url=c.final_url or c.url, status=c.status, headers=dict(c.headers or {}),
            redirects=list(c.redirects or []), fetched_at=fetched_at, origin=c.origin, sha256=sha,
            warc_path=prepared.warc_path, content_type=extracted.content_type,
            encoding=extracted.encoding, title=extracted.title, author=extracted.author,
            published=extracted.published, language=extracted.language, text=extracted.text,
            meta={k: v for k, v in (extracted.metadata or {}).items() if isinstance(v, str | int | float | bool)},
        )
        session.add(snap)
        if last is None or fetched_at >= last.fetched_at:  # as latest_snapshot orders: newest, then highest id
            latest[c.url] = snap
        new.append((snap, prepared.passages, prepared.features))
        out.append((snap, True))
    if new:
        session.flush()  # the new snapshots' ids, in one insert
        insert_passages(session, [(snap.id, passages, features) for snap, passages, features in new])
        if before_terms is not None:
            before_terms()
        count_terms(session, (p.text for _, passages, _f in new for p in passages))
    return out


def latest_snapshot_ids(session: Session, urls: Sequence[str]) -> dict[str, int]:
    """Each URL's latest snapshot id (newest fetched_at, then highest id: as `latest_snapshot` orders)."""
    best: dict[str, tuple[Any, int]] = {}
    urls = list(urls)
    for i in range(0, len(urls), 500):
        q = select(Snapshot.url, Snapshot.fetched_at, Snapshot.id).where(Snapshot.url.in_(urls[i : i + 500]))
        for url, at, sid in session.execute(q):
            if url not in best or (at, sid) > best[url]:
                best[url] = (at, sid)
    return {url: sid for url, (_, sid) in best.items()}


def latest_snapshots(session: Session, urls: Sequence[str]) -> dict[str, Snapshot]:
    """`latest_snapshot` of many URLs in a few queries (not one per URL); URLs with none are left out."""
    by_id = list(latest_snapshot_ids(session, urls).values())
    out: dict[str, Snapshot] = {}
    for i in range(0, len(by_id), 500):
        for snap in session.execute(select(Snapshot).where(Snapshot.id.in_(by_id[i : i + 500]))).scalars():
            out[snap.url] = snap
    return out


_PG_PASSAGES = text(
    'INSERT INTO passage (snapshot_id, seq, start, "end", text, features) '
    "SELECT u.sid, u.seq, u.start, u.stop, u.text, u.features FROM unnest(CAST(:sid AS int[]), "
    "CAST(:seq AS int[]), CAST(:start AS int[]), CAST(:stop AS int[]), CAST(:text AS text[]), "
    "CAST(:features AS text[])) AS u(sid, seq, start, stop, text, features)")


def insert_passages(session: Session,
                    captures: Sequence[tuple[int, Sequence[TextPassage], Sequence[str] | None]]) -> None:
    """The passages of (snapshot id, passages, their features) triples, with the features judging reads of
    each (judge.match.passage_features: worked out once, where the page was prepared, or here when None;
    not by every claim that meets the passage), in one statement on PostgreSQL (the rows as arrays:
    psycopg's executemany sends a statement per row, about 7 ms for a page of 100 passages, and captures are
    stored under the desk-wide audit lock); one executemany elsewhere (SQLite runs it in-process). Never an
    ORM object per passage."""
    rows = [(sid, i, p, f) for sid, passages, features in captures
            for i, (p, f) in enumerate(zip(passages, features if features is not None
                                           else [passage_features(p.text) for p in passages], strict=True))]
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_PG_PASSAGES, {"sid": [r[0] for r in rows], "seq": [r[1] for r in rows],
                                       "start": [r[2].start for r in rows], "stop": [r[2].end for r in rows],
                                       "text": [r[2].text for r in rows], "features": [r[3] for r in rows]})
        return
    session.execute(insert(Passage), [{"snapshot_id": sid, "seq": i, "start": p.start, "end": p.end, "text": p.text,
                                       "features": f} for sid, i, p, f in rows])


def read_file_capped(path: Path, max_bytes: int) -> bytes:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise EvidenceError(f"{path}: cannot read: {exc.strerror}") from None
    if size > max_bytes:
        raise EvidenceError(f"{path}: file is {size:,} bytes, over the {max_bytes:,}-byte cap")
    return path.read_bytes()


@dataclass(frozen=True)
class SnapshotProblem:
    snapshot_id: int
    sha256: str
    url: str
    problem: str

    def as_dict(self) -> dict[str, Any]:
        return {"snapshot": self.snapshot_id, "sha256": self.sha256, "url": self.url, "problem": self.problem}


def check_snapshots(session: Session, settings: Settings) -> tuple[int, list[SnapshotProblem]]:
    """Every snapshot against its WARC record: the archived bytes still hash to the stored SHA-256, the row
    points at that record, its text is what extracting the record gives, and its passages are that text's.

    Returns (snapshots checked, problems). A database edit of a snapshot's text (which quotes and reports
    rest on) shows here even when the audit chain is intact, since snapshots are not audit events.
    """
    from factcheck.documents.archive import ArchiveError
    from factcheck.documents.extract import ExtractionError, extract_bytes

    archive = Archive(settings.evidence_path)
    problems: list[SnapshotProblem] = []
    checked = 0
    for snap in session.execute(select(Snapshot).order_by(Snapshot.id)).scalars():
        checked += 1

        def bad(problem: str, snap: Snapshot = snap) -> None:
            problems.append(SnapshotProblem(snap.id, snap.sha256, snap.url, problem))

        try:
            expected_path = archive.relative_path(snap.sha256)
        except ArchiveError:
            bad("its SHA-256 is not a SHA-256")
            continue
        if snap.warc_path != expected_path:
            bad(f"points at {snap.warc_path!r}, not at the WARC record of its SHA-256")
            continue
        try:
            body = archive.read_body(snap.sha256)
        except ArchiveError as exc:
            bad(str(exc))
            continue
        try:
            extracted = extract_bytes(body, content_type=snap.content_type, url=snap.final_url or snap.url)
        except ExtractionError as exc:
            bad(f"its WARC record no longer extracts: {exc}")
            continue
        if extracted.text != snap.text:
            bad("its stored text differs from the text of its WARC record (edited in the database)")
            continue
        for p in session.execute(select(Passage).where(Passage.snapshot_id == snap.id).order_by(Passage.seq)).scalars():
            if snap.text[p.start : p.end] != p.text:
                bad(f"passage {p.seq} differs from the snapshot text at {p.start}–{p.end}")
                break
        session.expunge(snap)
    return checked, problems
