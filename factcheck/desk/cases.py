"""Case files (YAML) in and out of the desk.

Import checks the whole file first (a bad file stores nothing), then stores it, the claims in batches read
from the file again one claim at a time; the caller may commit after each batch (`import_case`'s `commit`).
Claims are keyed by their `id`, so re-importing updates in place and an unchanged file writes nothing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select, text
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
from factcheck.desk.sources import SourceIndex, merge_source, name_key
from factcheck.errors import FactcheckError
from factcheck.settings import SURROGATE, FieldError, Settings, check_field
from factcheck.text.urls import BadUrl, normalise_evidence_url, normalise_url


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
"""Deepest nesting of lists and mappings a case file may have (a real one needs about five)."""
CLAIM_BATCH = 1000
"""Claims stored together: read from the file, written with one INSERT per table, committed (with `commit`)."""
_IMPORT_LOCK = 0x696D7074  # PostgreSQL advisory lock space for imports that commit as they go ("impt")


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


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CaseFileError(f"{path}: no such case file") from None
    except OSError as exc:
        raise CaseFileError(f"{path}: cannot read: {exc.strerror}") from None
    if b"\x00" in raw[:8192]:
        raise CaseFileError(f"{path}: not a YAML case file (binary content)")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CaseFileError(f"{path}: not UTF-8 text (byte {exc.start})") from None


def _load_whole(path: Path, text: str) -> dict[str, Any]:
    """The whole document through the YAML loader (what `_Stream` leaves to it), as a checked top mapping."""
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
    except (ValueError, OverflowError) as exc:  # a value the loader cannot make, e.g. the date 2025-13-45
        raise CaseFileError(f"{path}: a value cannot be read: {exc}") from None
    if not isinstance(data, dict):
        raise CaseFileError(f"{path}: a case file must be a mapping with `claims:` (and optionally sources, evidence)")
    return data


_STR_TAG = "tag:yaml.org,2002:str"
_IMPLICIT = (None, "!")  # an event's tag when the document gives none
_PLAIN_TYPED = frozenset(k for k in _Loader.yaml_implicit_resolvers if k)
"""First characters with which a plain (unquoted) scalar may be something other than text (a number, a
date, true/false, null); any other plain scalar is text without asking the resolver."""


class _Unusual(Exception):
    """Something `_Stream` leaves to the whole-document loader: explicit tags, merge keys, keys that are not
    text, an alias of an unfinished collection, a duplicate anchor or top-level key, several documents,
    nesting past MAX_NESTING, malformed YAML."""


class _Stream:
    """A case file read from the YAML parser's events (libyaml's where PyYAML has it), one claim at a time.

    It builds the values the whole-document loader would (mappings as `_LineDict` with their line; plain
    scalars resolved and constructed by the same loader's resolver and constructors; aliases as the same
    object), without composing the whole document's node tree first, which is most of that loader's time.
    The values of what case files do not use (see `_Unusual`) are left to the loader, which also gives the
    errors: the reader raises `_Unusual` and the caller reads the file the old way."""

    def __init__(self, text: str) -> None:
        self.loader = _Loader(text)
        self.anchors: dict[str, Any] = {}

    def claims(self, top: _LineDict | None = None) -> Iterator[Any]:
        """Each item of the top-level `claims` list, in order; the other top-level entries go into `top`
        (`claims` itself as an empty list there when it is a list, else as its value). The whole document is
        read by the time the iterator ends."""
        get = self.loader.get_event
        try:
            if type(get()) is not yaml.StreamStartEvent or type(get()) is not yaml.DocumentStartEvent:
                raise _Unusual
            first = get()
            if type(first) is not yaml.MappingStartEvent or first.tag not in _IMPLICIT or first.anchor is not None:
                raise _Unusual
            if top is not None:
                top.line = first.start_mark.line + 1
            seen: set[str] = set()
            ev = get()
            while type(ev) is not yaml.MappingEndEvent:
                key = self._key(ev)
                if key in seen:
                    raise _Unusual
                seen.add(key)
                ev = get()
                if key == "claims" and type(ev) is yaml.SequenceStartEvent and ev.tag in _IMPLICIT \
                        and ev.anchor is None:
                    if top is not None:
                        top[key] = []
                    ev = get()
                    while type(ev) is not yaml.SequenceEndEvent:
                        yield self._value(ev, 3)
                        ev = get()
                else:
                    value = self._value(ev, 2)
                    if top is not None:
                        top[key] = value
                ev = get()
            if type(get()) is not yaml.DocumentEndEvent or type(get()) is not yaml.StreamEndEvent:
                raise _Unusual
        except yaml.YAMLError:
            raise _Unusual from None
        finally:
            self.loader.dispose()

    def _key(self, ev: Any) -> str:
        if type(ev) is not yaml.ScalarEvent or ev.anchor is not None or ev.tag not in _IMPLICIT:
            raise _Unusual
        value: str = ev.value
        if ev.implicit[0] and (not value or value[0] in _PLAIN_TYPED) \
                and self.loader.resolve(yaml.ScalarNode, value, ev.implicit) != _STR_TAG:
            raise _Unusual  # a number, a merge key (<<) and so on
        return value

    def _value(self, ev: Any, depth: int) -> Any:
        """The value that starts with event `ev` (its events read up to its end)."""
        kind = type(ev)
        value: Any
        if kind is yaml.ScalarEvent:
            value = ev.value
            if ev.implicit[0] and (not value or value[0] in _PLAIN_TYPED):
                tag = self.loader.resolve(yaml.ScalarNode, value, ev.implicit)
                if tag != _STR_TAG:
                    try:
                        value = self.loader.yaml_constructors[tag](
                            self.loader, yaml.ScalarNode(tag, value, ev.start_mark, ev.end_mark))
                    except Exception:  # e.g. a date that does not exist: whatever the loader says of it
                        raise _Unusual from None
        elif kind is yaml.MappingStartEvent:
            if depth > MAX_NESTING:
                raise _Unusual
            get = self.loader.get_event
            value = _LineDict()
            value.line = ev.start_mark.line + 1
            item = get()
            while type(item) is not yaml.MappingEndEvent:
                key = self._key(item)
                value[key] = self._value(get(), depth + 1)
                item = get()
        elif kind is yaml.SequenceStartEvent:
            if depth > MAX_NESTING:
                raise _Unusual
            get = self.loader.get_event
            value = []
            item = get()
            while type(item) is not yaml.SequenceEndEvent:
                value.append(self._value(item, depth + 1))
                item = get()
        elif kind is yaml.AliasEvent:
            if ev.anchor not in self.anchors:
                raise _Unusual  # undefined, or the alias of a collection not finished yet
            return self.anchors[ev.anchor]
        else:
            raise _Unusual
        if ev.tag not in _IMPLICIT:
            raise _Unusual
        if ev.anchor is not None:
            if ev.anchor in self.anchors:
                raise _Unusual
            self.anchors[ev.anchor] = value
        return value


@dataclass
class CaseFile:
    """A case file checked whole (`read_case`), ready to be stored: the case, article, sources and evidence
    in `spec`, and the claims read again in order by `claims()` (from the file's text, one at a time, not
    kept)."""

    spec: CaseSpec
    count: int
    """How many claims it has."""
    cited: dict[str, str]
    """Each name cited other than anonymously, with the first claim that cites it (in file order)."""
    _items: Callable[[], Iterable[Any]]

    def claims(self) -> Iterator[ClaimSpec]:
        keys: dict[str, int] = {}
        for c in self._items():
            yield _claim_spec(c, self.spec.path, keys)


def read_case(path: str | Path) -> CaseFile:
    """Read and check a whole case file (every error a bad file has is raised here, before anything is
    stored), keeping only what storing it needs first; `CaseFile.claims` reads the claims again."""
    path = Path(path)
    text = _read_text(path)
    top = _LineDict()
    items: Callable[[], Iterable[Any]]
    try:
        survey = _survey(path, _Stream(text).claims(top))

        def items() -> Iterator[Any]:
            return _Stream(text).claims()
    except _Unusual:
        top = _load_whole(path, text)  # type: ignore[assignment]
        listed = top.get("claims")
        listed = listed if isinstance(listed, list) else []
        survey = _survey(path, listed)

        def items() -> Iterable[Any]:
            return listed
    spec = _case_spec(path, top)
    count, cited, error = survey
    if error is not None:
        raise error
    return CaseFile(spec, count, cited, items)


def parse_case(path: str | Path) -> CaseSpec:
    """A whole case file with its claims, checked (`read_case`, the claims kept in `claims`)."""
    case_file = read_case(path)
    case_file.spec.claims = list(case_file.claims())
    return case_file.spec


def _survey(path: Path, items: Iterable[Any]) -> tuple[int, dict[str, str], CaseFileError | None]:
    """Check each claim; count them, note the names they cite, and keep the first error (raised once the
    rest of the file is known to parse and its other parts to be right, as when the file was read whole)."""
    keys: dict[str, int] = {}
    cited: dict[str, str] = {}
    error: CaseFileError | None = None
    count = 0
    for c in items:
        count += 1
        if error is not None:
            continue
        try:
            cs = _claim_spec(c, path, keys)
        except CaseFileError as exc:
            error = exc
            continue
        for cit in cs.cited:
            if cit.kind != "anonymous":
                cited.setdefault(cit.name, cs.key)
    return count, cited, error


def _case_spec(path: Path, data: dict[str, Any]) -> CaseSpec:
    """The case file's parts other than its claims, checked (in the order errors are reported)."""
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
    if claims is not None and not isinstance(claims, list):
        raise CaseFileError(f"{_where(path, data)}: `claims` must be a list")
    return spec


def _claim_spec(c: Any, path: Path, keys: dict[str, int]) -> ClaimSpec:
    """One claim of the file, checked; `keys` (the ids seen so far, with their lines) gains its id."""
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
    return ClaimSpec(
        key=key, text=claim_text,
        statement=_str(c.get("statement"), f"claim {key}: statement", path, c, kind="statement"),
        cited=_citations(c.get("cited"), key, path, c), evidence=ev, expected=expected,
        language=_str(c.get("language"), f"claim {key}: language", path, c, kind="language"), checkworthiness=cw,
        start=span[0], end=span[1],
        fingerprint=_str(c.get("fingerprint"), f"claim {key}: fingerprint", path, c, kind="claim_id"),
    )


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


def import_case(session: Session, settings: Settings, path: str | Path, *, actor: str,
                commit: Callable[[], None] | None = None) -> ImportSummary:
    """Check the whole file (`read_case`), then store it: the case, sources, article and evidence, then the
    claims in batches of CLAIM_BATCH (`records.ClaimBatch`), reading them from the file again batch by batch.

    Without `commit` all of it is one transaction of the caller's. With `commit` (which commits `session`,
    e.g. `Desk.commit`) it is called after the evidence and after each batch of claims, so readers and other
    writers get their turn and a big file is not held in one transaction; then a batch the database refuses
    leaves the batches before it stored, and the error says which claims were not stored. A bad file is
    refused before anything is stored either way; re-importing the same file writes nothing."""
    case_file = read_case(path)
    spec = case_file.spec
    summary = ImportSummary(case=spec.key)
    # names compare as the registry compares them (case, hyphens and spacing ignored), so a name the check
    # lets through is the name the import resolves
    declared = {name_key(s.name) for s in spec.sources} | {name_key(a) for s in spec.sources for a in s.aliases}
    index = SourceIndex(session)  # the registry read once, kept up to date by merge_source below

    def known(name: str) -> bool:
        return name_key(name) in declared or index.find(name) is not None

    for e in spec.evidence:
        if e.source and not known(e.source):
            raise CaseFileError(f"{spec.path}: evidence {e.url} names unknown source {e.source!r}")
    for name, key in case_file.cited.items():
        if not known(name):
            raise CaseFileError(
                f"{spec.path}: claim {key} cites unknown source {name!r} (add it under `sources:`, "
                "or mark an unnamed source `kind: anonymous`)"
            )

    with _one_import_at_a_time(session, spec.key) if commit is not None else contextlib.nullcontext():
        try:
            case, article_id = _store_head(session, settings, spec, summary, actor, index)
            if commit is not None:
                commit()
        except (IntegrityError, DataError) as exc:  # the caller's session rolls everything back
            raise CaseFileError(f"{spec.path}: nothing was stored: {explain_refusal(exc)}") from exc
        except FieldError as exc:
            raise CaseFileError(f"{spec.path}: nothing was stored: {exc}") from None
        _store_claims(session, case_file, case, article_id, index, summary, actor, commit)
    return summary


@contextlib.contextmanager
def _one_import_at_a_time(session: Session, key: str) -> Iterator[None]:
    """On PostgreSQL, an import that commits as it goes holds a lock on its case key until it ends (on a
    connection of its own), so a second import of the same case waits for the whole first one, as it
    does for a one-transaction import (records.ensure_case)."""
    engine = session.get_bind().engine
    if engine.dialect.name != "postgresql":
        yield
        return
    args = {"space": _IMPORT_LOCK, "key": zlib.crc32(key.encode("utf-8")) - 2**31}
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:space, :key)"), args)
        conn.commit()
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:space, :key)"), args)
            conn.commit()


def _store_head(session: Session, settings: Settings, spec: CaseSpec, summary: ImportSummary,
                actor: str, index: SourceIndex) -> tuple[Case, int | None]:
    """The case, its sources, article and evidence; returns the case and its article's id."""
    case, _ = records.ensure_case(session, spec.key, spec.title, actor, path=str(spec.path), via=VIA)
    for s in spec.sources:
        _, outcome = merge_source(session, name=s.name, aliases=s.aliases, domains=s.domains, actor=actor,
                                  index=index)
        summary.sources[outcome] += 1

    if spec.article:
        _import_article(session, settings, case, spec, actor)

    known: dict[str, EvidenceUrl] = {}
    urls = sorted({e.url for e in spec.evidence})
    for i in range(0, len(urls), 500):
        for eu in session.execute(select(EvidenceUrl).where(EvidenceUrl.url.in_(urls[i:i + 500]))).scalars():
            known[eu.url] = eu
    run: list[records.EvidenceRef] = []  # new URLs without a saved copy: queued together

    def queue_run() -> None:
        if not run:
            return
        records.queue_new_evidence_urls(session, run, actor, via=VIA)
        summary.evidence["queued"] += len(run)
        run.clear()

    for e in spec.evidence:
        src = index.find(e.source) if e.source else None
        url = normalise_evidence_url(e.url)
        if e.path is None and url not in known:
            run.append(records.EvidenceRef(url, src.id if src else None, e.file))
            continue
        queue_run()
        eu = records.queue_evidence_url(session, e.url, src.id if src else None, actor, e.file, via=VIA,
                                        known=known)
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
    queue_run()
    article_id = session.execute(select(Article.id).where(Article.case_id == case.id).order_by(Article.id)).scalar()
    return case, article_id


def _store_claims(session: Session, case_file: CaseFile, case: Case, article_id: int | None,
                  sources: SourceIndex, summary: ImportSummary, actor: str,
                  commit: Callable[[], None] | None) -> None:
    path = case_file.spec.path
    batch = records.ClaimBatch(session, case, actor=actor, via=VIA, article_id=article_id)
    chunk: list[records.ClaimInput] = []
    done = 0

    def write() -> None:
        nonlocal done
        try:
            outcomes = batch.write(chunk)
            if commit is not None:
                commit()
        except (IntegrityError, DataError) as exc:
            which = f"claims {chunk[0].key} to {chunk[-1].key}" if len(chunk) > 1 else f"claim {chunk[0].key}"
            if commit is None or not done:
                raise CaseFileError(f"{path}: {which}: nothing was stored: {explain_refusal(exc)}") from exc
            raise CaseFileError(
                f"{path}: {which} and those after them were not stored: {explain_refusal(exc)} "
                f"(the case and its first {done} of {case_file.count} claims are stored; importing the file "
                "again stores the rest)") from exc
        except FieldError as exc:
            raise CaseFileError(f"{path}: nothing was stored: {exc}") from None
        for outcome in outcomes:
            summary.claims[outcome] += 1
        done += len(chunk)
        chunk.clear()

    for cs in case_file.claims():
        chunk.append(_claim_input(cs, sources))
        if len(chunk) >= CLAIM_BATCH:
            write()
    if chunk:
        write()


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


def _claim_input(cs: ClaimSpec, sources: SourceIndex) -> records.ClaimInput:
    """One claim of the file as `records.ClaimBatch` takes it (cited names looked up in the source registry)."""
    cited = []
    for cit in cs.cited:
        src = sources.find(cit.name) if cit.kind != "anonymous" else None
        cited.append(records.citation_row(src.name if src else cit.name, cit.kind, cit.phrase, cit.second_hand,
                                          cit.via, source_id=src.id if src else None, url=cit.url))
    span: dict[str, Any] = {"start": cs.start, "end": cs.end} if cs.start is not None else {}
    return records.ClaimInput(cs.key, cs.text, statement=cs.statement, expected=cs.expected, language=cs.language,
                              checkworthiness=cs.checkworthiness, fingerprint=cs.fingerprint, citations=cited,
                              evidence_urls=cs.evidence, **span)


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
