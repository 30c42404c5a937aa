"""The desk's source registry: publishers and originators that claims cite."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from factcheck.desk import audit
from factcheck.desk.models import Source
from factcheck.errors import FactcheckError
from factcheck.settings import check_field


class UnknownSource(FactcheckError):
    pass


def _norm(name: str) -> str:
    return " ".join(name.replace("-", " ").split()).casefold()


def name_key(name: str) -> str:
    """A source name as the registry compares names (case, hyphens and spacing ignored)."""
    return _norm(name)


def source_dict(s: Source) -> dict[str, Any]:
    return {"name": s.name, "aliases": list(s.aliases or []), "domains": list(s.domains or []),
            "reviewed": s.reviewed}


class SourceIndex:
    """Every source of the desk by name, alias and domain, read in one query. One lookup reads the whole
    registry either way; a case file that declares and cites thousands of names keeps one index for all of
    them (reading the registry per name was quadratic: 2,000 sources, 35 claims/s). It stays current as long
    as every change to the registry in the session goes through `merge_source(..., index=)`."""

    def __init__(self, session: Session) -> None:
        self._by_key: dict[str, Source] = {}
        self._by_domain: dict[str, Source] = {}
        for s in session.execute(select(Source).order_by(Source.id)).scalars():
            self.add(s)

    def add(self, s: Source) -> None:
        for n in (s.name, *(s.aliases or [])):
            self._by_key.setdefault(_norm(n), s)
        for d in s.domains or []:
            self._by_domain.setdefault(_domain(d), s)

    def find(self, name: str) -> Source | None:
        """The first source (in id order) whose name or an alias matches, ignoring case, hyphens and spacing."""
        return self._by_key.get(_norm(name))

    def for_domain(self, host: str) -> Source | None:
        """The first source (in id order) whose domain is the host or a domain above it."""
        labels = _domain(host).split(".")
        hits = [s for s in (self._by_domain.get(".".join(labels[i:])) for i in range(len(labels))) if s is not None]
        return min(hits, key=lambda s: s.id) if hits else None


def find_source(session: Session, name: str) -> Source | None:
    """Exact match on name or alias, ignoring case, hyphens and spacing."""
    return SourceIndex(session).find(name)


def merge_source(
    session: Session, *, name: str, aliases: Sequence[str] = (), domains: Sequence[str] = (),
    actor: str, reviewed: bool = True, index: SourceIndex | None = None,
) -> tuple[Source, str]:
    """Create the source or add new aliases/domains to it. Returns (source, "created"|"updated"|"unchanged").
    Names, aliases and domains longer than the desk's field limits are refused (settings.FIELD_LIMITS)."""
    check_field("source_name", name)
    for a in aliases:
        check_field("alias", str(a))
    for d in domains:
        check_field("domain", str(d))
    src = (index or SourceIndex(session)).find(name)
    if src is None:
        src = Source(name=name.strip(), aliases=_dedup(aliases), domains=_dedup(d.lower() for d in domains),
                     reviewed=reviewed)
        session.add(src)
        session.flush()
        if index is not None:
            index.add(src)
        audit.record(session, actor=actor, action="source.create", entity="source", entity_id=src.id,
                     after=source_dict(src))
        return src, "created"
    before = source_dict(src)
    new_aliases = _dedup([*(src.aliases or []), *aliases])
    new_domains = _dedup([*(src.domains or []), *(d.lower() for d in domains)])
    if new_aliases == list(src.aliases or []) and new_domains == list(src.domains or []) and (
        src.reviewed or not reviewed
    ):
        return src, "unchanged"
    src.aliases, src.domains = new_aliases, new_domains
    src.reviewed = src.reviewed or reviewed
    session.flush()
    if index is not None:
        index.add(src)
    audit.record(session, actor=actor, action="source.update", entity="source", entity_id=src.id,
                 before=before, after=source_dict(src))
    return src, "updated"


def _domain(host: str) -> str:
    return host.lower().removeprefix("www.")


def source_for_domain(session: Session, host: str) -> Source | None:
    return SourceIndex(session).for_domain(host)


def list_sources(session: Session) -> list[Source]:
    return list(session.execute(select(Source).order_by(Source.name)).scalars())


def _dedup(items: Any) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for item in items:
        item = str(item).strip()
        if item and _norm(item) not in seen:
            seen.add(_norm(item))
            out.append(item)
    return out
