"""New evidence re-judges the claims it belongs to: after `fetch`, in a new run, unless turned off."""

from __future__ import annotations

import json

import pytest
from pytest_httpserver import HTTPServer

from tests.test_capture import Site, page


@pytest.fixture
def site(httpserver: HTTPServer) -> Site:
    return Site(httpserver)


def make_case(tmp_path, tied: str, other: str) -> None:
    (tmp_path / "case.yaml").write_text(
        "sources:\n"
        "  - {name: Local News}\n"
        "  - {name: City Hall}\n"
        f"evidence:\n  - {{url: '{tied}', source: Local News}}\n  - {{url: '{other}', source: City Hall}}\n"
        "claims:\n"
        f"  - {{id: C1, text: 'The mayor said 600 homes were built in 2024.', cited: [Local News], evidence: ['{tied}']}}\n"
        "  - {id: C2, text: 'The city hall counted 41 new bus stops in 2023.', cited: [City Hall]}\n"
        "  - {id: C3, text: 'The river flooded twice last spring.', cited: []}\n"
    )


def fetch(cli, *args: str, env: dict[str, str] | None = None) -> dict:
    r = cli("fetch", "--json", *args, env={"FACTCHECK_PER_HOST_DELAY": "0"} | (env or {}))
    assert r.code == 0, r.stderr
    return json.loads(r.stdout)


def verdict(cli, key: str) -> str:
    return json.loads(cli("claims", "show", key, "--json").stdout)["verdict"]


def test_fetch_rejudges_tied_and_citing_claims_only(cli, site, tmp_path):
    site.pages["/a"] = (200, page("Homes", "The mayor said 600 homes were built in 2024."), None)
    site.pages["/b"] = (200, page("Stops", "The city hall counted 41 new bus stops in 2023."), None)
    tied, other = site.server.url_for("/a"), site.server.url_for("/b")
    make_case(tmp_path, tied, other)
    assert cli("init").code == 0 and cli("claims", "import", "case.yaml").code == 0
    assert cli("verify").code == 0
    assert verdict(cli, "C1") == "unverified"  # nothing captured yet

    out = fetch(cli)
    # C1 through its tied URL, C2 because it cites the source the other URL belongs to; C3 has neither
    assert sorted(v["id"] for v in out["rejudged"]) == ["C1", "C2"]
    assert {v["run"] for v in out["rejudged"]} == {2}
    assert verdict(cli, "C1") == "verified" and verdict(cli, "C2") == "verified"

    # a changed page is a new capture: judged again, now contested
    site.pages["/a"] = (200, page("Homes", "The mayor said 400 homes were built in 2024."), None)
    out = fetch(cli, "--url", tied)
    assert [v["id"] for v in out["rejudged"]] == ["C1"] and out["rejudged"][0]["verdict"] == "contested"
    assert verdict(cli, "C1") == "contested"

    # the same bytes again: nothing new, no run
    out = fetch(cli, "--url", tied)
    assert [r["outcome"] for r in out["fetched"]] == ["unchanged"] and out["rejudged"] == []
    history = json.loads(cli("claims", "show", "C1", "--json").stdout)["history"]
    assert [h["verdict"] for h in history] == ["unverified", "verified", "contested"]


@pytest.mark.parametrize("how", ["flag", "setting"])
def test_rejudge_can_be_turned_off(cli, site, tmp_path, how):
    site.pages["/a"] = (200, page("Homes", "The mayor said 600 homes were built in 2024."), None)
    site.pages["/b"] = (200, page("Stops", "The city hall counted 41 new bus stops in 2023."), None)
    make_case(tmp_path, site.server.url_for("/a"), site.server.url_for("/b"))
    assert cli("init").code == 0 and cli("claims", "import", "case.yaml").code == 0
    out = fetch(cli, "--no-rejudge") if how == "flag" else fetch(cli, env={"FACTCHECK_REJUDGE": "0"})
    assert out["rejudged"] == [] and verdict(cli, "C1") is None


def test_text_output_shows_the_new_verdicts(cli, site, tmp_path):
    site.pages["/a"] = (200, page("Homes", "The mayor said 600 homes were built in 2024."), None)
    make_case(tmp_path, site.server.url_for("/a"), site.server.url_for("/b"))
    assert cli("init").code == 0 and cli("claims", "import", "case.yaml").code == 0
    r = cli("fetch", env={"FACTCHECK_PER_HOST_DELAY": "0"})
    assert r.code == 1  # /b is missing
    assert "Judged again (run 1)" in r.stdout and "C1" in r.stdout and "verified" in r.stdout
