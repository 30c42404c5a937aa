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


def find_source(session: Session, name: str) -> Source | None:
    """Exact match on name or alias, ignoring case, hyphens and spacing."""
    key = _norm(name)
    for s in session.execute(select(Source)).scalars():
        if _norm(s.name) == key or any(_norm(a) == key for a in s.aliases or []):
            return s
    return None


def merge_source(
    session: Session, *, name: str, aliases: Sequence[str] = (), domains: Sequence[str] = (),
    actor: str, reviewed: bool = True,
) -> tuple[Source, str]:
    """Create the source or add new aliases/domains to it. Returns (source, "created"|"updated"|"unchanged").
    Names, aliases and domains longer than the desk's field limits are refused (settings.FIELD_LIMITS)."""
    check_field("source_name", name)
    for a in aliases:
        check_field("alias", str(a))
    for d in domains:
        check_field("domain", str(d))
    src = find_source(session, name)
    if src is None:
        src = Source(name=name.strip(), aliases=_dedup(aliases), domains=_dedup(d.lower() for d in domains),
                     reviewed=reviewed)
        session.add(src)
        session.flush()
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
    audit.record(session, actor=actor, action="source.update", entity="source", entity_id=src.id,
                 before=before, after=source_dict(src))
    return src, "updated"


def source_for_domain(session: Session, host: str) -> Source | None:
    host = host.lower().removeprefix("www.")
    for s in session.execute(select(Source)).scalars():
        for d in s.domains or []:
            d = d.lower().removeprefix("www.")
            if host == d or host.endswith("." + d):
                return s
    return None


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
