"""The desk side of evidence: captures become immutable snapshots with passages.

Fetched pages and saved files take the same road (archive → extract → passages), so
offline and fetched evidence are alike.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from factcheck.desk.models import EvidenceUrl, Passage, Snapshot, utcnow
from factcheck.documents.archive import Archive, sha256_hex
from factcheck.errors import FactcheckError
from factcheck.settings import Settings
from factcheck.text.passages import split_passages


class EvidenceError(FactcheckError):
    pass


def latest_snapshot(session: Session, url: str) -> Snapshot | None:
    return session.execute(
        select(Snapshot).where(Snapshot.url == url).order_by(Snapshot.fetched_at.desc(), Snapshot.id.desc()).limit(1)
    ).scalar()


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
) -> tuple[Snapshot, bool]:
    """Archive and extract one capture. Returns (snapshot, created); bytes equal to the latest capture are not stored again."""
    sha = sha256_hex(body)
    latest = latest_snapshot(session, url)
    if latest is not None and latest.sha256 == sha:
        return latest, False  # unchanged since the last capture (a page that changed back is a new one)
    from factcheck.documents.extract import (  # heavy (trafilatura): load only when needed
        ExtractionError,
        extract_bytes,
    )

    try:
        extracted = extract_bytes(body, content_type=content_type, url=final_url or url, filename=filename)
    except ExtractionError as exc:
        raise EvidenceError(f"{filename or url}: {exc}") from None
    fetched_at = fetched_at or utcnow()
    archive = Archive(settings.evidence_path)
    if origin == "file":
        stored = archive.store_file(url=url, body=body, content_type=extracted.content_type,
                                    saved_at=fetched_at)
    else:
        stored = archive.store(url=final_url or url, body=body, status=status or 200, headers=headers or {},
                               fetched_at=fetched_at)
    snap = Snapshot(
        evidence_url_id=evidence_url.id if evidence_url else None,
        source_id=evidence_url.source_id if evidence_url else None,
        url=url, final_url=final_url or url, status=status, headers=dict(headers or {}),
        redirects=list(redirects or []), fetched_at=fetched_at, origin=origin, sha256=sha,
        warc_path=stored.path, content_type=extracted.content_type,
        encoding=extracted.encoding, title=extracted.title, author=extracted.author,
        published=extracted.published, language=extracted.language, text=extracted.text,
        meta={k: v for k, v in (extracted.metadata or {}).items() if isinstance(v, str | int | float | bool)},
    )
    session.add(snap)
    session.flush()
    passages = split_passages(extracted.text)
    session.add_all(
        Passage(snapshot_id=snap.id, seq=i, start=p.start, end=p.end, text=p.text)
        for i, p in enumerate(passages)
    )
    session.flush()
    from factcheck.desk.retrieve import count_terms

    count_terms(session, (p.text for p in passages))
    return snap, True


def read_file_capped(path: Path, max_bytes: int) -> bytes:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise EvidenceError(f"{path}: cannot read: {exc.strerror}") from None
    if size > max_bytes:
        raise EvidenceError(f"{path}: file is {size:,} bytes, over the {max_bytes:,}-byte cap")
    return path.read_bytes()
