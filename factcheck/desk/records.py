"""One write API for cases, articles, claims, citations and evidence URLs.

Case import (`factcheck.desk.cases`) and article ingest (`factcheck.desk.ingest`) both store their results
through these functions, so the same change writes the same rows and the same audit events whichever path
made it:

- `ensure_case`: find a case by key or create it (`case.create`).
- `upsert_article`: create (`article.create`) or update (`article.update`, before → after) an article.
- `queue_evidence_url`: a new URL is queued (`evidence.queue`); a known one keeps its status and captures
  and only gains a source or a file it lacked (`evidence.update`).
- `upsert_claim`: create (`claim.create`) or update (`claim.update`, before → after in the `claim_state`
  shape) a claim, replacing its citations and evidence links when they differ. An unchanged claim writes
  nothing.
- `ClaimBatch` and `queue_new_evidence_urls`: the same for many claims or new URLs at once (a case import),
  with SQL bulk INSERTs and the same rows and events, in the same order, as one call per claim or URL.

Every function works inside the caller's transaction.
"""

from __future__ import annotations

import enum
import hashlib
import re
import unicodedata
import zlib
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from sqlalchemy import select, text
from sqlalchemy.orm import Session, selectinload

from factcheck.desk import audit
from factcheck.desk.bulk import insert_in_order, insert_rows
from factcheck.desk.models import Article, Case, Citation, Claim, ClaimEvidence, EvidenceUrl, utcnow
from factcheck.settings import check_field
from factcheck.text.urls import normalise_evidence_url

__all__ = [
    "ARTICLE_FIELDS",
    "CITATION_FIELDS",
    "UNSET",
    "ClaimBatch",
    "ClaimInput",
    "EvidenceRef",
    "article_state",
    "citation_row",
    "claim_fingerprint",
    "claim_state",
    "ensure_case",
    "next_claim_key",
    "queue_evidence_url",
    "queue_new_evidence_urls",
    "upsert_article",
    "upsert_claim",
]


class _Unset(enum.Enum):
    UNSET = 0

    def __repr__(self) -> str:
        return "UNSET"


UNSET = _Unset.UNSET
_CASE_LOCK = 0x63617365  # PostgreSQL advisory lock space for creating cases ("case")
"""A claim or article field left out: the stored value is kept (a new row gets the column default)."""

ARTICLE_FIELDS = ("url", "file", "title", "outlet", "language", "published", "snapshot_id")
_ARTICLE_KINDS = {"url": "url", "file": "file", "title": "title", "outlet": "outlet", "language": "language",
                  "published": "published", "text": None}
CITATION_FIELDS = ("name", "kind", "phrase", "second_hand", "via", "source_id", "url")


# ---------------------------------------------------------------- claim ids


def _normalise(text: str) -> str:
    t = unicodedata.normalize("NFKC", text).casefold()
    t = re.sub(r"[„“”«»\"‚‘’′`´]", "'", t)
    t = re.sub(r"[–—‒−]", "-", t)
    return " ".join(t.split())


def claim_fingerprint(text: str) -> str:
    """Stable id of a claim sentence: the same words give the same fingerprint wherever the sentence moves."""
    return "c-" + hashlib.sha1(_normalise(text).encode("utf-8")).hexdigest()[:8]


def next_claim_key(taken: set[str], prefix: str) -> str:
    """The next short id `prefix` + number not in `taken` ("A3-" gives A3-1, A3-2, …), added to `taken`."""
    numbers = [int(k[len(prefix):]) for k in taken if k.startswith(prefix) and k[len(prefix):].isdigit()]
    n = max(numbers, default=0) + 1
    while f"{prefix}{n}" in taken:
        n += 1
    taken.add(f"{prefix}{n}")
    return f"{prefix}{n}"


# ---------------------------------------------------------------- cases


def ensure_case(
    session: Session, key: str, title: str | None, actor: str, *, path: str | None = None, via: str,
) -> tuple[Case, bool]:
    """The case with this key, created (and audited) when the desk has none. An existing case is not changed.

    On PostgreSQL two imports of the same new case take turns: the second waits here until the first has
    committed, then finds the case (on SQLite the second one's write waits for the first and is then
    refused with a clear message by the desk's session)."""
    check_field("case", key)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:space, :key)"),
                        {"space": _CASE_LOCK, "key": zlib.crc32(key.encode("utf-8")) - 2**31})
    case = session.execute(select(Case).where(Case.key == key)).scalar()
    if case is not None:
        return case, False
    case = Case(key=key, title=title, path=path)
    session.add(case)
    session.flush()
    audit.record(session, actor=actor, action="case.create", entity="case", entity_id=case.id,
                 after={"key": key, "path": path, "via": via})
    return case, True


# ---------------------------------------------------------------- articles


def article_state(art: Article) -> dict[str, Any]:
    """An article's fields as the audit trail records them (the text itself is left out)."""
    return {k: getattr(art, k) for k in ARTICLE_FIELDS}


def upsert_article(
    session: Session, case: Case, values: Mapping[str, Any], actor: str, *,
    article: Article | _Unset | None = UNSET,
) -> tuple[Article, str]:
    """Create or update an article of `case` from `values` (ARTICLE_FIELDS and `text`; keys left out keep
    their stored value). `article` is the row to update (None: create one); left out, it is the case's
    article. Returns (article, "created" | "updated" | "unchanged")."""
    unknown = set(values) - {*ARTICLE_FIELDS, "text"}
    if unknown:
        raise ValueError(f"unknown article fields: {', '.join(sorted(unknown))}")
    for k, kind in _ARTICLE_KINDS.items():
        if isinstance(values.get(k), str):
            check_field(kind, values[k], f"article {k}")
    if isinstance(article, _Unset):
        article = session.execute(select(Article).where(Article.case_id == case.id).order_by(Article.id)).scalar()
    if article is None:
        article = Article(case_id=case.id, **values)
        session.add(article)
        session.flush()
        audit.record(session, actor=actor, action="article.create", entity="article", entity_id=article.id,
                     after={**article_state(article), "case": case.key})
        return article, "created"
    if all(getattr(article, k) == v for k, v in values.items()):
        return article, "unchanged"
    before = article_state(article)
    for k, v in values.items():
        setattr(article, k, v)
    session.flush()
    audit.record(session, actor=actor, action="article.update", entity="article", entity_id=article.id,
                 before=before, after=article_state(article))
    return article, "updated"


# ---------------------------------------------------------------- evidence URLs


def queue_evidence_url(
    session: Session, url: str, source_id: int | None, actor: str, file: str | None = None, *,
    via: str, queued: list[str] | None = None, known: dict[str, EvidenceUrl] | None = None,
) -> EvidenceUrl:
    """The evidence row for `url`. A new URL is stored with status "queued" and audited ("evidence.queue";
    its URL is appended to `queued` when given). A known URL keeps its status and captures; it only gains
    a source or a file it did not have ("evidence.update"), never loses or swaps one. `url` must pass the
    desk's one URL rule (text.urls.normalise_evidence_url: web URLs, or a saved page's file:/// path) and
    is stored in its normal form. `known`, when given, holds every stored row of the URLs the caller will
    name (read beforehand, e.g. a case file's evidence section), so a URL it lacks is new; new rows are
    added to it."""
    url = normalise_evidence_url(url)
    if known is not None:  # read beforehand: a URL it lacks is not on the desk
        eu: EvidenceUrl | None = known.get(url)
    else:
        eu = session.execute(select(EvidenceUrl).where(EvidenceUrl.url == url)).scalar()
    if eu is None:
        eu = EvidenceUrl(url=url, source_id=source_id, file=file or None, status="queued")
        session.add(eu)
        session.flush()
        if known is not None:
            known[url] = eu
        audit.record(session, actor=actor, action="evidence.queue", entity="evidence_url", entity_id=eu.id,
                     after={"url": url, "source_id": source_id, "file": eu.file, "via": via})
        if queued is not None:
            queued.append(url)
        return eu
    gain: dict[str, Any] = {}
    if source_id is not None and eu.source_id is None:
        gain["source_id"] = source_id
    if file and not eu.file:
        gain["file"] = file
    if gain:
        before = {"source_id": eu.source_id, "file": eu.file}
        for k, v in gain.items():
            setattr(eu, k, v)
        session.flush()
        audit.record(session, actor=actor, action="evidence.update", entity="evidence_url", entity_id=eu.id,
                     before=before, after={"source_id": eu.source_id, "file": eu.file, "via": via})
    if known is not None:
        known[url] = eu
    return eu


def queue_new_evidence_urls(session: Session, refs: Sequence[EvidenceRef], actor: str, *, via: str) -> list[int]:
    """Evidence URLs none of which is on the desk (nor twice in `refs`), in their normal form, queued in bulk:
    the rows and `evidence.queue` events that `queue_evidence_url` writes for each, in order. Their ids."""
    session.flush()
    ids = _queue_rows(session, refs)
    audit.append_many(session, [_queue_entry(actor, r, i, via) for r, i in zip(refs, ids, strict=True)])
    return ids


def _queue_rows(session: Session, refs: Sequence[EvidenceRef]) -> list[int]:
    now = utcnow()
    return insert_in_order(session, EvidenceUrl.__table__, [
        {"url": r.url, "source_id": r.source_id, "file": r.file or None, "status": "queued", "created_at": now}
        for r in refs], "url")


def _queue_entry(actor: str, ref: EvidenceRef, eid: int, via: str) -> audit.Entry:
    return audit.Entry(actor, "evidence.queue", "evidence_url", eid,
                       after={"url": ref.url, "source_id": ref.source_id, "file": ref.file or None, "via": via})


class EvidenceRef(NamedTuple):
    """An evidence URL a claim points at, with the source (and saved file) to record if the URL is new."""

    url: str
    source_id: int | None = None
    file: str | None = None


# ---------------------------------------------------------------- claims


def citation_row(
    name: str, kind: str = "named", phrase: str | None = None, second_hand: bool = False, via: str | None = None,
    source_id: int | None = None, url: str | None = None,
) -> dict[str, Any]:
    """One citation as `upsert_claim` takes it and `claim_state` shows it."""
    return {"name": name, "kind": kind, "phrase": phrase, "second_hand": bool(second_hand), "via": via,
            "source_id": source_id, "url": url}


def claim_state(c: Claim, session: Session) -> dict[str, Any]:
    """A claim's stored content: what change detection compares and what claim.create / claim.update record
    as before → after, whichever path wrote the claim."""
    evidence = []
    for link in c.evidence_links:
        eu = session.get(EvidenceUrl, link.evidence_url_id)
        if eu is not None:
            evidence.append(eu.url)
    return {
        "text": c.text, "statement": c.statement, "expected": c.expected, "language": c.language,
        "checkworthiness": c.checkworthiness, "start": c.start, "end": c.end, "article_id": c.article_id,
        "cited": [citation_row(ci.name, ci.kind, ci.phrase, ci.second_hand, ci.via, ci.source_id, ci.url)
                  for ci in c.citations],
        "evidence": evidence,
    }


_SCALARS = ("statement", "expected", "language", "checkworthiness", "start", "end")
_IN_CHUNK = 500  # values per IN (...) list, well under every driver's parameter limit


class ClaimInput(NamedTuple):
    """One claim for `ClaimBatch.write`: the arguments `upsert_claim` takes (UNSET keeps a stored value)."""

    key: str
    text: str
    statement: str | _Unset | None = UNSET
    expected: str | _Unset | None = UNSET
    language: str | _Unset | None = UNSET
    checkworthiness: float | _Unset | None = UNSET
    start: int | _Unset | None = UNSET
    end: int | _Unset | None = UNSET
    fingerprint: str | None = None
    citations: Sequence[Mapping[str, Any]] = ()
    evidence_urls: Sequence[str] = ()


class ClaimBatch:
    """Claims of one case written many at a time (a case import), with the rows and audit events that
    `upsert_claim` would write for each of them in turn.

    `write` takes a batch of claims (a thousand, say): it reads the stored state of those of them the case
    already has and the ids of the evidence URLs they name (a few queries a batch, nothing kept but URL
    ids), and writes the new claims with SQL bulk INSERTs (claims, citations, evidence links, newly queued
    URLs) and their events with one `audit.append_many`, in the order `upsert_claim` would have: for each
    claim, `evidence.queue` for each URL it is the first to name, then its `claim.create`. A claim that is
    on the desk and differs goes through `upsert_claim` itself (after the new claims before it); an
    unchanged one writes nothing. The checks of `upsert_claim` on field values are the caller's (a case
    file's parser makes them, with the same limits)."""

    def __init__(self, session: Session, case: Case, *, actor: str, via: str, article_id: int | None = None) -> None:
        self.session = session
        self.case = case
        self.actor = actor
        self.via = via
        self.article_id = article_id
        self.url_ids: dict[str, int] = {}

    def write(self, claims: Sequence[ClaimInput]) -> list[str]:
        """Store `claims`; for each, "created", "updated" or "unchanged"."""
        given = [c._replace(citations=[citation_row(r["name"], r.get("kind") or "named", r.get("phrase"),
                                                    bool(r.get("second_hand")), r.get("via"), r.get("source_id"),
                                                    r.get("url")) for r in c.citations],
                            evidence_urls=list(dict.fromkeys(normalise_evidence_url(u) for u in c.evidence_urls)))
                 for c in claims]
        stored = self._stored_states([c.key for c in given])
        self._look_up_urls({u for c in given for u in c.evidence_urls})
        outcomes: list[str] = []
        new: list[ClaimInput] = []
        for c in given:
            before = stored.get(c.key)
            if before is None:
                new.append(c)
                outcomes.append("created")
                continue
            wanted = {"text": c.text, "article_id": before["article_id"] or self.article_id, "cited": c.citations,
                      "evidence": c.evidence_urls}
            wanted |= {k: before[k] if v is UNSET else v for k, v in _given(c).items()}
            if wanted == before:
                outcomes.append("unchanged")
                continue
            self._insert(new)  # the new claims before this one keep their place in the audit trail
            new = []
            _, _, changed = upsert_claim(
                self.session, self.case, c.key, c.text, actor=self.actor, article_id=self.article_id,
                fingerprint=c.fingerprint, citations=c.citations, evidence_urls=c.evidence_urls, via=self.via,
                **_given(c))
            outcomes.append("updated" if changed else "unchanged")
            self._look_up_urls(set(c.evidence_urls))  # URLs it queued
        self._insert(new)
        return outcomes

    def _stored_states(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """`claim_state` of each of `keys` the case has, read in three queries (per 500 keys)."""
        states: dict[str, dict[str, Any]] = {}
        for i in range(0, len(keys), _IN_CHUNK):
            rows = self.session.execute(
                select(Claim.id, Claim.key, Claim.text, Claim.statement, Claim.expected, Claim.language,
                       Claim.checkworthiness, Claim.start, Claim.end, Claim.article_id)
                .where(Claim.case_id == self.case.id, Claim.key.in_(keys[i:i + _IN_CHUNK]))).all()
            if not rows:
                continue
            by_id: dict[int, dict[str, Any]] = {}
            for r in rows:
                by_id[r.id] = states[r.key] = {
                    "text": r.text, "statement": r.statement, "expected": r.expected, "language": r.language,
                    "checkworthiness": r.checkworthiness, "start": r.start, "end": r.end,
                    "article_id": r.article_id, "cited": [], "evidence": []}
            ids = list(by_id)
            for ci in self.session.execute(
                    select(Citation.claim_id, Citation.name, Citation.kind, Citation.phrase, Citation.second_hand,
                           Citation.via, Citation.source_id, Citation.url)
                    .where(Citation.claim_id.in_(ids)).order_by(Citation.id)):
                by_id[ci.claim_id]["cited"].append(citation_row(ci.name, ci.kind, ci.phrase, ci.second_hand,
                                                                ci.via, ci.source_id, ci.url))
            for link in self.session.execute(
                    select(ClaimEvidence.claim_id, EvidenceUrl.url)
                    .join(EvidenceUrl, EvidenceUrl.id == ClaimEvidence.evidence_url_id)
                    .where(ClaimEvidence.claim_id.in_(ids)).order_by(ClaimEvidence.id)):
                by_id[link.claim_id]["evidence"].append(link.url)
        return states

    def _look_up_urls(self, urls: set[str]) -> None:
        wanted = sorted(urls - self.url_ids.keys())
        for i in range(0, len(wanted), _IN_CHUNK):
            self.url_ids.update(self.session.execute(  # type: ignore[arg-type]
                select(EvidenceUrl.url, EvidenceUrl.id).where(EvidenceUrl.url.in_(wanted[i:i + _IN_CHUNK]))).all())

    def _insert(self, claims: Sequence[ClaimInput]) -> None:
        """New claims, their citations and links, the URLs they queue, and the events of all that, in bulk."""
        if not claims:
            return
        session = self.session
        session.flush()  # whatever the ORM holds goes first
        queues: list[list[str]] = []  # per claim: the URLs it is the first to name
        fresh: dict[str, None] = {}
        for c in claims:
            mine = [u for u in c.evidence_urls if u not in self.url_ids and u not in fresh]
            fresh.update(dict.fromkeys(mine))
            queues.append(mine)
        if fresh:
            self.url_ids.update(zip(fresh, _queue_rows(session, [EvidenceRef(u) for u in fresh]), strict=True))
        rows = []
        for c in claims:
            now = utcnow()
            rows.append({"case_id": self.case.id, "article_id": self.article_id, "key": c.key,
                         "fingerprint": c.fingerprint, "text": c.text,
                         **{k: None if v is UNSET else v for k, v in _given(c).items()},
                         "revision": 0, "created_at": now, "updated_at": now})
        claim_ids = insert_in_order(session, Claim.__table__, rows, "key")
        citations = [{"claim_id": cid, **row} for cid, c in zip(claim_ids, claims, strict=True) for row in c.citations]
        insert_rows(session, Citation.__table__, citations)
        insert_rows(session, ClaimEvidence.__table__, [{"claim_id": cid, "evidence_url_id": self.url_ids[u]}
                                                       for cid, c in zip(claim_ids, claims, strict=True)
                                                       for u in c.evidence_urls])
        events: list[audit.Entry] = []
        for cid, c, row, queued in zip(claim_ids, claims, rows, queues, strict=True):
            events += [_queue_entry(self.actor, EvidenceRef(u), self.url_ids[u], self.via) for u in queued]
            events.append(audit.Entry(self.actor, "claim.create", "claim", cid, cid, after={
                "text": c.text, "statement": row["statement"], "expected": row["expected"],
                "language": row["language"], "checkworthiness": row["checkworthiness"], "start": row["start"],
                "end": row["end"], "article_id": self.article_id, "cited": list(c.citations),
                "evidence": list(c.evidence_urls)}))
        audit.append_many(session, events)


def _given(c: ClaimInput) -> dict[str, Any]:
    return {"statement": c.statement, "expected": c.expected, "language": c.language,
            "checkworthiness": c.checkworthiness, "start": c.start, "end": c.end}


def upsert_claim(
    session: Session,
    case: Case,
    key: str,
    text: str,
    *,
    actor: str,
    article_id: int | None = None,
    statement: str | _Unset | None = UNSET,
    expected: str | _Unset | None = UNSET,
    language: str | _Unset | None = UNSET,
    checkworthiness: float | _Unset | None = UNSET,
    start: int | _Unset | None = UNSET,
    end: int | _Unset | None = UNSET,
    fingerprint: str | None = None,
    citations: Sequence[Mapping[str, Any]] = (),
    evidence_urls: Sequence[str | EvidenceRef] = (),
    via: str,
    queued: list[str] | None = None,
) -> tuple[Claim, bool, bool]:
    """Create or update the claim `key` of `case`. Returns (claim, created, changed).

    Fields passed as UNSET keep their stored value (a case file has no offsets; an article has no
    `expected` verdict). `article_id` is filled in when the claim has none, never moved to another article.
    `citations` (rows as `citation_row` makes them) and `evidence_urls` (in order) replace the claim's
    citations and evidence links when they differ; evidence URLs go through `queue_evidence_url`.
    An unchanged claim writes nothing; a changed one bumps its revision and writes one audit event.
    (`ClaimBatch` writes many new claims at once, with the same rows and events.)"""
    claim = session.execute(
        select(Claim).where(Claim.case_id == case.id, Claim.key == key)
        .options(selectinload(Claim.citations), selectinload(Claim.evidence_links))
    ).scalar()
    check_field("claim_id", key)
    check_field("claim_text", text)
    if isinstance(statement, str):
        check_field("statement", statement)
    if isinstance(language, str):
        check_field("language", language)
    refs = [EvidenceRef(r) if isinstance(r, str) else r for r in evidence_urls]
    refs = [r._replace(url=normalise_evidence_url(r.url)) for r in refs]
    urls: list[str] = []
    for r in refs:
        if r.url not in urls:
            urls.append(r.url)
    cited = [citation_row(row["name"], row.get("kind") or "named", row.get("phrase"), bool(row.get("second_hand")),
                          row.get("via"), row.get("source_id"), row.get("url")) for row in citations]
    for row in cited:
        check_field("source_name", row["name"], "cited source")
        if row["phrase"]:
            check_field("citation_phrase", row["phrase"])
        if row["via"]:
            check_field("source_name", row["via"], "citation via")
    given: dict[str, Any] = {"statement": statement, "expected": expected, "language": language,
                             "checkworthiness": checkworthiness, "start": start, "end": end}

    created = claim is None
    before: dict[str, Any] | None = None
    if claim is None:
        claim = Claim(case_id=case.id, key=key, text=text, article_id=article_id, fingerprint=fingerprint)
        session.add(claim)
        session.flush()
    else:
        before = claim_state(claim, session)
        wanted = {"text": text, "article_id": before["article_id"] or article_id, "cited": cited, "evidence": urls}
        wanted |= {k: before[k] if v is UNSET else v for k, v in given.items()}
        if wanted == before:
            return claim, False, False

    claim.text = text
    claim.article_id = claim.article_id or article_id
    claim.fingerprint = claim.fingerprint or fingerprint
    for k in _SCALARS:
        if given[k] is not UNSET:
            setattr(claim, k, given[k])
    if before is None or before["cited"] != cited:
        if before is not None:
            claim.citations.clear()
            session.flush()
        for row in cited:
            claim.citations.append(Citation(**row))
    eus = {}
    for r in refs:
        if r.url not in eus:
            eus[r.url] = queue_evidence_url(session, r.url, r.source_id, actor, r.file, via=via, queued=queued)
    if before is None or before["evidence"] != urls:
        if before is not None:
            claim.evidence_links.clear()
            session.flush()
        for url in urls:
            claim.evidence_links.append(ClaimEvidence(evidence_url_id=eus[url].id))
    claim.updated_at = utcnow()
    if not created:  # bumped in SQL, so a concurrent review's optimistic check sees it
        claim.revision = Claim.revision + 1  # type: ignore[assignment]
    session.flush()
    if not created:
        session.refresh(claim, ["revision"])
    audit.record(session, actor=actor, action="claim.create" if created else "claim.update", entity="claim",
                 entity_id=claim.id, claim_id=claim.id, before=before, after=claim_state(claim, session))
    return claim, created, True
