"""The web desk's long lists page by keyset (#15): the queue, claims, articles, runs and audit pages show at
most a page of rows, next/previous walk the whole list once in the unpaged order, filters and sort survive
paging, and a damaged cursor is a 400. On SQLite and PostgreSQL (the `desk` fixture); the desk is filled by
bulk INSERT (benchmarks/web_load.py's `fill_desk`), not the slow import path.
"""

from __future__ import annotations

import html
import re
import warnings

import pytest
from sqlalchemy import select

from factcheck.desk import users
from factcheck.desk.models import Article, AuditEvent, Claim, Run
from factcheck.desk.triage import triage_queue
from factcheck.web import create_app
from factcheck.web.paging import PAGE_SIZE, encode
from tests.bench_modules import load_benchmark

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

web_load = load_benchmark("web_load")

CLAIMS = 260
PASSWORD = "correct horse battery"
ROW = {
    "/queue": r'<td class="claimcell"><a href="/claims/(\d+)">',
    "/claims": r'<td class="claimcell"><a href="/claims/(\d+)">',
    "/articles": r'<tr><td><a href="/articles/(\d+)">',
    "/runs": r'<tr><td class="num">(\d+)</td>',
    "/audit": r'<tr><td class="num">(\d+)</td>',
}


@pytest.fixture
def big(desk):
    with desk.desk.session() as s:
        web_load.fill_desk(s, CLAIMS, runs=120, events=130)
        users.add_user(s, "cara", role="checker", password=PASSWORD, actor="t")
    app = create_app(desk.desk, desk.settings)
    c = TestClient(app, follow_redirects=False, base_url="http://localhost")
    page = c.get("/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf
    r = c.post("/login", data={"name": "cara", "password": PASSWORD, "csrf": csrf.group(1), "next": "/queue"})
    assert r.status_code == 303
    return desk, c


def rows_of(path: str, text: str) -> list[int]:
    return [int(x) for x in re.findall(ROW[path.partition("?")[0]], text)]


def link(text: str, rel: str) -> str | None:
    m = re.search(rf'<a href="([^"]+)" rel="{rel}"', text)
    return html.unescape(m.group(1)) if m else None


def walk(c: TestClient, url: str) -> tuple[list[int], list[int], list[str]]:
    """Every row forward through the next links, then back through the previous links; and the links used."""
    path = url.partition("?")[0]
    forward: list[list[int]] = []
    links = []
    while url:
        r = c.get(url)
        assert r.status_code == 200, (url, r.text[:300])
        got = rows_of(path, r.text)
        assert 0 < len(got) <= PAGE_SIZE
        forward.append(got)
        nxt = link(r.text, "next")
        if nxt is None:
            last = r.text
        url = nxt or ""
        if nxt:
            links.append(nxt)
    backward = [forward[-1]]
    prev = link(last, "prev")
    while prev:
        links.append(prev)
        r = c.get(prev)
        assert r.status_code == 200
        backward.insert(0, rows_of(path, r.text))
        prev = link(r.text, "prev")
    assert [len(p) for p in backward] == [len(p) for p in forward]  # the same pages going back
    return [i for p in forward for i in p], [i for p in backward for i in p], links


def test_every_list_walks_whole_without_gaps_or_repeats(big):
    env, c = big
    with env.desk.session() as s:
        queue = [it.claim_id for it in triage_queue(s)]
        claims = list(s.execute(select(Claim.id).order_by(Claim.id)).scalars())
        articles = list(s.execute(select(Article.id).order_by(Article.id)).scalars())
        runs = list(s.execute(select(Run.id).order_by(Run.id.desc())).scalars())
        events = list(s.execute(select(AuditEvent.id).order_by(AuditEvent.id.desc())).scalars())
    assert len(queue) > 2 * PAGE_SIZE and len(claims) == CLAIMS and len(runs) > 2 * PAGE_SIZE
    for url, expected in (("/queue", queue), ("/claims", claims), ("/articles", articles), ("/runs", runs),
                          ("/audit", events)):
        fwd, back, _ = walk(c, url)
        assert fwd == expected, url
        assert back == expected, url
    first = c.get("/queue").text
    assert f"{len(queue)} claims" in first  # the count is the whole queue's, not the page's
    assert f"{CLAIMS} claims" in c.get("/claims").text


@pytest.mark.parametrize("sort", ["worth", "oldest", "newest", "confidence", "id"])
def test_queue_sort_and_filters_survive_paging(big, sort):
    env, c = big
    with env.desk.session() as s:
        items = triage_queue(s, status="unverified")
    from factcheck.web.routes import SORTS

    key = SORTS[sort][1]
    assert key is not None
    expected = [it.claim_id for it in sorted(items, key=key)]  # stable: ties keep the urgency order
    assert len(expected) > PAGE_SIZE
    fwd, back, links = walk(c, f"/queue?status=unverified&sort={sort}")
    assert fwd == expected and back == expected
    assert links and all("status=unverified" in u and f"sort={sort}" in u for u in links)


def test_claims_tag_filter_pages(big):
    env, c = big
    with env.desk.session() as s:
        ids = list(s.execute(select(Claim.id).order_by(Claim.id)).scalars())
    tagged = [cid for n, cid in enumerate(ids) if n % 7 == 0]
    fwd, back, links = walk(c, "/claims?tag=seven")
    assert fwd == tagged == back and all("tag=seven" in u for u in links)
    qfwd, _, qlinks = walk(c, "/queue?tag=seven&sort=id")
    with env.desk.session() as s:
        assert set(qfwd) == {it.claim_id for it in triage_queue(s)} & set(tagged)
    assert all("tag=seven" in u for u in qlinks)


def test_a_damaged_cursor_is_a_400_not_a_500(big):
    _env, c = big
    bad = ["garbage!", "", "x" * 5000, encode(("a",)), encode((1, 2)), encode((True,)), "bnVsbA",
           encode((2**70,)), encode((2**31,)), encode((-1,)), "W05hTl0"]  # bnVsbA = null, W05hTl0 = [NaN]
    for path in ("/claims", "/articles", "/runs", "/audit"):
        for cursor in bad:
            for way in ("after", "before"):
                r = c.get(path, params={way: cursor})
                assert r.status_code == 400, (path, way, cursor)
        assert c.get(path, params={"after": encode((1,)), "before": encode((9,))}).status_code == 400
    for cursor in [*bad, encode((1,)), encode((1, 1, "x", 0.5, 3)), encode((1, 1, 0.5, 0.5))]:
        assert c.get("/queue", params={"after": cursor}).status_code == 400, cursor
        assert c.get("/queue", params={"sort": "worth", "before": cursor}).status_code == 400, cursor
    good = link(c.get("/queue").text, "next")
    assert good is not None and c.get(good).status_code == 200
    assert c.get(good.replace("after=", "after=A")).status_code == 400


def test_a_cursor_past_the_end_is_an_empty_page(big):
    _env, c = big
    r = c.get("/claims", params={"after": encode((2**31 - 1,))})
    assert r.status_code == 200 and rows_of("/claims", r.text) == [] and link(r.text, "prev") is None
