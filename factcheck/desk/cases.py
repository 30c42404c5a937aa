"""Case files (YAML) in and out of the desk.

Import is one transaction: the whole file is parsed and checked first, then stored; any error
leaves the desk as it was. Claims are keyed by their `id`, so re-importing updates in place.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session, selectinload

from factcheck.desk import audit, records
from factcheck.desk.db import explain_refusal
from factcheck.desk.evidence import EvidenceError, read_file_capped, store_capture
from factcheck.desk.models import (
    VERDICT_LABELS,
    Article,
    Case,
    Claim,
    EvidenceUrl,
    Source,
)
from factcheck.desk.sources import find_source, merge_source
from factcheck.errors import FactcheckError
from factcheck.settings import SURROGATE, FieldError, Settings, check_field
from factcheck.text.urls import BadUrl, normalise_url


class CaseFileError(FactcheckError):
    pass


VIA = "import"  # how records written by case import name their path in the audit trail


# ---------------------------------------------------------------- parsing with line numbers


class _LineDict(dict[str, Any]):
    line: int = 0


_SAFE_BASE: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader where PyYAML was built with it: the same documents and errors, parsed in C (the
pure-Python parser spends about 3 ms a claim, the most of a big import)."""


class _Loader(_SAFE_BASE):  # type: ignore[misc,valid-type]
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> _LineDict:
    d = _LineDict(loader.construct_mapping(node, deep=True))  # type: ignore[arg-type]
    d.line = node.start_mark.line + 1
    return d


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)  # type: ignore[arg-type]

TOP_KEYS = {"case", "title", "article", "sources", "evidence", "claims"}
ARTICLE_KEYS = {"url", "title", "outlet", "language", "published", "file", "text"}
SOURCE_KEYS = {"name", "aliases", "domains"}
EVIDENCE_KEYS = {"url", "source", "file"}
CLAIM_KEYS = {"id", "text", "statement", "cited", "evidence", "expected", "language", "checkworthiness", "start",
              "end", "fingerprint"}
ARTICLE_KINDS = {"url": "url", "title": "title", "outlet": "outlet", "language": "language",
                 "published": "published", "file": "file", "text": None}
MAX_NESTING = 50
CLAIM_BATCH = 1000
"""New claims written to the database together (one INSERT per table), within the import's one transaction."""
"""Deepest nesting of lists and mappings a case file may have (a real one needs about five)."""


@dataclass
class SourceSpec:
    name: str
    aliases: list[str]
    domains: list[str]


@dataclass
class EvidenceSpec:
    url: str
    source: str | None
    file: str | None
    path: Path | None


CITATION_KEYS = {"name", "kind", "phrase", "second_hand", "via", "url"}
CITATION_KINDS = ("named", "anonymous", "document", "inherited")


@dataclass(frozen=True)
class CitationSpec:
    """A cited source; a bare name in the file means a named, first-hand citation."""

    name: str
    kind: str = "named"
    phrase: str | None = None
    second_hand: bool = False
    via: str | None = None
    url: str | None = None  # the link the article put on the attribution (ingest)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "phrase": self.phrase, "second_hand": self.second_hand,
                "via": self.via, "url": self.url}


@dataclass
class ClaimSpec:
    key: str
    text: str
    statement: str | None
    cited: list[CitationSpec]
    evidence: list[str]
    expected: str | None
    language: str | None
    checkworthiness: float | None
    start: int | None = None  # where an ingested claim sits in its article's text
    end: int | None = None
    fingerprint: str | None = None


@dataclass
class CaseSpec:
    path: Path
    key: str
    title: str | None
    article: dict[str, Any] | None
    sources: list[SourceSpec] = field(default_factory=list)
    evidence: list[EvidenceSpec] = field(default_factory=list)
    claims: list[ClaimSpec] = field(default_factory=list)


def _where(path: Path, node: Any) -> str:
    line = getattr(node, "line", 0)
    return f"{path}, line {line}" if line else str(path)


def _paired(value: str) -> str:
    """Surrogate pairs joined into the characters they stand for: JSON writers escape an emoji as two
    `\\uXXXX` escapes, and the YAML parser reads them as two halves. Unpaired halves are left for
    check_field to refuse."""
    if not SURROGATE.search(value):
        return value
    try:
        return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le")
    except UnicodeDecodeError:
        return value


def _checked(value: str, kind: str | None, what: str, path: Path, node: Any) -> str:
    """The field limit and character check of settings.check_field, as an error naming file and line."""
    try:
        return check_field(kind, _paired(value), what)
    except FieldError as exc:
        raise CaseFileError(f"{_where(path, node)}: {exc}") from None


def _url(value: str, what: str, path: Path, node: Any) -> str:
    """The one URL rule (text.urls), as an error naming file and line."""
    try:
        return normalise_url(value)
    except BadUrl as exc:
        raise CaseFileError(f"{_where(path, node)}: {what} {value!r} is not usable: {exc.reason}") from None


def _str(value: Any, what: str, path: Path, node: Any, *, required: bool = False,
         kind: str | None = None) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise CaseFileError(f"{_where(path, node)}: {what} is missing or empty")
        return None
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool | dict | list):
        raise CaseFileError(f"{_where(path, node)}: {what} must be text")
    return _checked(str(value).strip(), kind, what, path, node)


def _str_list(value: Any, what: str, path: Path, node: Any, kind: str | None = None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
        raise CaseFileError(f"{_where(path, node)}: {what} must be a list of names")
    return [_checked(str(v).strip(), kind, what, path, node) for v in value if str(v).strip()]


def _citations(value: Any, key: str, path: Path, node: Any) -> list[CitationSpec]:
    if value is None:
        return []
    if not isinstance(value, list):
        value = [value]
    out = []
    for item in value:
        if isinstance(item, str | int | float) and not isinstance(item, bool):
            if str(item).strip():
                out.append(CitationSpec(_checked(str(item).strip(), "source_name", f"claim {key}: cited source",
                                                 path, node)))
            continue
        _check_keys(item, CITATION_KEYS, f"claim {key}: citation", path)
        name = _str(item.get("name"), f"claim {key}: citation name", path, item, required=True, kind="source_name")
        kind = _str(item.get("kind"), "kind", path, item) or "named"
        if kind not in CITATION_KINDS:
            raise CaseFileError(f"{_where(path, item)}: claim {key}: citation kind {kind!r} is not one of "
                                f"{', '.join(CITATION_KINDS)}")
        second = item.get("second_hand", False)
        if not isinstance(second, bool):
            raise CaseFileError(f"{_where(path, item)}: claim {key}: second_hand must be true or false")
        assert name is not None
        out.append(CitationSpec(name, kind, _str(item.get("phrase"), "phrase", path, item, kind="citation_phrase"),
                                second, _str(item.get("via"), "via", path, item, kind="source_name"),
                                _url(link, f"claim {key}: citation url", path, item)
                                if (link := _str(item.get("url"), "url", path, item, kind="url")) else None))
    return out


def _check_keys(d: Any, allowed: set[str], what: str, path: Path) -> None:
    if not isinstance(d, dict):
        raise CaseFileError(f"{_where(path, d)}: each {what} must be a mapping of keys to values")
    unknown = sorted(set(d) - allowed)
    if unknown:
        raise CaseFileError(
            f"{_where(path, d)}: unknown key {unknown[0]!r} in {what} (allowed: {', '.join(sorted(allowed))})"
        )


def allowed_roots(case_path: Path) -> list[Path]:
    """Files may live in the case's folder, or in the desk's sibling `evidence/` folder."""
    folder = case_path.resolve().parent
    return [folder, folder.parent / "evidence"]


def resolve_file(case_path: Path, rel: str, node: Any) -> Path:
    p = Path(rel)
    if p.is_absolute():
        raise CaseFileError(f"{_where(case_path, node)}: file path {rel!r} must be relative to the case file")
    full = (case_path.resolve().parent / p).resolve()
    if not any(full.is_relative_to(root.resolve()) for root in allowed_roots(case_path)):
        raise CaseFileError(
            f"{_where(case_path, node)}: file {rel!r} is outside the case folder (and outside evidence/)"
        )
    if not full.is_file():
        raise CaseFileError(f"{_where(case_path, node)}: evidence file {rel!r} not found")
    return full


def _check_nesting(path: Path, text: str) -> None:
    """Refuse absurdly nested YAML before it is composed (composing recurses, one level per bracket)."""
    depth = 0
    try:
        for token in yaml.scan(text, Loader=_SAFE_BASE):
            if isinstance(token, yaml.FlowSequenceStartToken | yaml.FlowMappingStartToken
                          | yaml.BlockSequenceStartToken | yaml.BlockMappingStartToken):
                depth += 1
                if depth > MAX_NESTING:
                    raise CaseFileError(f"{path}, line {token.start_mark.line + 1}: nested more than "
                                        f"{MAX_NESTING} levels deep; not a case file")
            elif isinstance(token, yaml.FlowSequenceEndToken | yaml.FlowMappingEndToken | yaml.BlockEndToken):
                depth -= 1
    except yaml.YAMLError:
        return  # the parser proper reports it, with its line


def parse_case(path: str | Path) -> CaseSpec:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CaseFileError(f"{path}: no such case file") from None
    except OSError as exc:
        raise CaseFileError(f"{path}: cannot read: {exc.strerror}") from None
    if b"\x00" in raw[:8192]:
        raise CaseFileError(f"{path}: not a YAML case file (binary content)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CaseFileError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    _check_nesting(path, text)
    try:
        data = yaml.load(text, Loader=_Loader)  # a SafeLoader subclass: no arbitrary objects
    except RecursionError:  # a guard of last resort: _check_nesting refuses such files first
        raise CaseFileError(f"{path}: nested too deeply to be a case file") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}, line {mark.line + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise CaseFileError(f"{where}: malformed YAML: {problem}") from None
    if not isinstance(data, dict):
        raise CaseFileError(f"{path}: a case file must be a mapping with `claims:` (and optionally sources, evidence)")
    _check_keys(data, TOP_KEYS, "case file", path)

    article = data.get("article")
    if article is not None:
        _check_keys(article, ARTICLE_KEYS, "article", path)
        raw_text = article.get("text")
        article = {k: _str(v, f"article {k}", path, article, kind=ARTICLE_KINDS[k]) for k, v in article.items()}
        if isinstance(raw_text, str):  # the article's text as it is (offsets point into it): not stripped
            article["text"] = _checked(raw_text, None, "article text", path, data.get("article"))
        if article.get("url"):
            article["url"] = _url(article["url"], "article url", path, data.get("article"))
        if article.get("file") and article.get("text") is None:  # inline text (an export) needs no file
            resolve_file(path, article["file"], data.get("article"))

    key = _str(data.get("case"), "case", path, data, kind="case")
    spec = CaseSpec(
        path=path, key=key or path.stem, title=_str(data.get("title"), "title", path, data, kind="title") or key,
        article=article,
    )
    for s in data.get("sources") or []:
        _check_keys(s, SOURCE_KEYS, "source", path)
        name = _str(s.get("name"), "source name", path, s, required=True, kind="source_name")
        assert name is not None
        spec.sources.append(SourceSpec(name, _str_list(s.get("aliases"), "aliases", path, s, "alias"),
                                       _str_list(s.get("domains"), "domains", path, s, "domain")))
    seen_urls: set[str] = set()
    for e in data.get("evidence") or []:
        _check_keys(e, EVIDENCE_KEYS, "evidence entry", path)
        url = _str(e.get("url"), "evidence url", path, e, required=True)
        assert url is not None
        url = _url(url, "evidence url", path, e)
        if url in seen_urls:
            raise CaseFileError(f"{_where(path, e)}: evidence url {url!r} is listed twice")
        seen_urls.add(url)
        file = _str(e.get("file"), "evidence file", path, e, kind="file")
        spec.evidence.append(EvidenceSpec(url, _str(e.get("source"), "evidence source", path, e,
                                                    kind="source_name"), file,
                                          resolve_file(path, file, e) if file else None))
    claims = data.get("claims")
    if claims is None:
        claims = []
    if not isinstance(claims, list):
        raise CaseFileError(f"{_where(path, data)}: `claims` must be a list")
    keys: dict[str, int] = {}
    for c in claims:
        _check_keys(c, CLAIM_KEYS, "claim", path)
        key = _str(c.get("id"), "claim id", path, c, required=True, kind="claim_id")
        assert key is not None
        if key in keys:
            raise CaseFileError(f"{_where(path, c)}: duplicate claim id {key!r} (first at line {keys[key]})")
        keys[key] = getattr(c, "line", 0)
        claim_text = _str(c.get("text"), f"claim {key}: text", path, c, required=True, kind="claim_text")
        assert claim_text is not None
        expected = _str(c.get("expected"), "expected", path, c)
        if expected is not None and expected not in VERDICT_LABELS:
            raise CaseFileError(
                f"{_where(path, c)}: claim {key}: unknown verdict label {expected!r} "
                f"(one of {', '.join(VERDICT_LABELS)})"
            )
        cw = c.get("checkworthiness")
        if cw is not None and not (isinstance(cw, int | float) and 0 <= cw <= 1):
            raise CaseFileError(f"{_where(path, c)}: claim {key}: checkworthiness must be a number from 0 to 1")
        ev: list[str] = []
        for u in _str_list(c.get("evidence"), f"claim {key}: evidence", path, c, "url"):
            u = _url(u, f"claim {key}: evidence", path, c)
            if u in ev:
                raise CaseFileError(f"{_where(path, c)}: claim {key}: evidence {u!r} is listed twice")
            ev.append(u)
        span = [c.get("start"), c.get("end")]
        if span != [None, None] and not (all(isinstance(x, int) and not isinstance(x, bool) for x in span)
                                         and 0 <= span[0] <= span[1]):
            raise CaseFileError(f"{_where(path, c)}: claim {key}: start and end must be character offsets "
                                "with start <= end")
        spec.claims.append(ClaimSpec(
            key=key, text=claim_text,
            statement=_str(c.get("statement"), f"claim {key}: statement", path, c, kind="statement"),
            cited=_citations(c.get("cited"), key, path, c), evidence=ev, expected=expected,
            language=_str(c.get("language"), f"claim {key}: language", path, c, kind="language"), checkworthiness=cw,
            start=span[0], end=span[1],
            fingerprint=_str(c.get("fingerprint"), f"claim {key}: fingerprint", path, c, kind="claim_id"),
        ))
    return spec


# ---------------------------------------------------------------- import


@dataclass
class ImportSummary:
    case: str
    claims: dict[str, int] = field(default_factory=lambda: {"created": 0, "updated": 0, "unchanged": 0})
    sources: dict[str, int] = field(default_factory=lambda: {"created": 0, "updated": 0, "unchanged": 0})
    evidence: dict[str, int] = field(default_factory=lambda: {"snapshots": 0, "queued": 0, "known": 0})

    def as_dict(self) -> dict[str, Any]:
        return {"case": self.case, "claims": self.claims, "sources": self.sources, "evidence": self.evidence}


def claim_fields(c: Claim, session: Session) -> dict[str, Any]:
    """A claim as a case file states it (what `export_case` writes)."""
    return {
        "text": c.text, "statement": c.statement, "expected": c.expected, "language": c.language,
        "checkworthiness": c.checkworthiness,
        "cited": [CitationSpec(ci.name, ci.kind, ci.phrase, ci.second_hand, ci.via, ci.url).as_dict()
                  for ci in c.citations],
        "evidence": [session.get(EvidenceUrl, link.evidence_url_id).url for link in c.evidence_links],  # type: ignore[union-attr]
    }


def import_case(session: Session, settings: Settings, path: str | Path, *, actor: str) -> ImportSummary:
    spec = parse_case(path)
    summary = ImportSummary(case=spec.key)
    declared = {s.name.casefold() for s in spec.sources} | {
        a.casefold() for s in spec.sources for a in s.aliases
    }

    def known(name: str) -> bool:
        return name.casefold() in declared or find_source(session, name) is not None

    for e in spec.evidence:
        if e.source and not known(e.source):
            raise CaseFileError(f"{spec.path}: evidence {e.url} names unknown source {e.source!r}")
    for c in spec.claims:
        for cit in c.cited:
            if cit.kind != "anonymous" and not known(cit.name):
                raise CaseFileError(
                    f"{spec.path}: claim {c.key} cites unknown source {cit.name!r} (add it under `sources:`, "
                    "or mark an unnamed source `kind: anonymous`)"
                )

    try:
        _store(session, settings, spec, summary, actor)
        session.flush()
    except (IntegrityError, DataError) as exc:  # the caller's session rolls everything back
        raise CaseFileError(f"{spec.path}: nothing was stored: {explain_refusal(exc)}") from exc
    except FieldError as exc:
        raise CaseFileError(f"{spec.path}: nothing was stored: {exc}") from None
    return summary


def _store(session: Session, settings: Settings, spec: CaseSpec, summary: ImportSummary, actor: str) -> None:
    case, _ = records.ensure_case(session, spec.key, spec.title, actor, path=str(spec.path), via=VIA)
    for s in spec.sources:
        _, outcome = merge_source(session, name=s.name, aliases=s.aliases, domains=s.domains, actor=actor)
        summary.sources[outcome] += 1

    if spec.article:
        _import_article(session, settings, case, spec, actor)

    batch = records.ClaimBatch(session, case, [e.url for e in spec.evidence]
                               + [u for cs in spec.claims for u in cs.evidence])
    sources: dict[str, Source | None] = {}  # the source each name found (sources do not change from here on)
    for e in spec.evidence:
        src = _source(session, e.source, sources) if e.source else None
        eu = records.queue_evidence_url(session, e.url, src.id if src else None, actor, e.file, via=VIA,
                                        known=batch.evidence)
        if e.path is not None:
            try:
                body = read_file_capped(e.path, settings.max_bytes)
                _, created = store_capture(session, settings, url=e.url, body=body, origin="file",
                                           evidence_url=eu, filename=e.path.name)
            except EvidenceError as exc:
                raise CaseFileError(str(exc)) from None
            if created:
                summary.evidence["snapshots"] += 1
                eu.status = "captured"
                audit.record(session, actor=actor, action="evidence.capture", entity="evidence_url",
                             entity_id=eu.id, after={"url": e.url, "file": e.file})
            else:
                summary.evidence["known"] += 1
        elif eu.status == "queued":
            summary.evidence["queued"] += 1
        else:
            summary.evidence["known"] += 1

    article_id = session.execute(select(Article.id).where(Article.case_id == case.id).order_by(Article.id)).scalar()
    for n, cs in enumerate(spec.claims, 1):
        try:
            outcome = _import_claim(session, case, cs, actor, article_id, batch, sources)
            if n % CLAIM_BATCH == 0 or n == len(spec.claims):
                batch.flush()
        except (IntegrityError, DataError) as exc:
            raise CaseFileError(f"{spec.path}: claim {cs.key}: nothing was stored: {explain_refusal(exc)}") from exc
        summary.claims[outcome] += 1


def _import_article(session: Session, settings: Settings, case: Case, spec: CaseSpec, actor: str) -> None:
    a = spec.article or {}
    text = a.get("text")
    if a.get("file") and text is None:
        p = resolve_file(spec.path, a["file"], None)
        try:  # the same size cap as evidence files and ingested articles (max_bytes)
            text = read_file_capped(p, settings.max_bytes).decode("utf-8")
        except EvidenceError as exc:
            raise CaseFileError(f"{spec.path}: article file {a['file']!r}: {exc}") from None
        except UnicodeDecodeError:
            raise CaseFileError(f"{spec.path}: article file {a['file']!r} is not UTF-8 text") from None
        try:
            check_field(None, text, "the article file")
        except FieldError as exc:
            raise CaseFileError(f"{spec.path}: {exc}") from None
    values = {k: a.get(k) for k in ("url", "title", "outlet", "language", "published", "file")}
    values["text"] = text
    records.upsert_article(session, case, values, actor)  # the case's article


def _source(session: Session, name: str, found: dict[str, Source | None]) -> Source | None:
    """`find_source`, remembered in `found` for the rest of one import."""
    if name not in found:
        found[name] = find_source(session, name)
    return found[name]


def _import_claim(session: Session, case: Case, cs: ClaimSpec, actor: str, article_id: int | None,
                  batch: records.ClaimBatch, sources: dict[str, Source | None]) -> str:
    """One claim of the file, through `records.upsert_claim` with the import's batch."""
    cited = []
    for cit in cs.cited:
        src = _source(session, cit.name, sources) if cit.kind != "anonymous" else None
        cited.append(records.citation_row(src.name if src else cit.name, cit.kind, cit.phrase, cit.second_hand,
                                          cit.via, source_id=src.id if src else None, url=cit.url))
    span: dict[str, Any] = {"start": cs.start, "end": cs.end} if cs.start is not None else {}
    _, created, changed = records.upsert_claim(
        session, case, cs.key, cs.text, actor=actor, article_id=article_id, statement=cs.statement,
        expected=cs.expected, language=cs.language, checkworthiness=cs.checkworthiness, citations=cited,
        evidence_urls=cs.evidence, fingerprint=cs.fingerprint, via=VIA, batch=batch, **span)
    return "created" if created else "updated" if changed else "unchanged"


# ---------------------------------------------------------------- export


def export_case(session: Session, case_key: str | None = None) -> dict[str, Any]:
    """A case file (as data) that imports back to the same claims, sources and evidence."""
    q = select(Case).order_by(Case.id)
    if case_key is not None:
        q = q.where(Case.key == case_key)
    cases = list(session.execute(q).scalars())
    if case_key is not None and not cases:
        raise CaseFileError(f"no case {case_key!r} on this desk")
    if len(cases) > 1:
        raise CaseFileError(
            "the desk holds several cases; name one with --case ("
            + ", ".join(repr(c.key) for c in cases) + ")"
        )
    case = cases[0] if cases else None
    claims = list(session.execute(
        select(Claim).where(Claim.case_id == case.id).order_by(Claim.id)
        .options(selectinload(Claim.citations), selectinload(Claim.evidence_links))
    ).scalars()) if case else []
    out: dict[str, Any] = {}
    if case:
        out["case"] = case.key
        if case.title and case.title != case.key:
            out["title"] = case.title
    art = session.execute(select(Article).where(Article.case_id == case.id).order_by(Article.id)).scalar() \
        if case else None
    if art:
        # the text travels inline, so the file imports anywhere; a file path only when it is a relative one
        # (an ingested article's path is absolute and means nothing on another machine)
        out["article"] = {k: getattr(art, k) for k in ("url", "title", "outlet", "language", "published")
                          if getattr(art, k) is not None}
        if art.file and not Path(art.file).is_absolute():
            out["article"]["file"] = art.file
        if art.text is not None:
            out["article"]["text"] = art.text
    source_ids = {ci.source_id for c in claims for ci in c.citations if ci.source_id}
    urls: list[EvidenceUrl] = []
    seen: set[int] = set()
    for c in claims:
        for link in c.evidence_links:
            if link.evidence_url_id not in seen:
                seen.add(link.evidence_url_id)
                eu = session.get(EvidenceUrl, link.evidence_url_id)
                assert eu is not None
                urls.append(eu)
                if eu.source_id:
                    source_ids.add(eu.source_id)

    sources = [session.get(Source, i) for i in sorted(source_ids)]
    out["sources"] = [
        {"name": s.name, **({"aliases": list(s.aliases)} if s.aliases else {}),
         **({"domains": list(s.domains)} if s.domains else {})}
        for s in sources if s is not None
    ]
    out["evidence"] = [
        {"url": eu.url, **({"source": eu.source.name} if eu.source else {}), **({"file": eu.file} if eu.file else {})}
        for eu in urls
    ]
    out["claims"] = []
    for c in claims:
        entry: dict[str, Any] = {"id": c.key, "text": c.text}
        if c.statement:
            entry["statement"] = c.statement
        entry["cited"] = [
            ci.name if (ci.kind == "named" and not ci.phrase and not ci.second_hand and not ci.via and not ci.url)
            else {k: v for k, v in CitationSpec(ci.name, ci.kind, ci.phrase, ci.second_hand, ci.via, ci.url)
                  .as_dict().items() if v not in (None, False)}
            for ci in c.citations
        ]
        ev = claim_fields(c, session)["evidence"]
        if ev:
            entry["evidence"] = ev
        if c.language:
            entry["language"] = c.language
        if c.checkworthiness is not None:
            entry["checkworthiness"] = c.checkworthiness
        if c.expected:
            entry["expected"] = c.expected
        if c.start is not None and c.end is not None:
            entry["start"], entry["end"] = c.start, c.end
        if c.fingerprint:
            entry["fingerprint"] = c.fingerprint
        out["claims"].append(entry)
    return out


def dump_yaml(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110)
