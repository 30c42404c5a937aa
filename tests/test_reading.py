"""Reading details: the report lists every claim first and does not repeat identical runs; the queue's
WHY says more than the status; event names read as words; citations and verdicts use distinct words."""

from __future__ import annotations

import re

from factcheck.desk.verify import verify
from factcheck.report import build_report, render
from factcheck.report.model import collapsed_history
from factcheck.web.app import create_app
from tests.test_web import build, sign_in


def test_report_lists_claims_first_and_collapses_repeated_runs(desk, tmp_path):
    build(desk, tmp_path)
    for _ in range(2):  # two more runs that say exactly what the first said
        verify(desk.desk, desk.settings, actor="t")
    with desk.desk.session() as s:
        rep = build_report(s, desk.settings)
    html = render(rep, "html")
    toc = html.index("Claims at a glance")
    assert toc < html.index("<h2>Claims</h2>")
    for c in rep.claims:  # every claim is in the list, linked to its section
        assert f'href="#{c.anchor}"' in html[toc:html.index("<h2>Claims</h2>")]
    same = [c for c in rep.claims if any(n == 3 for _, n in collapsed_history(c.history))]
    assert same, "three identical machine runs collapse into one row"
    assert "the same in 3 runs in a row" in html and "the same in 3 runs in a row" in render(rep, "md")
    for c in rep.claims:
        rows = collapsed_history(c.history)
        assert sum(n for _, n in rows) == len(c.history)  # nothing dropped, only folded
    assert "(first-hand)" not in html and ", first-hand)" not in html and "cited directly" in html


def test_collapsing_keeps_changes_apart(desk, tmp_path):
    build(desk, tmp_path)
    with desk.desk.session() as s:
        rep = build_report(s, desk.settings)
    c = next(c for c in rep.claims if len(c.history) >= 1)
    h = c.history[-1]
    changed = [h, h.__class__(**{**h.__dict__, "id": h.id + 1000, "label": "contested" if h.label != "contested"
                                 else "verified"})]
    assert [n for _, n in collapsed_history(changed)] == [1, 1]


def test_queue_says_why_in_words_and_names_events_plainly(desk, tmp_path):
    ids = build(desk, tmp_path)
    app = create_app(desk.desk, desk.settings)
    c = sign_in(app, "cara")
    page = c.get("/queue").text
    assert "verdict.machine" not in page and "machine verdict · t" in page
    rows = re.findall(r'<td><span class="badge (\w+)">.*?</td>\s*<td class="small">(.*?)</td>', page, re.S)
    assert rows and all(status not in why for status, why in rows)
    claim = c.get(f"/claims/{ids['cid']}").text
    assert 'title="verdict.machine">machine verdict<' in claim
    assert "PDF" in c.get("/reports").text or "pdf" in c.get("/reports").text
