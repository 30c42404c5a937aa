"""What the pages show, read from the library: evidence in its passage, quote candidates, marked article text.

Everything here returns plain text pieces with flags; the templates escape every piece (autoescape), so
nothing captured from the web is ever emitted as markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from factcheck.desk.claims import claim_evidence_urls
from factcheck.desk.evidence import latest_snapshot
from factcheck.desk.models import Claim, Passage, Snapshot
from factcheck.report import highlight_spans

CANDIDATES_PER_CAPTURE = 6
"""Passages offered as quotes per capture in the review form (best word overlap with the claim first)."""


@dataclass(frozen=True)
class Seg:
    text: str
    quote: bool = False  # inside the quoted span
    hit: bool = False  # a word the claim also uses
    claim: Any = None  # article view: the claim this span belongs to


def segments(text: str, *, quote: tuple[int, int] | None = None, hits: Sequence[tuple[int, int]] = ()) -> list[Seg]:
    """Cut `text` at every span edge so each piece has one set of flags."""
    edges = {0, len(text)}
    spans = [(max(0, a), min(len(text), b)) for a, b in hits if b > a]
    q = (max(0, quote[0]), min(len(text), quote[1])) if quote and quote[1] > quote[0] else None
    for a, b in [*spans, *([q] if q else [])]:
        edges.update((a, b))
    cuts = sorted(e for e in edges if 0 <= e <= len(text))
    out: list[Seg] = []
    for a, b in pairwise(cuts):
        if b <= a:
            continue
        in_q = q is not None and q[0] <= a and b <= q[1]
        in_h = any(s <= a and b <= e for s, e in spans)
        out.append(Seg(text[a:b], in_q, in_h))
    return out


def _passages_around(session: Session, snap: Snapshot, start: int, end: int) -> tuple[int, int]:
    """The span of the passage(s) that hold [start, end), widened by one passage on each side."""
    rows = list(session.execute(
        select(Passage.seq, Passage.start, Passage.end).where(
            Passage.snapshot_id == snap.id, Passage.end > start, Passage.start < end).order_by(Passage.seq)
    ))
    if not rows:
        return max(0, start - 300), min(len(snap.text), end + 300)
    lo_seq, hi_seq = rows[0][0] - 1, rows[-1][0] + 1
    wide = list(session.execute(
        select(Passage.start, Passage.end).where(
            Passage.snapshot_id == snap.id, Passage.seq >= lo_seq, Passage.seq <= hi_seq)
    ))
    return min(r[0] for r in wide), max(r[1] for r in wide)


def quote_in_context(session: Session, q: dict[str, Any], claim: Claim) -> dict[str, Any]:
    """One verdict quote shown inside its surrounding passages, the quote marked and matching words lit."""
    url, sha = q.get("url"), q.get("snapshot_sha256")
    start, end = q.get("start"), q.get("end")
    snap = None
    if url and sha:
        snap = session.execute(
            select(Snapshot).where((Snapshot.url == url) | (Snapshot.final_url == url), Snapshot.sha256 == sha)
            .order_by(Snapshot.id).limit(1)
        ).scalar()
    out: dict[str, Any] = {"url": url, "sha256": sha, "source": q.get("source"), "role": q.get("role"),
                           "start": start, "end": end, "snapshot_id": None, "captured_at": None, "stale": False}
    text = q.get("quote") or ""
    if snap is not None and isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(snap.text):
        lo, hi = _passages_around(session, snap, start, end)
        context = snap.text[lo:hi]
        out["segments"] = segments(context, quote=(start - lo, end - lo),
                                   hits=highlight_spans(context, claim.text, claim.statement))
        out["snapshot_id"] = snap.id
        out["captured_at"] = snap.fetched_at
        newest = latest_snapshot(session, snap.url)
        out["stale"] = newest is not None and newest.id != snap.id
    else:
        out["segments"] = segments(text, quote=(0, len(text)),
                                   hits=highlight_spans(text, claim.text, claim.statement))
    return out


def quote_candidates(session: Session, claim: Claim, quoted: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For the review form: per evidence capture (newest), the passages that share most words with the claim.

    Offsets are those of the newest capture, which is what `triage.review` pins a reviewer's quote to.
    """
    urls: list[str] = [eu.url for eu in claim_evidence_urls(session, claim)]
    for q in quoted:
        if q.get("url") and q["url"] not in urls:
            urls.append(q["url"])
    out: list[dict[str, Any]] = []
    for url in urls:
        snap = latest_snapshot(session, url)
        if snap is None:
            out.append({"url": url, "snapshot_id": None, "sha256": None, "passages": [], "total": 0})
            continue
        marked = {(q.get("start"), q.get("end")) for q in quoted
                  if q.get("url") == url and q.get("snapshot_sha256") == snap.sha256}
        scored = []
        passages = list(session.execute(
            select(Passage).where(Passage.snapshot_id == snap.id).order_by(Passage.seq)).scalars())
        for p in passages:
            hits = highlight_spans(p.text, claim.text, claim.statement)
            score = sum(b - a for a, b in hits)
            machine = any(isinstance(s, int) and isinstance(e, int) and p.start < e and s < p.end
                          for s, e in marked)
            scored.append((score + (10_000 if machine else 0), p, hits, machine))
        best = sorted((t for t in scored if t[0] > 0), key=lambda t: -t[0])[:CANDIDATES_PER_CAPTURE]
        best.sort(key=lambda t: t[1].seq)
        out.append({
            "url": url, "snapshot_id": snap.id, "sha256": snap.sha256, "source": snap.source.name if snap.source else None,
            "total": len(passages),
            "passages": [{"value": f"{snap.url}#{p.start}-{p.end}", "start": p.start, "end": p.end,
                          "machine": machine, "segments": segments(p.text, hits=hits)}
                         for _score, p, hits, machine in best],
        })
    return out


def article_segments(text: str, claims: list[tuple[Claim, str]]) -> list[Seg]:
    """The article text cut so each claim's span (Claim.start/end) carries its claim and verdict label."""
    spans = sorted(((c.start, c.end, c, label) for c, label in claims
                    if isinstance(c.start, int) and isinstance(c.end, int) and 0 <= c.start < c.end <= len(text)),
                   key=lambda t: (t[0], -t[1]))
    out: list[Seg] = []
    pos = 0
    for a, b, c, label in spans:
        if a < pos:  # overlapping claims: the first one keeps the text; the list below shows all
            continue
        if a > pos:
            out.append(Seg(text[pos:a]))
        out.append(Seg(text[a:b], claim={"id": c.id, "key": c.key, "label": label}))
        pos = b
    if pos < len(text):
        out.append(Seg(text[pos:]))
    return out
