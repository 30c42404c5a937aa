"""The desk's rating scale: settings, `review --rating`, the web review form, reports and ClaimReview; and
ClaimReview publishing reviewed verdicts by default (`--include-machine` adds the rest).
"""

from __future__ import annotations

import json

import pytest
from newsroom_util import case_desk
from sqlalchemy import select
from test_web import csrf_of, sign_in

from factcheck.desk.models import Claim, Verdict
from factcheck.settings import SettingsError, load_settings, parse_rating_scale
from factcheck.web import create_app


def test_default_scale_and_bad_scales():
    s = load_settings(environ={})
    scale = s.ratings
    assert [(r.name, r.label, r.value) for r in scale.values()] == [
        ("false", "contested", 1), ("misleading", "contested", 2), ("needs context", "unverified", 3),
        ("unproven", "unverified", 3), ("mostly true", "verified", 4), ("true", "verified", 5)]
    assert s.rating("  Needs   CONTEXT ").name == "needs context"
    with pytest.raises(SettingsError, match=r"unknown rating 'fake'.*false, misleading"):
        s.rating("fake")
    custom = load_settings(environ={"FACTCHECK_RATING_SCALE": "Falsch=contested:0, Richtig=verified:2"})
    assert [r.alternate_name for r in custom.ratings.values()] == ["Falsch", "Richtig"]
    for bad, msg in (("false=wrong:1", "use one of verified"), ("false", "NAME=LABEL:VALUE"),
                     ("false=contested:x", "NAME=LABEL:VALUE"), ("a=verified:1,A=verified:2", "listed twice")):
        with pytest.raises(SettingsError, match=msg):
            load_settings(environ={"FACTCHECK_RATING_SCALE": bad})
    with pytest.raises(SettingsError, match="environment FACTCHECK_RATING_SCALE"):
        load_settings(environ={"FACTCHECK_RATING_SCALE": "x=y:1"})
    assert parse_rating_scale([]) == {}


def test_review_with_rating_and_claimreview(cli, cli_db, tmp_path):
    d = case_desk(cli, cli_db, tmp_path, verify=True)
    res = d.json("review", "C1", "--rating", "Misleading", "--note", "the memo says otherwise", "--by", "ana")
    assert res["verdict"] == "contested" and res["rating"] == "misleading"
    r = d("review", "C2", "--rating", "needs context", "--verdict", "verified", "--note", "x", "--by", "ana")
    assert r.code == 1 and "means unverified, not verified" in r.stderr
    r = d("review", "C2", "--rating", "fake", "--note", "x", "--by", "ana")
    assert r.code == 1 and r.stderr.startswith("Error: unknown rating 'fake'") and "needs context" in r.stderr
    r = d("review", "C2", "--note", "x", "--by", "ana")
    assert r.code == 2 and "--rating" in r.stderr
    shown = d.json("claims", "show", "C1")
    assert shown["verdict"] == "contested" and shown["rating"] == "misleading"
    assert shown["history"][-1]["rating"] == "misleading"
    assert "(rated “misleading”)" in d("claims", "show", "C1").stdout
    ev = d.events("verdict.human")[-1]
    assert ev["after"]["rating"] == "misleading" and ev["after"]["label"] == "contested"
    # ClaimReview: reviewed verdicts only by default; the desk rating's name and value on the scale's range
    r = d("report", "--format", "claimreview", "--base-url", "https://fc.example/r.html")
    reviews = json.loads(r.stdout)
    assert r.code == 0 and len(reviews) == 1 and "2 claim(s) with only a machine verdict left out" in r.stderr
    assert reviews[0]["reviewRating"] == {"@type": "Rating", "ratingValue": 2, "bestRating": 5, "worstRating": 1,
                                          "alternateName": "Misleading",
                                          "ratingExplanation": "the memo says otherwise"}
    r = d("report", "--format", "claimreview", "--include-machine", "--base-url", "https://fc.example/r.html")
    everything = json.loads(r.stdout)
    assert r.code == 0 and len(everything) == 3 and "left out" not in r.stderr
    machine = everything[1]["reviewRating"]  # no desk rating: the three-step scale
    assert (machine["worstRating"], machine["bestRating"]) == (1, 3) and machine["alternateName"] in (
        "Verified", "Unverified", "Contested")
    old = d("report", "--format", "claimreview", "--reviewed-only", "--base-url", "https://fc.example/r.html")
    assert old.code == 0 and json.loads(old.stdout) == reviews  # the old flag still runs: it is the default now
    r = d("report", "--format", "claimreview", "--reviewed-only", "--include-machine")
    assert r.code == 2 and "contradict" in r.stderr
    r = d("report", "--format", "md", "--include-machine")
    assert r.code == 2 and "applies to --format claimreview" in r.stderr
    # reports show the rating
    assert "CONTESTED (rated “misleading”)" in d("report", "--format", "md").stdout
    assert 'rated “misleading”' in d("report", "--format", "html").stdout
    rep = json.loads(d("report", "--format", "json").stdout)
    assert rep["claims"][0]["decision"]["rating"] == "misleading" and rep["claims"][1]["decision"]["rating"] is None
    # a desk that renames its scale later: the stored name no longer on it falls back to the label's step
    r = d("report", "--format", "claimreview", env={"FACTCHECK_RATING_SCALE": "wrong=contested:1,right=verified:2",
                                                    "FACTCHECK_ORGANISATION_URL": "https://fc.example/"})
    assert json.loads(r.stdout)[0]["reviewRating"]["alternateName"] == "Contested"


def test_web_review_form_offers_the_scale(desk, tmp_path):
    from test_web import build

    ids = build(desk, tmp_path)
    app = create_app(desk.desk, desk.settings)
    cid = ids["cid"]
    cara = sign_in(app, "cara")
    page = cara.get(f"/claims/{cid}").text
    assert '<option value="needs context">needs context (unverified)</option>' in page
    import re

    m = re.search(r'name="revision" value="(\d+)"', page)
    assert m, "the review form carries the revision it was drawn at"
    bad = cara.post(f"/claims/{cid}/review", data={"csrf": csrf_of(cara, f"/claims/{cid}"), "rating": "true",
                                                   "verdict": "contested", "note": "x", "revision": m.group(1)})
    assert bad.status_code == 400 and "means verified, not contested" in bad.text
    r = cara.post(f"/claims/{cid}/review", data={"csrf": csrf_of(cara, f"/claims/{cid}"), "rating": "false",
                                                 "note": "61 percent, not the bottom third", "revision": m.group(1)})
    assert r.status_code == 303
    with desk.desk.session() as s:
        v = s.execute(select(Verdict).join(Claim, Claim.id == Verdict.claim_id)
                      .where(Claim.id == cid, Verdict.kind == "human")).scalar_one()
        assert (v.label, v.rating, v.reviewer) == ("contested", "false", "cara")
    assert "rated “false”" in cara.get(f"/claims/{cid}").text


def test_web_claimreview_download_publishes_reviewed_only(desk, tmp_path):
    from test_web import build

    build(desk, tmp_path)
    app = create_app(desk.desk, desk.settings)
    vic = sign_in(app, "vic")
    assert "include_machine=1" in vic.get("/reports").text
    reviewed = json.loads(vic.get("/reports/download?format=claimreview").text)
    everything = json.loads(vic.get("/reports/download?format=claimreview&include_machine=1").text)
    assert reviewed == [] and len(everything) == 3  # the fixture desk has machine verdicts only
