"""The triage queue's stored order (#15): the database's queue (membership, every sort, every status filter,
pages in both directions) equals the rule computed from scratch (`queue.evaluate`) on a desk with mixed
claims, after each kind of change that moves claims in or out: bulk verdicts, a person's review, a run that
is still going and then finishes (by attribute and by UPDATE), a changed page, new evidence tied or untied,
a new claim. The indexes serve every sort (EXPLAIN), and the migration backfills an older desk.
SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
import warnings
from datetime import timedelta
from typing import Any

from sqlalchemy import select, text, update

from factcheck.desk import queue, users
from factcheck.desk.db import Desk, alembic_config, upgrade
from factcheck.desk.evidence import store_capture
from factcheck.desk.models import (
    Case,
    Claim,
    ClaimEvidence,
    ClaimTag,
    EvidenceUrl,
    Run,
    Snapshot,
    Verdict,
    utcnow,
)
from factcheck.desk.triage import SORTS, STATUSES, next_claim, review, triage_queue
from factcheck.web import create_app
from tests.bench_modules import load_benchmark

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

web_load = load_benchmark("web_load")

PAGE = "https://records.example/page"
OTHER = "https://records.example/other"


def stored_equals_rule(s: Any) -> None:
    """Every claim's stored queue columns are what the rule gives now."""
    rule = queue.evaluate(s)
    cols = queue.STORED
    stored = {r[0]: dict(zip(cols, r[1:], strict=True))
              for r in s.execute(select(Claim.id, *(getattr(Claim, c) for c in cols)))}
    wrong = {cid: (stored[cid], e.columns()) for cid, e in rule.items() if stored[cid] != e.columns()}
    assert not wrong, list(wrong.items())[:3]


def walk(s: Any, f: queue.Filters, sort: str, size: int) -> tuple[list[int], list[int]]:
    """The whole queue by pages of `size`, forward through the next cursors and back through the previous."""
    now = utcnow()
    pages, after = [], None
    while True:
        pg = queue.page(s, f, sort=sort, after=after, size=size, now=now)
        pages.append(pg)
        if pg.after is None:
            break
        after = pg.after
    back = [pages[-1].ids]
    before = pages[-1].before
    while before is not None:
        pg = queue.page(s, f, sort=sort, before=before, size=size, now=now)
        back.insert(0, pg.ids)
        before = pg.before
    assert [p.first for p in pages] == [i * size for i in range(len(pages))]
    return [i for p in pages for i in p.ids], [i for p in back for i in p]


def check(env: Any, *, pages: bool = False) -> list[int]:
    """The database's queue equals the rule's, in every order and under every status filter."""
    with env.desk.session() as s:
        stored_equals_rule(s)
        rule = sorted((e for e in queue.evaluate(s).values() if e.in_queue), key=lambda e: e.sort_key)
        items = triage_queue(s, with_last_action=False)
        assert [it.claim_id for it in items] == [e.claim_id for e in rule] == queue.rule_order(s)
        now = utcnow()
        for sort, (_label, lead) in SORTS.items():
            expected = [it.claim_id for it in (sorted(items, key=lead) if lead else items)]
            got = [cid for cid, _key in queue.ordered(s, queue.Filters(), sort=sort, now=now)]
            assert got == expected, sort
            if pages:
                fwd, back = walk(s, queue.Filters(), sort, 7)
                assert fwd == expected == back, sort
        for status in STATUSES:
            want = [it.claim_id for it in items
                    if (it.source_changed if status == "source-changed" else it.status == status)]
            assert [it.claim_id for it in triage_queue(s, status=status, with_last_action=False)] == want, status
            assert queue.count(s, queue.Filters(status=status), now=now) == len(want)
        assert queue.count(s, queue.Filters(), now=now) == len(items)
        return [it.claim_id for it in items]


def ids_of(env: Any, keys: list[str]) -> list[int]:
    with env.desk.session() as s:
        found = {k: i for k, i in s.execute(select(Claim.key, Claim.id).where(Claim.key.in_(keys)))}
    return [found[k] for k in keys]


def capture(env: Any, url: str, body: bytes, when: Any = None) -> str:
    with env.desk.session() as s:
        eu = s.execute(select(EvidenceUrl).where(EvidenceUrl.url == url)).scalar()
        if eu is None:
            eu = EvidenceUrl(url=url, status="captured")
            s.add(eu)
            s.flush()
        snap, _ = store_capture(s, env.settings, url=url, body=body, origin="fetch", evidence_url=eu, status=200,
                                content_type="text/plain", fetched_at=when)
        return snap.sha256


def test_stored_order_follows_every_change(desk):
    with desk.desk.session() as s:  # bulk INSERTs through the session: mixed labels, confidences, worth
        web_load.fill_desk(s, 90, runs=2, events=0)
    base = check(desk, pages=True)
    assert 40 < len(base) < 90

    sha = capture(desk, PAGE, b"The council approved 40 new homes in March.\n")
    l3, l4, l5, l6, l9, l12 = ids_of(desk, ["L3", "L4", "L5", "L6", "L9", "L12"])
    with desk.desk.session() as s:  # people settle two claims, one quoting the page
        review(s, "L3", label="verified", note="read the page", by="ana", quotes=[f"{PAGE}#0-20"])
        review(s, "L4", label="contested", note="no such figure", by="ana")
    order = check(desk)
    assert l3 not in order and l4 not in order

    capture(desk, PAGE, b"The council approved 30 new homes in April.\n")  # the quoted page changed
    order = check(desk)
    assert l3 in order and l4 not in order
    with desk.desk.session() as s:
        assert [it.reasons for it in triage_queue(s, status="source-changed") if it.claim_id == l3] == [
            ["source changed"]]

    with desk.desk.session() as s:  # a run still going: its verdicts do not count yet
        run = Run(version="t", actor="t")
        s.add(run)
        s.flush()
        run_id = run.id
        for cid in (l5, l6):
            s.add(Verdict(claim_id=cid, run_id=run_id, kind="machine", label="contested", confidence=0.9,
                          rationale="t", quotes=[{"url": PAGE, "snapshot_sha256": sha, "start": 0, "end": 5}]))
    assert check(desk) == order
    with desk.desk.session() as s:  # it finishes (an attribute set on the ORM row)
        r = s.get(Run, run_id)
        assert r is not None
        r.finished_at = utcnow()
    order = check(desk)
    with desk.desk.session() as s:
        quoted = {it.claim_id: it for it in triage_queue(s, status="source-changed")}
    assert l5 in quoted and quoted[l5].status == "contested"  # quotes the page's first capture: changed since

    with desk.desk.session() as s:  # another run, finished by an UPDATE statement (as a worker might)
        run2 = Run(version="t", actor="t")
        s.add(run2)
        s.flush()
        s.add(Verdict(claim_id=l9, run_id=run2.id, kind="machine", label="verified", confidence=0.99,
                      rationale="t", quotes=[]))
        s.flush()
        run2_id = run2.id
    check(desk)
    with desk.desk.session() as s:
        s.execute(update(Run).where(Run.id == run2_id).values(finished_at=utcnow()))
    assert l9 not in check(desk)

    later = utcnow() + timedelta(minutes=5)  # evidence captured after l9's verdict, then tied to it
    capture(desk, OTHER, b"A later report on the homes.\n", when=later)
    with desk.desk.session() as s:
        eu_id = s.execute(select(EvidenceUrl.id).where(EvidenceUrl.url == OTHER)).scalar_one()
        s.add(ClaimEvidence(claim_id=l9, evidence_url_id=eu_id))
    order = check(desk)
    assert l9 in order
    with desk.desk.session() as s:
        item = next(it for it in triage_queue(s) if it.claim_id == l9)
        assert item.reasons == ["new evidence"] and item.since == later
        link = s.execute(select(ClaimEvidence).where(ClaimEvidence.claim_id == l9)).scalar_one()
        s.delete(link)
    assert l9 not in check(desk)

    with desk.desk.session() as s:  # a new claim and an edited worth: no refresh needed, the index reads them
        case_id = s.execute(select(Case.id)).scalar_one()
        s.add(Claim(case_id=case_id, key="NEW", text="A new claim.", checkworthiness=0.999))
        s.execute(update(Claim).where(Claim.id == l12).values(checkworthiness=0.9995))
    order = check(desk, pages=True)
    assert ids_of(desk, ["NEW"])[0] in order


def test_next_claim_takes_the_first_of_the_filtered_sorted_queue(desk):
    with desk.desk.session() as s:
        web_load.fill_desk(s, 60, runs=1, events=0)
    with desk.desk.session() as s:
        tagged = set(s.execute(select(ClaimTag.claim_id).where(ClaimTag.tag == "seven")).scalars())
        want = [it.claim_id for it in triage_queue(s, status="unverified", sort="oldest") if it.claim_id in tagged]
        assert len(want) >= 2
        got = next_claim(s, by="ana", minutes=30, status="unverified", sort="oldest",
                         within=select(ClaimTag.claim_id).where(ClaimTag.tag == "seven"))
        assert got is not None and got.claim_id == want[0]
        again = next_claim(s, by="bob", minutes=30, status="unverified", sort="oldest", within=tagged)
        assert again is not None and again.claim_id == want[1]  # ana holds the first


def signed_in(desk: Any) -> TestClient:
    with desk.desk.session() as s:
        users.add_user(s, "cara", role="checker", password="correct horse battery", actor="t")
    c = TestClient(create_app(desk.desk, desk.settings), follow_redirects=False, base_url="http://localhost")
    csrf = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text)
    assert csrf
    assert c.post("/login", data={"name": "cara", "password": "correct horse battery", "csrf": csrf.group(1),
                                  "next": "/queue"}).status_code == 303
    return c


def test_take_next_in_the_web_desk_honours_the_filters(desk):
    with desk.desk.session() as s:
        web_load.fill_desk(s, 60, runs=1, events=0)
    c = signed_in(desk)
    page = c.get("/queue", params={"tag": "seven", "sort": "newest", "status": "unverified"}).text
    assert 'name="tag" value="seven"' in page and 'name="sort" value="newest"' in page  # the form carries them
    first = re.search(r'<td class="claimcell"><a href="/claims/(\d+)">', page)
    assert first
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token
    r = c.post("/queue/next", data={"csrf": token.group(1), "tag": "seven", "sort": "newest",
                                    "status": "unverified"})
    assert r.status_code == 303 and r.headers["location"] == f"/claims/{first.group(1)}"


def _plans(s: Any, dialect: str) -> dict[str, str]:
    out = {}
    now = utcnow()
    for sort in SORTS:
        terms, q = queue._base(s, queue.Filters(), sort, now)
        sql = q.order_by(*queue._ordered(terms, True)).limit(51)
        compiled = sql.compile(s.get_bind(), compile_kwargs={"literal_binds": True})
        prefix = "EXPLAIN QUERY PLAN " if dialect == "sqlite" else "EXPLAIN "
        out[sort] = "\n".join(str(r[-1]) for r in s.execute(text(prefix + str(compiled))))
    return out


def test_every_sort_but_the_id_is_served_by_its_index(desk):
    with desk.desk.session() as s:
        web_load.fill_desk(s, 300, runs=1, events=0)
    with desk.desk.session() as s:
        if desk.desk.dialect == "postgresql":
            s.execute(text("ANALYZE"))
            s.execute(text("SET LOCAL enable_seqscan = off"))  # a small table: ask whether the index can serve
        plans = _plans(s, desk.desk.dialect)
    wanted = {"urgency": "ix_claim_queue ", "oldest": "ix_claim_queue_since", "newest": "ix_claim_queue_since",
              "confidence": "ix_claim_queue_confidence", "worth": "ix_claim_queue_worth"}
    for sort, index in wanted.items():
        plan = plans[sort] + " "
        assert index in plan, (sort, plan)
        if desk.desk.dialect == "sqlite":
            assert "TEMP B-TREE" not in plan or sort == "newest", (sort, plan)
        else:  # newest walks the index backwards and only orders ties of the same time (Incremental Sort)
            assert "Seq Scan" not in plan and not re.search(r"(^|->\s+)Sort\s+\(", plan, re.M), (sort, plan)


def test_the_migration_backfills_an_older_desk(tmp_path):
    from alembic import command

    d = Desk(f"sqlite:///{tmp_path / 'old.db'}", check=False)
    command.upgrade(alembic_config(d.engine), "0007")
    now = utcnow()
    with d.engine.begin() as c:
        c.execute(text("INSERT INTO case_file (id, key, created_at, updated_at) VALUES (1, 'c', :t, :t)"),
                  {"t": now.replace(tzinfo=None)})
        for i, (label, conf) in enumerate([("contested", 0.9), ("verified", 0.95), ("verified", 0.4), (None, None)]):
            c.execute(text("INSERT INTO claim (id, case_id, key, text, revision, created_at, updated_at) "
                           "VALUES (:i, 1, :k, 'x', 0, :t, :t)"), {"i": i + 1, "k": f"K{i}", "t": now.replace(tzinfo=None)})
            if label:
                c.execute(text("INSERT INTO run (id, started_at, finished_at, version, settings, counts) "
                               "VALUES (:i, :t, :t, 'v', '{}', '{}')"), {"i": i + 1, "t": now.replace(tzinfo=None)})
                c.execute(text("INSERT INTO verdict (claim_id, run_id, kind, label, confidence, rationale, quotes, "
                               "signals, created_at) VALUES (:c, :c, 'machine', :l, :f, '', '[]', '{}', :t)"),
                          {"c": i + 1, "l": label, "f": conf, "t": now.replace(tzinfo=None)})
    upgrade(d.engine)
    with d.session() as s:
        stored_equals_rule(s)
        assert [it.key for it in triage_queue(s)] == ["K0", "K3", "K2"]
        assert s.execute(select(Snapshot.id)).first() is None
        triggers = set(s.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")).scalars())
    assert {"claim_fts_ai", "claim_fts_ad", "claim_fts_au"} <= triggers  # no table copy dropped them
    command.downgrade(alembic_config(d.engine), "0007")
    with d.engine.connect() as c:
        assert "queue_out" not in c.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'claim'").scalar()
        assert c.exec_driver_sql("SELECT count(*) FROM sqlite_master WHERE name = 'claim_fts_au'").scalar() == 1
    upgrade(d.engine)
    d.dispose()


def test_kept_totals_follow_this_process_at_once_and_others_within_the_ttl(desk, monkeypatch):
    from factcheck.desk import counts

    with desk.desk.session() as s:
        web_load.fill_desk(s, 40, runs=1, events=0)
    monkeypatch.setattr(counts, "TTL", 3600.0)
    counts.forget()
    with desk.desk.session() as s:
        before = queue.count(s, queue.Filters(), now=utcnow())
        first = queue.ordered(s, queue.Filters(), now=utcnow(), limit=1)[0][0]
        key = s.get(Claim, first).key
    with desk.desk.session() as s:  # a change through a desk session of this process: the total follows at once
        review(s, key, label="verified", note="checked", by="ana")
    with desk.desk.session() as s:
        assert queue.count(s, queue.Filters(), now=utcnow()) == before - 1
    with desk.desk.engine.begin() as c:  # as another process's change (a bare connection): kept until the TTL ends
        c.execute(update(Claim).where(Claim.key != key).values(queue_out=True))
    with desk.desk.session() as s:
        assert queue.count(s, queue.Filters(), now=utcnow()) == before - 1
    monkeypatch.setattr(counts, "TTL", 0.0)
    with desk.desk.session() as s:
        assert queue.count(s, queue.Filters(), now=utcnow()) == 0


def test_many_articles_make_the_article_filter_a_box(desk, monkeypatch):
    from factcheck.desk import counts
    from factcheck.web import routes

    with desk.desk.session() as s:
        web_load.fill_desk(s, 300, runs=1, events=0)  # three articles
        wanted = {it.claim_id for it in triage_queue(s, article="https://news.example/a1", with_last_action=False)}
    c = signed_in(desk)
    assert '<select name="article">' in c.get("/queue").text
    monkeypatch.setattr(routes, "ARTICLE_MENU", 2)
    counts.forget()
    page = c.get("/queue", params={"article": "https://news.example/a1"}).text
    assert '<select name="article">' not in page
    assert 'name="article" value="https://news.example/a1"' in page
    shown = {int(x) for x in re.findall(r'<td class="claimcell"><a href="/claims/(\d+)">', page)}
    assert shown and shown <= wanted


def _cases_and_keys(env: Any) -> None:
    """Beside the loaded case: cases whose keys sort differently by code point than by a locale ('B' before
    'a', 'Ä' last), one keyed '' (sorting with the claims that have no case), one with nothing queued, and
    claims without a case, two of them with the same key (their urgency breaks the tie)."""
    with env.desk.session() as s:
        web_load.fill_desk(s, 40, runs=1, events=0)
        for key in ("a", "B", "Ä", "", "nothing", "b10"):
            s.add(Case(key=key, title=key or "blank"))
        s.flush()
        cases = {c.key: c.id for c in s.execute(select(Case)).scalars()}
        n = 0
        for case_key, keys in (("a", ["z", "Z", "é", "e1", "e10", "e2"]), ("B", ["x", "X"]), ("Ä", ["k"]),
                               ("", ["m", "A"]), ("b10", ["q"]), (None, ["m", "dup", "dup", "Zed", "ß"])):
            for key in keys:
                n += 1
                s.add(Claim(case_id=cases[case_key] if case_key is not None else None, key=key,
                            text=f"Claim {key} number {n}.", checkworthiness=(n * 37 % 100) / 100 if n % 4 else None))


def test_the_id_sort_reads_case_by_case_in_code_point_order(desk):
    _cases_and_keys(desk)
    check(desk, pages=True)  # whole order, every filter, pages of 7 both ways: equal to the rule
    now = utcnow()
    with desk.desk.session() as s:
        items = triage_queue(s, with_last_action=False)
        lead = SORTS["id"][1]
        assert lead is not None
        expected = [it.claim_id for it in sorted(items, key=lead)]
        keys = [(it.case or "", it.key) for it in sorted(items, key=lead)]
        assert keys[0][0] == "" and ("", "A") in keys and keys.index(("B", "x")) < keys.index(("a", "z"))
        for size in (1, 2, 3, 50):
            fwd, back = walk(s, queue.Filters(), "id", size)
            assert fwd == expected == back, size
        for n in (1, 5, len(expected) + 3):  # the first rows (taking the next claim), case by case
            assert [cid for cid, _k in queue.ordered(s, queue.Filters(), sort="id", now=now, limit=n)] == expected[:n]
        mid = queue.ordered(s, queue.Filters(), sort="id", now=now, limit=9)[-1][1]
        assert [cid for cid, _k in queue.ordered(s, queue.Filters(), sort="id", now=now, after=mid, limit=4)] == \
            expected[9:13]
        for status in ("unchecked", "contested"):
            want = [it.claim_id for it in sorted(triage_queue(s, status=status, with_last_action=False), key=lead)]
            fwd, back = walk(s, queue.Filters(status=status), "id", 4)
            assert fwd == want == back, status


def _statements(env: Any, run: Any) -> list[tuple[str, Any]]:
    """The SELECT statements `run()` sends to the desk, with their parameters."""
    from sqlalchemy import event

    sent: list[tuple[str, Any]] = []

    def note(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            sent.append((statement, parameters))

    event.listen(env.desk.engine, "before_cursor_execute", note)
    try:
        run()
    finally:
        event.remove(env.desk.engine, "before_cursor_execute", note)
    return sent


INDEX_OF = {"urgency": "ix_claim_queue ", "oldest": "ix_claim_queue_since", "newest": "ix_claim_queue_since",
            "confidence": "ix_claim_queue_confidence", "worth": "ix_claim_queue_worth", "id": "ix_claim_queue_key"}


def test_every_statement_a_queue_page_sends_is_an_index_range(desk):
    """First, later and earlier pages of every sort, their positions and totals: no statement scans the claim
    table or sorts it, and each page's rows come from the sort's own index."""
    from factcheck.desk import counts

    _cases_and_keys(desk)
    with desk.desk.session() as s:
        for i in range(260):  # a bigger queue in the loaded case, so the planner prefers ranges as it would
            s.add(Claim(case_id=s.execute(select(Case.id).where(Case.key == "load")).scalar_one(), key=f"M{i}",
                        text=f"More {i}.", checkworthiness=(i % 97) / 97))
    pg = desk.desk.dialect == "postgresql"
    now = utcnow()
    for sort in SORTS:
        with desk.desk.session() as s:
            if pg:
                s.execute(text("ANALYZE"))
                s.execute(text("SET LOCAL enable_seqscan = off"))  # a small table: ask whether an index serves
                s.execute(text("SET LOCAL enable_sort = off"))  # … in order (estimates of a few rows favour sorts)
            else:
                s.execute(text("ANALYZE"))
            first = queue.page(s, queue.Filters(), sort=sort, size=20, now=now)
            assert first.after is not None
            later = queue.page(s, queue.Filters(), sort=sort, after=first.after, size=20, now=now)
            assert later.before is not None

            def pages(s: Any = s, first: Any = first, later: Any = later, sort: str = sort) -> None:
                counts.forget()
                queue.page(s, queue.Filters(), sort=sort, size=20, now=now)
                queue.page(s, queue.Filters(), sort=sort, after=later.after, size=20, now=now)
                queue.page(s, queue.Filters(), sort=sort, before=later.before, size=20, now=now)
                queue.page(s, queue.Filters(status="unchecked"), sort=sort, after=first.after, size=20, now=now)

            sent = _statements(desk, pages)
            assert sent
            conn = s.connection()
            row_reads = 0
            for statement, params in sent:
                prefix = "EXPLAIN " if pg else "EXPLAIN QUERY PLAN "
                plan = "\n".join(str(r[-1]) for r in conn.exec_driver_sql(prefix + statement, params)) + " "
                small = "queue_status" in statement  # a few filtered rows in a small table: sorting them may
                # be the planner's cheaper choice here, so only the scan is asked about
                if pg:
                    assert not re.search(r"Seq Scan on claim\b", plan), (sort, statement, plan)
                    assert small or not re.search(r"(^|->\s+)Sort\s+\(", plan, re.M), (sort, statement, plan)
                else:
                    assert not re.search(r"SCAN claim\s*$", plan, re.M), (sort, statement, plan)
                    # SQLite ranges a row value only up to its first expression (the worth): past it, a later
                    # page sorts the rows that tie on the terms before (RIGHT PART); never the whole order
                    assert small or "TEMP B-TREE FOR ORDER BY" not in plan or sort == "newest", (sort, statement, plan)
                if (re.match(r"\s*SELECT claim\.id\b", statement) and re.search(r"\bFROM claim\s+WHERE\b", statement)
                        and re.search(r"\bORDER BY\b.*\bLIMIT\b", statement, re.S)):  # a page's rows
                    row_reads += 1
                    if not small and "case_id IS NULL" not in statement:  # five claims without a case: the
                        # planner may take them from the case_id index (its choice at this size)
                        # SQLite may read a case's claims in key order from the unique (case_id, key) index
                        ok = (INDEX_OF[sort],) if pg or sort != "id" else (INDEX_OF[sort], "sqlite_autoindex_claim_1")
                        assert any(i in plan for i in ok), (sort, statement, plan)
            assert row_reads >= 4, sort
