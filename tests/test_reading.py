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


def test_the_differing_number_is_marked_in_the_quote(desk):
    from factcheck.desk.cases import import_case
    from factcheck.report.model import differing_spans
    from factcheck.resources import sample_case

    with desk.desk.session() as s:
        import_case(s, desk.settings, sample_case(), actor="t")
    verify(desk.desk, desk.settings, actor="t")
    with desk.desk.session() as s:
        rep = build_report(s, desk.settings)
    contested = [c for c in rep.claims if c.verdict and c.verdict.label == "contested" and c.evidence]
    marked = [(c, q) for c in contested for q in c.evidence if q.differs]
    assert marked, [c.verdict.rationale for c in contested if c.verdict]
    html = render(rep, "html")
    for _c, q in marked:
        for s_, e in q.differs:
            assert f'<mark class="differs" title="differs from the claim">{q.quote[s_:e]}</mark>' in html
    # the spans find the value as written, not inside other numbers
    assert differing_spans("61 percent, up from 161 and 61.5", ["61"]) == [(0, 2)]
    assert differing_spans("about 61,000 staff", ["61000"]) == [(6, 12)]
    assert differing_spans("in 2023 and 2024", ["2024"]) == [(12, 16)]


def test_claim_page_folds_identical_runs(desk, tmp_path):
    ids = build(desk, tmp_path)
    for _ in range(2):
        verify(desk.desk, desk.settings, actor="t")
    app = create_app(desk.desk, desk.settings)
    page = sign_in(app, "cara").get("/claims/" + str(ids["cid"])).text
    history = page[page.index("Verdict history"):page.index('id="discussion"')]
    # the first run, the verdict pinned by the fixture in between, then two runs that agree: three rows
    assert "the same in 2 runs in a row" in history and history.count("<tr><td") == 3


def test_print_keeps_headings_with_their_text_and_runs_compact(desk, tmp_path):
    build(desk, tmp_path)
    with desk.desk.session() as s:
        html = render(build_report(s, desk.settings), "html")
    css = html[html.index("@media print"):html.index("</style>")]
    assert re.search(r"h1,h2,h3,\.claim header[^{]*\{break-after:avoid", css)
    runs = html[html.index("<h2>Verification runs</h2>"):html.index("<h2>What the verdicts mean</h2>")]
    assert 'class="settings"' in runs and "<br>" not in runs  # one wrapping cell, not one line per setting


def test_one_folding_rule_for_terminal_claim_page_and_report(desk, tmp_path):
    """`claims show`, the claim page and the report fold the same runs: identical machine runs in a row fold,
    a review between them keeps the runs on either side apart."""
    from sqlalchemy import select

    from factcheck.desk.claims import fold_repeats, verdict_history, verdict_repeat_key
    from factcheck.desk.models import Claim
    from factcheck.desk.triage import review
    from tests.test_web import sign_in

    build(desk, tmp_path)
    for _ in range(2):
        verify(desk.desk, desk.settings, actor="t")
    with desk.desk.session() as s:
        c1 = s.execute(select(Claim).where(Claim.key == "C1")).scalar_one()
        review(s, "C1", label="verified", note="read it", by="ana", expect_revision=c1.revision)
    verify(desk.desk, desk.settings, actor="t")
    with desk.desk.session() as s:
        c1 = s.execute(select(Claim).where(Claim.key == "C1")).scalar_one()
        folded = [(v.kind, n) for _f, v, n in fold_repeats(verdict_history(s, c1.id), verdict_repeat_key)]
        cid = c1.id
        rep = build_report(s, desk.settings)
    assert folded == [("machine", 3), ("human", 1), ("machine", 1)]
    shown = next(c for c in rep.claims if c.key == "C1")
    assert [(h.kind, n) for h, n in collapsed_history(shown.history)] == folded
    page = sign_in(create_app(desk.desk, desk.settings), "cara").get(f"/claims/{cid}").text
    assert page.count("(the same in 3 runs in a row)") == 1 and "machine runs " in page


def test_claims_show_folds_identical_runs_in_the_terminal(cli, tmp_path):
    import json

    from factcheck.resources import sample_case

    assert cli("init").code == 0 and cli("claims", "import", str(sample_case())).code == 0
    for _ in range(3):
        assert cli("verify").code == 0
    text = cli("claims", "show", "S1")
    assert text.code == 0 and "runs 1–3" in text.stdout and "(the same in 3 runs in a row)" in text.stdout
    assert len(json.loads(cli("claims", "show", "S1", "--json").stdout)["history"]) == 3  # JSON keeps each
