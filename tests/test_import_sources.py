"""Case import with many sources: the registry is read once (SourceIndex), and it answers as reading every
source in id order does (the reference scans below)."""

from __future__ import annotations

from pathlib import Path

import yaml
from sqlalchemy import select

from factcheck.desk.cases import import_case
from factcheck.desk.models import Citation, Claim, Source
from factcheck.desk.sources import SourceIndex, merge_source, name_key


def find_source(session, name: str) -> Source | None:
    """The reference: every source in id order, the first whose name or an alias matches."""
    key = name_key(name)
    for s in session.execute(select(Source).order_by(Source.id)).scalars():
        if name_key(s.name) == key or any(name_key(a) == key for a in s.aliases or []):
            return s
    return None


def source_for_domain(session, host: str) -> Source | None:
    """The reference: every source in id order, the first with the host's domain or a domain above it."""
    host = host.lower().removeprefix("www.")
    for s in session.execute(select(Source).order_by(Source.id)).scalars():
        for d in s.domains or []:
            d = d.lower().removeprefix("www.")
            if host == d or host.endswith("." + d):
                return s
    return None


def _write(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def _import(desk, path: Path):
    with desk.desk.session() as s:
        return import_case(s, desk.settings, path, actor="tester")


def _citations(desk) -> dict[str, list[tuple[str, str | None]]]:
    with desk.desk.session() as s:
        rows = s.execute(
            select(Claim.key, Citation.name, Source.name).join(Citation, Citation.claim_id == Claim.id)
            .outerjoin(Source, Source.id == Citation.source_id).order_by(Claim.key, Citation.id)
        ).all()
    out: dict[str, list[tuple[str, str | None]]] = {}
    for key, cited, source in rows:
        out.setdefault(key, []).append((cited, source))
    return out


def test_many_sources_resolve_as_find_source_does(desk, tmp_path):
    n = 300
    data = {
        "case": "many-sources", "title": "Many sources",
        "sources": [{"name": f"Outlet {i}", "aliases": [f"O-{i}"]} for i in range(n)],
        "claims": [
            {"id": f"C{k}", "text": f"Claim number {k} says something about {k % 7} things.",
             # by name, by alias, and by a spelling that differs only in case, hyphens and spaces
             "cited": [f"Outlet {k % n}", f"O-{(k * 7) % n}", f"outlet  {(k * 13) % n}".upper()]}
            for k in range(400)
        ],
    }
    _import(desk, _write(tmp_path / "case.yaml", data))
    cites = _citations(desk)
    assert len(cites) == 400
    with desk.desk.session() as s:
        for k in (0, 1, 299, 300, 399):
            want = [find_source(s, f"Outlet {k % n}"), find_source(s, f"O-{(k * 7) % n}"),
                    find_source(s, f"Outlet {(k * 13) % n}")]
            assert all(w is not None for w in want)
            assert [src for _c, src in cites[f"C{k}"]] == [w.name for w in want]  # type: ignore[union-attr]


def test_alias_added_by_the_file_resolves_its_claims(desk, tmp_path):
    """A source already on the desk gets a new alias from the case file; the file's claims cite the alias."""
    with desk.desk.session() as s:
        merge_source(s, name="Der Spiegel", actor="tester")
    data = {
        "case": "alias", "title": "New alias",
        "sources": [{"name": "Der Spiegel", "aliases": ["Spiegel Online"]}, {"name": "Handelsblatt"}],
        "claims": [{"id": "C1", "text": "Spiegel reported the figure first.", "cited": ["Spiegel Online"]},
                   {"id": "C2", "text": "Handelsblatt reported it too.", "cited": ["handelsblatt"]}],
    }
    _import(desk, _write(tmp_path / "case.yaml", data))
    assert _citations(desk) == {"C1": [("Der Spiegel", "Der Spiegel")], "C2": [("Handelsblatt", "Handelsblatt")]}


def test_index_prefers_the_oldest_match(desk):
    """Two sources claiming one alias: the index answers with the first in id order, as the scan does."""
    with desk.desk.session() as s:
        merge_source(s, name="Alpha", aliases=["AP"], actor="tester")
        merge_source(s, name="Beta", aliases=["AP"], actor="tester")
        index = SourceIndex(s)
        assert index.find("ap") is find_source(s, "ap")
        assert index.find("AP").name == "Alpha"  # type: ignore[union-attr]
        assert index.find("Gamma") is None


def test_domains_resolve_as_source_for_domain_does(desk):
    with desk.desk.session() as s:
        merge_source(s, name="Wire", domains=["wire.example", "www.agency.example"], actor="tester")
        merge_source(s, name="Desk", domains=["news.wire.example"], actor="tester")
        index = SourceIndex(s)
        for host in ("wire.example", "www.wire.example", "news.wire.example", "a.news.wire.example",
                     "agency.example", "sub.agency.example", "other.example", "example", "wire.example.org"):
            want = source_for_domain(s, host)
            got = index.for_domain(host)
            assert (got.name if got else None) == (want.name if want else None), host
        assert index.for_domain("news.wire.example").name == "Wire"  # type: ignore[union-attr]
