"""Comment threads on claims: `claims comment`, listed by `claims show`, on the web claim page, in reports.

CLI through the real entry point on SQLite and PostgreSQL; the web through Starlette's test client.
"""

from __future__ import annotations

import json

from newsroom_util import case_desk
from test_web import csrf_of, sign_in

from factcheck.web import create_app

HOSTILE = "Check <script>alert('c')</script> & the *memo* | again"


def test_comment_thread_in_show_and_audit(cli, cli_db, tmp_path):
    d = case_desk(cli, cli_db, tmp_path)
    first = d.json("claims", "comment", "C1", "Who has the memo?", "--by", "ana")
    assert first["id"] == "C1" and first["comment"]["by"] == "ana" and first["comment"]["text"] == "Who has the memo?"
    r = d("claims", "comment", "C1", "  BI sent it; checking pages 3-4.  ")  # --by from FACTCHECK_USER
    assert r.code == 0 and "comment" in r.stdout
    shown = d.json("claims", "show", "C1")
    assert [(m["by"], m["text"]) for m in shown["comments"]] == [("ana", "Who has the memo?"),
                                                                  ("tester", "BI sent it; checking pages 3-4.")]
    assert d.json("claims", "show", "C2")["comments"] == []
    text = d("claims", "show", "C1").stdout
    assert "comments:" in text and "ana: Who has the memo?" in text
    events = d.events("comment.add")
    assert [(e["claim"], e["actor"], e["after"]["text"]) for e in events] == [
        ("C1", "ana", "Who has the memo?"), ("C1", "tester", "BI sent it; checking pages 3-4.")]
    assert d("audit", "verify").code == 0


def test_bad_comments_are_refused(cli, cli_db, tmp_path):
    d = case_desk(cli, cli_db, tmp_path)
    for args, env, msg in (
        (("claims", "comment", "C1", "   "), None, "cannot be empty"),
        (("claims", "comment", "C1", "x" * 4001), None, "at most 4000"),
        (("claims", "comment", "C9", "hello"), None, "no claim 'C9'"),
        (("claims", "comment", "C1", "hello"), {"FACTCHECK_USER": ""}, "who is commenting"),
    ):
        r = d(*args, env=env)
        assert r.code == 1 and r.stderr.startswith("Error: ") and msg in r.stderr and "Traceback" not in r.stderr
    assert d.json("claims", "show", "C1")["comments"] == [] and d.events("comment.add") == []


def test_comments_in_report_history_escaped(cli, cli_db, tmp_path):
    d = case_desk(cli, cli_db, tmp_path, verify=True)
    assert d("claims", "comment", "C2", HOSTILE, "--by", "bo").code == 0
    rep = json.loads(d("report", "--format", "json").stdout)
    c2 = rep["claims"][1]
    assert [(m["by"], m["text"]) for m in c2["comments"]] == [("bo", HOSTILE)] and rep["claims"][0]["comments"] == []
    html = d("report", "--format", "html").stdout
    assert "<summary>Discussion</summary>" in html and "<script>alert" not in html
    assert "Check &lt;script&gt;alert(&#x27;c&#x27;)&lt;/script&gt; &amp; the *memo*" in html
    md = d("report", "--format", "md").stdout
    assert "Discussion:" in md and r"\<script\>" in md and r"\*memo\* \| again" in md
    csv_text = d("report", "--format", "csv").stdout
    assert "bo: Check <script>" in csv_text  # plain data in a CSV cell


def test_web_comment_form(desk, tmp_path):
    from test_web import build

    ids = build(desk, tmp_path)
    app = create_app(desk.desk, desk.settings)
    cid = ids["cid"]
    cara = sign_in(app, "cara")
    assert 'id="comment-form"' in cara.get(f"/claims/{cid}").text
    r = cara.post(f"/claims/{cid}/comments", data={"csrf": csrf_of(cara), "text": HOSTILE})
    assert r.status_code == 303 and r.headers["location"] == f"/claims/{cid}"
    page = cara.get(f"/claims/{cid}").text
    assert "<b>cara</b>: Check &lt;script&gt;" in page and "<script>alert('c')" not in page
    r = cara.post(f"/claims/{cid}/comments", data={"csrf": csrf_of(cara), "text": "  "})
    assert r.status_code == 303 and "cannot be empty" in cara.get(f"/claims/{cid}").text
    assert cara.post(f"/claims/{cid}/comments", data={"text": "no token"}).status_code == 403
    vic = sign_in(app, "vic")
    assert 'id="comment-form"' not in vic.get(f"/claims/{cid}").text
    assert vic.post(f"/claims/{cid}/comments", data={"csrf": csrf_of(vic), "text": "hi"}).status_code == 403
    with desk.desk.session() as s:
        from factcheck.desk.comments import comments_for

        assert [m.author for m in comments_for(s, [cid])[cid]] == ["cara"]
