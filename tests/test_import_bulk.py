"""Case import in bulk (records.ClaimBatch, audit.append_many) writes what the per-claim rule
(records.upsert_claim, one claim at a time) writes: the same rows and the same audit events in the same order.
An import that commits batch by batch leaves the batches before a refused one stored, says which claims were
not, and finishes when run again; readers and writers get their turn between batches. The claims are read
from the file's YAML events one at a time, giving the values and errors of the whole-document loader."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import create_engine, func, insert, select, text

from factcheck.desk import audit, cases, records
from factcheck.desk.cases import CaseFileError, import_case
from factcheck.desk.db import Desk, check_ready, upgrade
from factcheck.desk.models import (
    Article,
    AuditEvent,
    Citation,
    Claim,
    ClaimEvidence,
    EvidenceUrl,
    Source,
    utcnow,
)
from factcheck.desk.sources import find_source, merge_source
from factcheck.settings import load_settings

ARTICLE_TEXT = "Die Stadt meldet 12 Prozent mehr Wohnungen. Die Miete stieg um 4 Prozent."


@pytest.fixture(autouse=True)
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cases, "CLAIM_BATCH", 4)


class Env:
    def __init__(self, url: str, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.settings = load_settings({"db": url, "evidence_dir": str(folder / "evidence")},
                                      environ={"FACTCHECK_ALLOW_PRIVATE_ADDRESSES": "1"}, desk_dir=folder)
        self.desk = Desk(url, check=False)
        upgrade(self.desk.engine)
        check_ready(self.desk.engine)


@pytest.fixture(params=["sqlite", "postgresql"])
def two_desks(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Env, Env]]:
    """Two fresh desks of one kind: the same file goes into one in bulk and into the other claim by claim."""
    if request.param == "sqlite":
        envs = (Env(f"sqlite:///{tmp_path / 'a.db'}", tmp_path / "a"), Env(f"sqlite:///{tmp_path / 'b.db'}",
                                                                          tmp_path / "b"))
        yield envs
        for e in envs:
            e.desk.dispose()
        return
    first = request.getfixturevalue("pg_url")
    admin = create_engine(request.getfixturevalue("pg_server"), isolation_level="AUTOCOMMIT")
    name = f"factcheck_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}" TEMPLATE template0'))
    try:
        envs = (Env(first, tmp_path / "a"), Env(first.rsplit("/", 1)[0] + "/" + name, tmp_path / "b"))
        yield envs
        for e in envs:
            e.desk.dispose()
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def case_data(n: int = 11) -> dict[str, Any]:
    """Claims with every field a case file has: rich and anonymous citations, URLs from the evidence section
    and URLs first named by a claim (some by two claims of one batch), offsets, fingerprints."""
    claims: list[dict[str, Any]] = []
    for k in range(n):
        c: dict[str, Any] = {"id": f"K{k}", "text": f"Die Zahl {k} stieg um {k * 3} Prozent.",
                             "cited": ["Stadt"] if k % 3 else
                             [{"name": "Zeitung", "phrase": "laut Zeitung", "second_hand": True, "via": "Agentur"},
                              {"name": "Insider", "kind": "anonymous"}],
                             "evidence": [f"https://stadt.example/p{k % 4}", f"https://new.example/n{k // 2}"]}
        if k % 2:
            c |= {"statement": f"The number {k} rose.", "expected": "verified", "language": "de",
                  "checkworthiness": 0.5 + k / 100}
        if k % 4 == 1:
            c |= {"start": 0, "end": 42, "fingerprint": f"c-0000000{k % 10}"}
        claims.append(c)
    return {"case": "bulk", "title": "Bulk vs one by one",
            "article": {"url": "https://stadt.example/artikel", "title": "Wohnungen", "language": "de",
                        "text": ARTICLE_TEXT},
            "sources": [{"name": "Stadt", "domains": ["stadt.example"]}, {"name": "Zeitung"},
                        {"name": "Agentur"}],
            "evidence": [{"url": f"https://stadt.example/p{i}", "source": "Stadt"} for i in range(3)],
            "claims": claims}


def write_case(folder: Path, data: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "case.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def one_by_one(env: Env, path: Path, actor: str = "tester") -> None:
    """The per-claim rule: each claim of the file through records.upsert_claim, in one transaction."""
    spec = cases.parse_case(path)
    with env.desk.session() as s:
        case, _ = records.ensure_case(s, spec.key, spec.title, actor, path=str(spec.path), via=cases.VIA)
        for src in spec.sources:
            merge_source(s, name=src.name, aliases=src.aliases, domains=src.domains, actor=actor)
        a = spec.article or {}
        article, _ = records.upsert_article(s, case, {k: a.get(k) for k in
                                                      ("url", "title", "outlet", "language", "published",
                                                       "file", "text")}, actor)
        for e in spec.evidence:
            found = find_source(s, e.source) if e.source else None
            records.queue_evidence_url(s, e.url, found.id if found else None, actor, e.file, via=cases.VIA)
        for cs in spec.claims:
            cited = []
            for cit in cs.cited:
                found = find_source(s, cit.name) if cit.kind != "anonymous" else None
                cited.append(records.citation_row(found.name if found else cit.name, cit.kind, cit.phrase,
                                                  cit.second_hand, cit.via, found.id if found else None, cit.url))
            span = {"start": cs.start, "end": cs.end} if cs.start is not None else {}
            records.upsert_claim(s, case, cs.key, cs.text, actor=actor, article_id=article.id,
                                 statement=cs.statement, expected=cs.expected, language=cs.language,
                                 checkworthiness=cs.checkworthiness, citations=cited, evidence_urls=cs.evidence,
                                 fingerprint=cs.fingerprint, via=cases.VIA, **span)


def in_bulk(env: Env, path: Path, actor: str = "tester") -> cases.ImportSummary:
    with env.desk.session() as s:
        return import_case(s, env.settings, path, actor=actor, commit=lambda: env.desk.commit(s))


def stored(env: Env) -> dict[str, list[tuple[Any, ...]]]:
    """Every row an import writes, by id, without the times and hashes (which differ from run to run)."""
    def rows(model: Any, *skip: str) -> list[tuple[Any, ...]]:
        cols = [c for c in model.__table__.c if c.name not in skip]
        return [tuple(r) for r in s.execute(select(*cols).order_by(model.__table__.c.id))]

    with env.desk.session() as s:
        return {
            "claim": rows(Claim, "created_at", "updated_at"),
            "citation": rows(Citation),
            "claim_evidence": rows(ClaimEvidence),
            "evidence_url": rows(EvidenceUrl, "created_at"),
            "source": rows(Source, "created_at"),
            "article": rows(Article, "created_at"),
            "audit_event": rows(AuditEvent, "at", "hash", "prev_hash"),
        }


def chain_ok(env: Env) -> audit.ChainReport:
    with env.desk.session() as s:
        return audit.verify_session(s)


def test_bulk_import_writes_the_rows_and_events_of_the_per_claim_rule(two_desks, tmp_path):
    """Mutation-checked: writing each claim's `evidence.queue` events after (not before) its
    `claim.create` in ClaimBatch._insert makes the audit rows differ and this test fail."""
    bulk, single = two_desks
    data = case_data()
    path = write_case(tmp_path / "case", data)
    summary = in_bulk(bulk, path)
    one_by_one(single, path)
    assert summary.claims == {"created": 11, "updated": 0, "unchanged": 0}
    got, want = stored(bulk), stored(single)
    assert len(want["claim"]) == 11 and len(want["audit_event"]) > 20
    for table in want:
        assert got[table] == want[table], table
    assert chain_ok(bulk).ok and chain_ok(single).ok

    # an edited file: a claim changed and one added in the middle of a batch, one claim's URL new
    data["claims"][5]["text"] = "Die Zahl 5 fiel."
    data["claims"][6]["evidence"] = ["https://new.example/fresh"]
    data["claims"].insert(7, {"id": "K99", "text": "Ein neuer Satz.", "cited": ["Stadt"],
                              "evidence": ["https://new.example/fresh", "https://new.example/other"]})
    write_case(tmp_path / "case", data)
    summary = in_bulk(bulk, path, actor="editor")
    one_by_one(single, path, actor="editor")
    assert summary.claims == {"created": 1, "updated": 2, "unchanged": 9}
    got, want = stored(bulk), stored(single)
    for table in want:
        assert got[table] == want[table], table
    assert chain_ok(bulk).ok and chain_ok(single).ok

    before = stored(bulk)
    assert in_bulk(bulk, path).claims == {"created": 0, "updated": 0, "unchanged": 12}
    assert stored(bulk) == before  # re-import writes nothing


def big_case(folder: Path, n: int = 30) -> Path:
    return write_case(folder, {
        "case": "big", "sources": [{"name": "Stadt"}],
        "claims": [{"id": f"C{k}", "text": f"Satz {k}.", "cited": ["Stadt"],
                    "evidence": [f"https://stadt.example/{k % 7}"]} for k in range(n)]})


def count(env: Any, model: Any) -> int:
    with env.desk.session() as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


def intrude(monkeypatch: pytest.MonkeyPatch, key: str) -> None:
    """Another writer stores claim `key` between the moment its batch reads what the desk holds and the
    moment it writes (here within the import's own transaction, so the test needs no second connection)."""
    real = records.ClaimBatch._stored_states

    def read_then_intrude(self: records.ClaimBatch, keys: Any) -> Any:
        states = real(self, keys)
        if key in keys:
            self.session.execute(insert(Claim).values(case_id=self.case.id, key=key, text="Von woanders.",
                                                      revision=0))
        return states

    monkeypatch.setattr(records.ClaimBatch, "_stored_states", read_then_intrude)


def test_a_refused_batch_leaves_the_batches_before_it_stored_and_says_so(desk, tmp_path, monkeypatch):
    """Claim C9 turns up while the third batch (C8 to C11) is written: that batch is refused, the first two
    stay, the error names what was not stored, and importing the file again stores the rest."""
    path = big_case(tmp_path / "case")
    intrude(monkeypatch, "C9")
    with pytest.raises(CaseFileError) as err, desk.desk.session() as s:
        import_case(s, desk.settings, path, actor="tester", commit=lambda: desk.desk.commit(s))
    message = str(err.value)
    assert "claims C8 to C11 and those after them were not stored" in message
    assert "stored the same claim at the same moment" in message
    assert "first 8 of 30 claims are stored; importing the file again stores the rest" in message
    assert str(path) in message and len(message.splitlines()) == 1
    with desk.desk.session() as s:
        keys = set(s.execute(select(Claim.key)).scalars())
    assert keys == {f"C{k}" for k in range(8)}
    assert chain_ok(desk).ok

    monkeypatch.undo()
    with desk.desk.session() as s:
        summary = import_case(s, desk.settings, path, actor="tester", commit=lambda: desk.desk.commit(s))
    assert summary.claims == {"created": 22, "updated": 0, "unchanged": 8}
    assert count(desk, Claim) == 30 and chain_ok(desk).ok


def test_without_commit_the_import_is_one_transaction(desk, tmp_path, monkeypatch):
    """The library's default: a refusal in the last batch leaves nothing at all."""
    path = big_case(tmp_path / "case", 10)
    intrude(monkeypatch, "C9")
    with pytest.raises(CaseFileError, match=r"claims C8 to C9: nothing was stored"), desk.desk.session() as s:
        import_case(s, desk.settings, path, actor="tester")
    assert count(desk, Claim) == 0 and count(desk, AuditEvent) == 0


def test_batches_are_written_as_they_are_read(memory_desk, tmp_path, monkeypatch):
    """The claims go to the database a batch at a time, read from the file again, not all kept."""
    path = big_case(tmp_path / "case", 10)
    sizes = []
    real = records.ClaimBatch.write

    def note(self: records.ClaimBatch, claims: Any) -> list[str]:
        sizes.append(len(claims))
        return real(self, claims)

    monkeypatch.setattr(records.ClaimBatch, "write", note)
    case_file = cases.read_case(path)
    assert case_file.count == 10 and not case_file.spec.claims  # checked whole, claims not kept
    with memory_desk.desk.session() as s:
        import_case(s, memory_desk.settings, path, actor="t", commit=lambda: memory_desk.desk.commit(s))
    assert sizes == [4, 4, 2]


def test_readers_and_writers_get_their_turn_between_batches(sqlite_desk, tmp_path):
    path = big_case(tmp_path / "case")
    other = Desk(sqlite_desk.url)
    seen = []
    try:
        with sqlite_desk.desk.session() as s:
            def commit() -> None:
                sqlite_desk.desk.commit(s)
                with other.engine.connect() as c:  # without waiting: the import holds no lock now
                    c.execute(text("PRAGMA busy_timeout=100"))
                    seen.append(c.execute(select(func.count()).select_from(Claim)).scalar_one())
                with other.session() as o:  # another writer, e.g. a review on the web desk
                    audit.record(o, actor="other", action="test.between", entity="test")

            import_case(s, sqlite_desk.settings, path, actor="tester", commit=commit)
    finally:
        other.dispose()
    assert seen == [0, 4, 8, 12, 16, 20, 24, 28, 30]
    assert count(sqlite_desk, Claim) == 30 and chain_ok(sqlite_desk).ok  # their events chain in between


def test_two_committing_imports_of_one_case_take_turns_on_postgresql(pg_desk, tmp_path):
    path = big_case(tmp_path / "case", 12)
    out: dict[str, Any] = {}

    def second() -> None:
        try:
            with pg_desk.desk.session() as s:
                out["summary"] = import_case(s, pg_desk.settings, path, actor="second",
                                             commit=lambda: pg_desk.desk.commit(s)).claims
        except Exception as exc:  # the test looks at what came back
            out["error"] = exc

    started: list[threading.Thread] = []
    with pg_desk.desk.session() as s:
        def commit() -> None:
            pg_desk.desk.commit(s)
            if not started:
                started.append(threading.Thread(target=second))
                started[0].start()
                time.sleep(1.0)
                assert started[0].is_alive(), "the second import should wait for the whole first one"

        first = import_case(s, pg_desk.settings, path, actor="first", commit=commit)
    started[0].join(60)
    assert "error" not in out, out.get("error")
    assert first.claims["created"] == 12 and out["summary"] == {"created": 0, "updated": 0, "unchanged": 12}


# ---------------------------------------------------------------- the event reader


def whole_file_way(path: Path) -> cases.CaseSpec:
    """What the import read before: the whole document through the YAML loader, then checked in order."""
    data = cases._load_whole(path, path.read_text(encoding="utf-8-sig"))
    spec = cases._case_spec(path, data)
    keys: dict[str, int] = {}
    spec.claims = [cases._claim_spec(c, path, keys) for c in data.get("claims") or []]
    return spec


def outcome(fn: Any, path: Path) -> Any:
    try:
        return fn(path)
    except CaseFileError as exc:
        return f"error: {exc}"


GOOD = [
    "case: a\nclaims:\n  - {id: C1, text: 'Eins.', checkworthiness: 0.5, start: 0, end: 4}\n",
    "claims:\n- id: 7\n  text: yes\n  language: no\n  statement: ~\n- id: C2\n  text: \"2024-01-02\"\n",
    "article: {published: 2025-09-01, title: x, text: \"  kept as is  \"}\nclaims: []\ncase: dated\n",
    "sources: &s [{name: Stadt}]\nclaims:\n  - &c {id: A, text: t, cited: [Stadt]}\n  - id: B\n    text: *c\n",
    "claims:\n  - id: C1\n    text: x\n    cited: [{name: Stadt, second_hand: false}]\nsources: [{name: Stadt}]\n",
    "claims:\n  - id: C1\n    text: |\n      zwei\n      Zeilen\n    evidence: [HTTPS://Example.ORG/A]\n",
    "claims:\n  - <<: {id: M, text: merged}\n",  # merge key: left to the loader
    "claims:\n  - !!map {id: T, text: tagged}\n",  # an explicit tag: left to the loader
    "claims:\n  - {id: D, text: x, text: y}\n",  # a duplicate key: the later value, as the loader
    "claims:\n",
    "",
    "---\nclaims: []\n...\n",
]
BAD = [
    "claims:\n  - {id: C1, text: ok}\n  - {id: C1, text: again}\n",  # duplicate id, naming the first line
    "claims:\n  - {\n     id: C1, text: ok}\n  - {\n     id: C1, text: again}\n",  # lines of the mappings' starts
    "claims:\n  - {id: C1, text: ok}\n  - {id: C2, txt: typo}\nsources: [{nam: x}]\n",  # sources' error first
    "claims:\n  - {id: C1, text: ok}\n  - {id: C2, text: [a]\n",  # malformed YAML after a bad claim
    "claims:\n  - {id: C1}\n  - {id: C2, text: x}\n: oops\n",
    "claims: {id: C1, text: x}\n",
    "case: a\ncase: b\nclaims: []\n",  # a duplicate top-level key: the loader's way
    "claims:\n  - *nothing\n",
    "- just\n- a list\n",
    "claims: []\n---\nclaims: []\n",
    "claims:\n  - {id: C1, text: x, start: 2025-13-45}\n",
    "claims:\n  - " + "[" * 60 + "]" * 60 + "\n",
    "claims:\n  - {id: C1, text: x, checkworthiness: 2}\n  - {id: C2, text: y, expected: maybe}\n",
    "unknown: 1\nclaims:\n  - {id: C1}\n",
]


@pytest.mark.parametrize("doc", GOOD + BAD)
def test_event_reader_gives_what_the_whole_document_loader_gives(doc, tmp_path):
    """Mutation-checked: giving mappings the line of their first key instead of their own start in
    `_Stream._value` changes the duplicate-id message and this test fails."""
    path = tmp_path / "claims" / "case.yaml"
    path.parent.mkdir()
    path.write_text(doc, encoding="utf-8")
    assert outcome(cases.parse_case, path) == outcome(whole_file_way, path)


def test_event_reader_values_and_lines_match_the_loader(tmp_path):
    data = case_data(5)
    doc = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    loaded = yaml.load(doc, Loader=cases._Loader)
    top = cases._LineDict()
    streamed = list(cases._Stream(doc).claims(top))
    assert streamed == loaded["claims"]
    assert [c.line for c in streamed] == [c.line for c in loaded["claims"]]
    assert [c["cited"][0].line for c in streamed if isinstance(c["cited"][0], dict)] == \
        [c["cited"][0].line for c in loaded["claims"] if isinstance(c["cited"][0], dict)]
    assert {k: v for k, v in top.items() if k != "claims"} == {k: v for k, v in loaded.items() if k != "claims"}
    assert top.line == loaded.line


def test_ordinary_case_files_do_not_need_the_whole_document_loader(tmp_path, monkeypatch):
    path = write_case(tmp_path / "case", case_data(5))

    def refuse(*_: Any) -> Any:
        raise AssertionError("the whole-document loader was used")

    monkeypatch.setattr(cases, "_load_whole", refuse)
    assert [c.key for c in cases.read_case(path).claims()] == [f"K{k}" for k in range(5)]


def test_bulk_rows_carry_utc_times(memory_desk, tmp_path):
    path = big_case(tmp_path / "case", 3)
    before = utcnow()
    with memory_desk.desk.session() as s:
        import_case(s, memory_desk.settings, path, actor="t")
    with memory_desk.desk.session() as s:
        times = [c.created_at for c in s.execute(select(Claim)).scalars()]
        times += [e.at for e in s.execute(select(AuditEvent)).scalars()]
    assert all(t.tzinfo is not None and t >= before for t in times)


def test_rows_numbered_out_of_order_are_refused():
    """The guard behind the audit chain's order: ids that do not rise in the order rows were given are an
    error, never a chain or claim list quietly out of order (a database is faked to number them backwards)."""
    from factcheck.desk import bulk

    class Numbered:
        def __init__(self, pairs: list[tuple[str, int]]) -> None:
            self.pairs = pairs

        def all(self) -> list[tuple[str, int]]:
            return self.pairs

    class Backwards:
        def get_bind(self) -> Any:
            return create_engine("sqlite://")

        def execute(self, _stmt: Any, rows: list[dict[str, Any]]) -> Numbered:
            return Numbered([(r["hash"], 100 - i) for i, r in enumerate(rows)])

    rows = [{"hash": f"h{i}"} for i in range(3)]
    with pytest.raises(bulk.OutOfOrder, match="audit_event rows out of their order"):
        bulk.insert_in_order(Backwards(), AuditEvent.__table__, rows, "hash")  # type: ignore[arg-type]
