"""One write API (factcheck.desk.records) behind case import and article ingest: the same claim written by
either path gives the same audit events, and evidence URLs follow one queueing rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from factcheck.desk import records
from factcheck.desk.audit import verify_session
from factcheck.desk.cases import import_case
from factcheck.desk.ingest import claim_key, ingest
from factcheck.desk.models import AuditEvent, Claim, EvidenceUrl
from factcheck.desk.sources import merge_source

SENTENCE = "Fuel costs at the airline rose 18% in 2024, Reuters reported on Monday."
IMPORT_URL = "https://www.reuters.com/business/skyway-fuel-2024"
INGEST_URL = "https://www.reuters.com/business/skyway-fuel-2024-update"

CASE = """\
case: skyway-import
sources:
  - {{name: Reuters, domains: [reuters.com]}}
claims:
  - id: S1
    text: "{text}"
    cited: [Reuters]
    evidence: ["{url}"]
"""

HTML = """<html><head><title>Skyway Air cuts flights</title></head><body><article>
<h1>Skyway Air cuts flights</h1>{intro}
<p>Fuel costs at the airline rose 18% in 2024, <a href="{url}">Reuters reported</a> on Monday.</p>
</article></body></html>"""


def events_after(env, last_id: int) -> list[AuditEvent]:
    with env.desk.session() as s:
        return list(s.execute(select(AuditEvent).where(AuditEvent.id > last_id).order_by(AuditEvent.id)).scalars())


def last_event_id(env) -> int:
    with env.desk.session() as s:
        return s.execute(select(func.coalesce(func.max(AuditEvent.id), 0))).scalar_one()


def claim_id(env, key: str) -> int:
    with env.desk.session() as s:
        return s.execute(select(Claim.id).where(Claim.key == key)).scalar_one()


def claim_fingerprint_id(env, fingerprint: str) -> int:
    with env.desk.session() as s:
        return s.execute(select(Claim.id).where(Claim.fingerprint == fingerprint)).scalar_one()


def keys(d: Any) -> tuple[str, ...] | None:
    return tuple(sorted(d)) if isinstance(d, dict) else d


def shape(ev: AuditEvent) -> tuple[str, str, tuple[str, ...] | None, tuple[str, ...] | None]:
    """What must not depend on the write path: action, entity, and the keys of before/after."""
    return ev.action, ev.entity, keys(ev.before), keys(ev.after)


def run_import(env, folder: Path) -> dict[str, list[AuditEvent]]:
    """Import, import changed (new claim text), import unchanged; the audit events of each run."""
    folder.mkdir()
    path = folder / "case.yaml"
    runs = {}
    for name, text in (("first", SENTENCE), ("changed", SENTENCE.replace("18%", "19%")),
                       ("unchanged", SENTENCE.replace("18%", "19%"))):
        path.write_text(CASE.format(text=text, url=IMPORT_URL), encoding="utf-8")
        start = last_event_id(env)
        with env.desk.session() as s:
            import_case(s, env.settings, path, actor="tester")
        runs[name] = events_after(env, start)
    return runs


def run_ingest(env, folder: Path) -> dict[str, list[AuditEvent]]:
    """Ingest, ingest changed (a new paragraph moves the claim), ingest unchanged; the events of each run."""
    folder.mkdir()
    path = folder / "story.html"
    runs = {}
    for name, intro in (("first", ""), ("changed", "\n<p>Updated.</p>"), ("unchanged", "\n<p>Updated.</p>")):
        path.write_text(HTML.format(intro=intro, url=INGEST_URL), encoding="utf-8")
        start = last_event_id(env)
        summary = ingest(env.desk, env.settings, str(path), actor="tester", case="skyway-ingest")
        assert [c.urls for c in summary.claims] == [[INGEST_URL]]
        runs[name] = events_after(env, start)
    return runs


def test_import_and_ingest_write_the_same_events_for_the_same_claim(desk, tmp_path) -> None:
    imported = run_import(desk, tmp_path / "import")
    ingested = run_ingest(desk, tmp_path / "ingest")
    claims = {"import": claim_id(desk, "S1"), "ingest": claim_fingerprint_id(desk, claim_key(SENTENCE))}

    by_path: dict[str, dict[str, list[AuditEvent]]] = {"import": imported, "ingest": ingested}
    queue_shapes, claim_shapes = set(), set()
    for path, runs in by_path.items():
        url = IMPORT_URL if path == "import" else INGEST_URL
        first = runs["first"]
        # both paths audit the newly queued URL, before the claim that points at it
        (queued,) = [e for e in first if e.action == "evidence.queue"]
        assert queued.entity == "evidence_url" and queued.after["url"] == url, path
        assert queued.after["via"] == path
        queue_shapes.add(shape(queued))
        mine = [e for e in first if e.claim_id == claims[path]]
        assert [e.action for e in mine] == ["claim.create"], path
        assert first.index(queued) < first.index(mine[0])
        (created,) = mine
        assert created.before is None and created.after["evidence"] == [url]
        assert [c["name"] for c in created.after["cited"]] == ["Reuters"]
        # a changed re-run: one claim.update, before -> after; the URL is not queued again
        changed = runs["changed"]
        updates = [e for e in changed if e.claim_id == claims[path]]
        assert [e.action for e in updates] == ["claim.update"], path
        (update,) = updates
        differs = {k for k in update.after if update.before[k] != update.after[k]}
        assert differs == ({"text"} if path == "import" else {"start", "end"}), path
        assert not [e for e in changed if e.action.startswith("evidence.")], path
        claim_shapes |= {("create", *shape(created)[1:]), ("update", *shape(update)[1:])}
        # an unchanged re-run writes no claim, article or evidence event
        assert [e.action for e in runs["unchanged"]] == ([] if path == "import" else ["article.ingest"]), path

    assert len(queue_shapes) == 1  # the same event whichever path queued the URL
    with desk.desk.session() as s:
        states = []
        for cid in claims.values():
            c = s.get(Claim, cid)
            assert c is not None and c.revision == 1
            states.append(keys(records.claim_state(c, s)))
        assert verify_session(s).ok
    # one claim.create shape and one claim.update shape, whichever path: before -> after as claim_state
    assert claim_shapes == {("create", "claim", None, states[0]), ("update", "claim", states[0], states[0])}
    assert states[0] == states[1]


def test_import_links_a_url_that_ingest_queued_without_queueing_it_again(memory_desk, tmp_path) -> None:
    env = memory_desk
    (tmp_path / "a").mkdir()
    story = tmp_path / "a" / "story.html"
    story.write_text(HTML.format(intro="", url=INGEST_URL), encoding="utf-8")
    ingest(env.desk, env.settings, str(story), actor="tester")
    start = last_event_id(env)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "case.yaml").write_text(CASE.format(text=SENTENCE, url=INGEST_URL), encoding="utf-8")
    with env.desk.session() as s:
        import_case(s, env.settings, tmp_path / "b" / "case.yaml", actor="tester")
    actions = [e.action for e in events_after(env, start)]
    assert "evidence.queue" not in actions and actions.count("claim.create") == 1
    with env.desk.session() as s:
        (eu,) = s.execute(select(EvidenceUrl)).scalars()
        ids = {link.evidence_url_id for c in s.execute(select(Claim)).scalars() for link in c.evidence_links}
        assert ids == {eu.id} and eu.status == "queued"


def test_queue_evidence_url_one_rule(memory_desk) -> None:
    env = memory_desk
    with env.desk.session() as s:
        one, _ = merge_source(s, name="One", actor="t")
        two, _ = merge_source(s, name="Two", actor="t")
        got: list[str] = []
        eu = records.queue_evidence_url(s, "https://a.example/x", None, "t", via="test", queued=got)
        assert eu.status == "queued" and got == ["https://a.example/x"]
        eu.status = "captured"
        same = records.queue_evidence_url(s, "https://a.example/x", one.id, "t", "pages/x.html", via="test",
                                          queued=got)
        assert same is eu and eu.status == "captured" and (eu.source_id, eu.file) == (one.id, "pages/x.html")
        records.queue_evidence_url(s, "https://a.example/x", two.id, "t", "pages/y.html", via="test", queued=got)
        assert (eu.source_id, eu.file) == (one.id, "pages/x.html") and got == ["https://a.example/x"]
        events = [(e.action, e.before, e.after) for e in s.execute(
            select(AuditEvent).where(AuditEvent.entity == "evidence_url").order_by(AuditEvent.id)).scalars()]
    assert events == [
        ("evidence.queue", None, {"url": "https://a.example/x", "source_id": None, "file": None, "via": "test"}),
        ("evidence.update", {"source_id": None, "file": None},
         {"source_id": one.id, "file": "pages/x.html", "via": "test"}),
    ]


def test_upsert_claim_keeps_fields_left_out_and_replaces_links(memory_desk) -> None:
    env = memory_desk
    with env.desk.session() as s:
        case, created = records.ensure_case(s, "k", "K", "t", via="test")
        assert created and records.ensure_case(s, "k", "other", "t", via="test") == (case, False)
        art, outcome = records.upsert_article(s, case, {"url": "https://news.example/a", "text": "x"}, "t")
        assert outcome == "created"
        assert records.upsert_article(s, case, {"url": "https://news.example/a", "text": "x"}, "t") == (art, "unchanged")
        assert records.upsert_article(s, case, {"title": "T"}, "t") == (art, "updated")

        c, created, changed = records.upsert_claim(
            s, case, "K1", "Text.", actor="t", statement="English.", expected="verified",
            citations=[records.citation_row("Someone", "anonymous")],
            evidence_urls=["https://a.example/1", "https://a.example/2"], via="test")
        assert created and changed and c.article_id is None
        # an article-style write: no statement or expected given, so both are kept; the article is filled in
        c2, created, changed = records.upsert_claim(
            s, case, "K1", "Text.", actor="t", article_id=art.id, start=0, end=5,
            citations=[records.citation_row("Someone", "anonymous")], evidence_urls=["https://a.example/2"],
            via="test")
        assert c2 is c and not created and changed
        assert (c.statement, c.expected, c.start, c.article_id) == ("English.", "verified", 0, art.id)
        assert [link.evidence_url.url for link in c.evidence_links] == ["https://a.example/2"]  # replaced
        assert s.execute(select(func.count()).select_from(EvidenceUrl)).scalar_one() == 2  # the URL stays
        # the same write again: nothing changes, nothing is recorded
        n = s.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
        assert records.upsert_claim(
            s, case, "K1", "Text.", actor="t", article_id=art.id + 1, start=0, end=5,
            citations=[records.citation_row("Someone", "anonymous")], evidence_urls=["https://a.example/2"],
            via="test") == (c, False, False)  # article_id is only filled in, never moved
        assert s.execute(select(func.count()).select_from(AuditEvent)).scalar_one() == n
        update = s.execute(select(AuditEvent).where(AuditEvent.action == "claim.update")).scalar_one()
        assert update.before["evidence"] == ["https://a.example/1", "https://a.example/2"]
        assert update.after["evidence"] == ["https://a.example/2"]
        assert c.revision == 1
