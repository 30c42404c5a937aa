"""Full-text search over claims and their evidence: `claims list --search` and the web desk's search box.

Runs on SQLite (FTS5) and PostgreSQL (GIN text indexes): the `cli_db` and `desk` fixtures are parametrized.
"""

from __future__ import annotations

from newsroom_util import case_desk
from test_web import client, sign_in

from factcheck.web import create_app


def ids(rows):
    return [r["id"] for r in rows]


def test_search_finds_claim_text_statement_and_evidence(cli, cli_db, tmp_path):
    d = case_desk(cli, cli_db, tmp_path)
    rows = d.json("claims", "list", "--search", "hiring obstacles")  # the statement, and the captured page
    assert ids(rows) == ["C1"] and rows[0]["matched"] == ["claim", "evidence"]
    rows = d.json("claims", "list", "--search", "salary band")  # only the evidence page says it
    assert ids(rows) == ["C1"] and rows[0]["matched"] == ["evidence"]
    rows = d.json("claims", "list", "--search", "MITARBEITERBINDUNG")  # any case
    assert ids(rows) == ["C2"] and rows[0]["matched"] == ["claim"]
    rows = d.json("claims", "list", "--search", "2023")  # numbers are words too
    assert [(r["id"], r["matched"]) for r in rows] == [("C1", ["evidence"]), ("C3", ["claim"])]
    # every word must occur in one place: these two are in different claims
    assert d.json("claims", "list", "--search", "SignalFire Hub-Strategie") == []
    assert "matched" not in d.json("claims", "list")[0]  # a plain listing is unchanged
    r = d("claims", "list", "--search", "nothing-like-this")
    assert r.code == 0 and "No claim matches." in r.stdout


def test_search_follows_edits_and_combines_with_case(cli, cli_db, tmp_path):
    d = case_desk(cli, cli_db, tmp_path)
    case = tmp_path / "claims" / "case.yaml"
    case.write_text(case.read_text(encoding="utf-8").replace(
        "An internal document names pay", "A leaked memorandum names pay"), encoding="utf-8")
    assert d("claims", "import", "claims/case.yaml").code == 0
    assert ids(d.json("claims", "list", "--search", "memorandum")) == ["C1"]
    assert d.json("claims", "list", "--search", "internal document") == []  # the old words are gone
    assert ids(d.json("claims", "list", "--search", "memorandum", "--case", "Test case: hiring")) == ["C1"]


def test_bad_searches_are_one_line_errors(cli, cli_db, tmp_path):
    d = case_desk(cli, cli_db, tmp_path)
    for query in ("!!!", "   ", "x" * 201):
        r = d("claims", "list", "--search", query)
        assert r.code == 1 and r.stderr.startswith("Error: ") and "Traceback" not in r.stderr, query
    # quotes and operators of the index's own query language are just text here
    for query in ('"AND OR NOT*', "a:b (c) -d", "NEAR(x y)"):
        r = d("claims", "list", "--search", query, "--json")
        assert r.code == 0 and "Traceback" not in r.stderr, (query, r.stderr)


def test_web_search_box_and_queue_filter(desk, tmp_path):
    from test_web import build

    build(desk, tmp_path)
    app = create_app(desk.desk, desk.settings)
    c = sign_in(app, "vic")
    page = c.get("/queue").text
    assert 'action="/claims"' in page and 'name="q"' in page  # the search box in every page's header
    r = c.get("/claims", params={"q": "salary band"})
    assert r.status_code == 200 and ">C1</b>" in r.text and ">C2</b>" not in r.text and "evidence" in r.text
    r = c.get("/claims")
    assert ">C1</b>" in r.text and ">C2</b>" in r.text and ">C3</b>" in r.text  # all claims without a search
    hostile = '<script>alert("q")</script> salary'
    r = c.get("/claims", params={"q": hostile})
    assert r.status_code == 200 and "<script>alert" not in r.text and "&lt;script&gt;" in r.text
    assert c.get("/claims", params={"q": "!!!"}).status_code == 400
    queue = c.get("/queue", params={"q": "Mitarbeiterbindung"}).text
    assert ">C2</b>" in queue and ">C3</b>" not in queue
    assert ">C3</b>" in c.get("/queue").text
    assert client(app).get("/claims?q=x").status_code == 303  # signed out: sign in first
