"""Tags on claims: `claims tag` (and --remove), `claims tags`, `claims list --tag`, shown everywhere, audited.

CLI through the real entry point on SQLite and PostgreSQL; the web claim page through Starlette's test client.
"""

from __future__ import annotations

import json

from newsroom_util import case_desk
from test_web import client, csrf_of, sign_in

from factcheck.web import create_app


def test_tag_untag_filter_and_audit(cli, cli_db, tmp_path):
    d = case_desk(cli, cli_db, tmp_path)
    assert d.json("claims", "tag", "C1", "Election 2025", "health") == {"id": "C1", "tags": ["election-2025",
                                                                                             "health"]}
    assert d.json("claims", "tag", "C2", "health")["tags"] == ["health"]
    assert d.json("claims", "tag", "C2", "HEALTH")["tags"] == ["health"]  # one spelling per tag
    assert [r["id"] for r in d.json("claims", "list", "--tag", "health")] == ["C1", "C2"]
    assert [r["id"] for r in d.json("claims", "list", "--tag", "health", "--tag", "election-2025")] == ["C1"]
    assert d.json("claims", "list", "--tag", "nothing") == []
    assert d.json("claims", "tags") == [{"tag": "health", "claims": 2}, {"tag": "election-2025", "claims": 1}]
    assert d.json("claims", "show", "C1")["tags"] == ["election-2025", "health"]
    assert [r["tags"] for r in d.json("claims", "list")] == [["election-2025", "health"], ["health"], []]
    r = d("claims", "show", "C1")
    assert r.code == 0 and "tags: election-2025, health" in r.stdout
    assert d.json("claims", "tag", "C1", "health", "--remove")["tags"] == ["election-2025"]
    tagged = d.events("claim.tag")
    assert [(e["claim"], e["actor"], e["before"]["tags"], e["after"]["tags"]) for e in tagged] == [
        ("C1", "tester", [], ["election-2025", "health"]), ("C2", "tester", [], ["health"])]  # HEALTH changed nothing
    untagged = d.events("claim.untag")
    assert [(e["before"]["tags"], e["after"]["tags"]) for e in untagged] == [(["election-2025", "health"],
                                                                            ["election-2025"])]
    assert d("audit", "verify").code == 0


def test_bad_tags_are_refused_and_nothing_changes(cli, cli_db, tmp_path):
    d = case_desk(cli, cli_db, tmp_path)
    before = len(d.json("audit", "log"))
    for args, msg in (
        (("claims", "tag", "C1", "<b>x</b>"), "may hold only letters"),
        (("claims", "tag", "C1", "ok", "_bad"), "must start with a letter"),  # all or nothing: 'ok' not added
        (("claims", "tag", "C1", "x" * 65), "longer than 64"),
        (("claims", "tag", "C9", "ok"), "no claim 'C9'"),
        (("claims", "tag", "C1", "ok", "--remove"), "has no tag ok"),
    ):
        r = d(*args)
        assert r.code == 1 and r.stderr.startswith("Error: ") and msg in r.stderr, (args, r.stderr)
    r = d("claims", "tag", "C1", "ok", env={"FACTCHECK_USER": ""})
    assert r.code == 1 and "who is tagging" in r.stderr
    assert d.json("claims", "show", "C1")["tags"] == []
    assert len(d.json("audit", "log")) == before


def test_tags_in_reports(cli, cli_db, tmp_path):
    d = case_desk(cli, cli_db, tmp_path, verify=True)
    assert d("claims", "tag", "C2", "labour").code == 0
    rep = json.loads(d("report", "--format", "json").stdout)
    assert [c["tags"] for c in rep["claims"]] == [[], ["labour"], []]
    assert '<span class="tag">labour</span>' in d("report", "--format", "html").stdout
    assert "- Tags: labour" in d("report", "--format", "md").stdout


def test_web_tags_on_claim_page(desk, tmp_path):
    from test_web import build

    ids = build(desk, tmp_path)
    app = create_app(desk.desk, desk.settings)
    cid = ids["cid"]
    cara = sign_in(app, "cara")
    r = cara.post(f"/claims/{cid}/tags", data={"csrf": csrf_of(cara), "tags": "labour, Retention rate"})
    assert r.status_code == 303 and r.headers["location"] == f"/claims/{cid}"
    page = cara.get(f"/claims/{cid}").text
    assert '<span class="tag">labour' in page and "retention-rate" in page
    assert ">labour</a>" in cara.get("/claims").text and "labour" in cara.get("/queue").text
    assert ">C2</b>" in cara.get("/claims", params={"tag": "labour"}).text
    assert ">C1</b>" not in cara.get("/claims", params={"tag": "labour"}).text
    r = cara.post(f"/claims/{cid}/tags", data={"csrf": csrf_of(cara), "remove": "labour"})
    assert r.status_code == 303
    assert '<span class="tag">labour' not in cara.get(f"/claims/{cid}").text
    bad = cara.post(f"/claims/{cid}/tags", data={"csrf": csrf_of(cara), "tags": "<script>"})
    assert bad.status_code == 303 and "may hold only letters" in cara.get(f"/claims/{cid}").text
    assert cara.post(f"/claims/{cid}/tags", data={"tags": "x"}).status_code == 403  # no CSRF token
    vic = sign_in(app, "vic")
    assert vic.post(f"/claims/{cid}/tags", data={"csrf": csrf_of(vic), "tags": "x"}).status_code == 403  # viewer
    assert client(app).post(f"/claims/{cid}/tags", data={"tags": "x"}).status_code == 403
