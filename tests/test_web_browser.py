"""End to end in real headless Chromium: the real server (uvicorn) over a desk holding the sample case.

Skips with a reason when Chromium or Playwright is missing, unless FACTCHECK_REQUIRE_CHROMIUM=1 (CI sets it),
in which case it fails. Screenshots of every page land in FACTCHECK_SCREENSHOTS (if set) or the test's
temporary folder, for people to look at.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from factcheck.desk import users
from factcheck.desk.cases import import_case
from factcheck.desk.db import Desk, upgrade
from factcheck.desk.verify import verify
from factcheck.settings import load_settings

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "claims" / "sample.yaml"
PASSWORD = "newsroom pass 1"
REQUIRE = os.environ.get("FACTCHECK_REQUIRE_CHROMIUM") == "1"
CHROMIUM = os.environ.get("FACTCHECK_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def _problem() -> str | None:
    if not Path(CHROMIUM).is_file():
        return f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install playwright; the system Chromium is used)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    problem = _problem()
    if problem:
        if REQUIRE:
            pytest.fail(f"FACTCHECK_REQUIRE_CHROMIUM=1 but {problem}")
        pytest.skip(problem)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Desk]]:
    """`factcheck demo`'s desk (sample case imported and verified) served by uvicorn on a free local port."""
    import uvicorn

    from factcheck.web import create_app

    url = f"sqlite:///{tmp_path / 'desk.db'}"
    settings = load_settings({"db": url, "evidence_dir": str(tmp_path / "evidence")}, environ={},
                             desk_dir=tmp_path)
    desk = Desk(url, check=False)
    upgrade(desk.engine)
    with desk.session() as s:
        summary = import_case(s, settings, SAMPLE, actor="demo")
    verify(desk, settings, actor="demo", case=summary.case)
    with desk.session() as s:
        for name, role in (("ana", "checker"), ("bo", "checker"), ("vic", "viewer")):
            users.add_user(s, name, role=role, password=PASSWORD, actor="setup")
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(desk, settings), host="127.0.0.1", port=port,
                                        log_level="warning"))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        if time.monotonic() > deadline or not t.is_alive():
            pytest.fail("the web server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", desk
    finally:
        srv.should_exit = True
        t.join(10)
        desk.dispose()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("FACTCHECK_SCREENSHOTS") or tmp_path / "shots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def new_page(browser: Any, csp_errors: list[str]) -> Any:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    page.on("console", lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None)
    return page


def sign_in(page: Any, base: str, name: str) -> None:
    page.goto(base + "/queue")
    assert "/login" in page.url
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/queue")


def queue_count(page: Any) -> int:
    return page.locator("table.queue tbody tr").count()


def reviewer_count(page: Any, base: str) -> int:
    page.goto(base + "/reports")
    return int(page.inner_text("#by-reviewer"))


def test_sign_in_work_the_queue_to_the_end_and_see_the_report_change(browser, server, shots):
    base, _desk = server
    csp: list[str] = []
    page = new_page(browser, csp)
    page.goto(base + "/login")
    page.screenshot(path=str(shots / "login.png"))
    sign_in(page, base, "ana")
    start = queue_count(page)
    assert start == 5
    page.screenshot(path=str(shots / "queue.png"), full_page=True)
    assert reviewer_count(page, base) == 0
    page.screenshot(path=str(shots / "reports.png"), full_page=True)

    page.goto(base + "/queue")
    page.click("#take-next")
    page.wait_for_url(f"{base}/claims/*")
    assert "is yours until" in page.inner_text("main")
    # read the evidence: the machine's quote inside its passage, the quoted part marked
    marks = page.locator("figure.evidence").first.locator("mark.q")
    assert marks.first.is_visible() and len("".join(marks.all_inner_texts())) > 40
    assert page.locator("figure.evidence").first.locator("b.hit").count() > 0  # words the claim shares
    page.screenshot(path=str(shots / "claim.png"), full_page=True)
    capture = page.locator("figure.evidence a", has_text="archived capture").first.get_attribute("href")
    key = page.inner_text("h1").split()[0]

    page.check("input[name=verdict][value=contested]")
    page.fill("textarea[name=note]", "The evidence gives a different figure.")
    page.locator("input[name=quote]").first.check()
    page.click("#submit-review")
    page.wait_for_url(base + "/queue")
    assert f"{key}: contested — saved under your name" in page.inner_text("main")
    assert queue_count(page) == start - 1
    assert key not in [t.split()[0] for t in page.locator("table.queue td.claimcell").all_inner_texts()]
    assert reviewer_count(page, base) == 1

    page.goto(base + capture)
    assert "Extracted text only" in page.inner_text("main") and page.locator("mark#q").is_visible()
    page.screenshot(path=str(shots / "capture.png"), full_page=True)
    for name in ("articles", "articles/1", "runs", "sources", "audit"):
        page.goto(f"{base}/{name}")
        page.screenshot(path=str(shots / f"{name.replace('/', '-')}.png"), full_page=True)
    assert "verdict.human" in page.inner_text("main") and "ana" in page.inner_text("main")

    # work the rest of the queue to the end
    for _ in range(start - 1):
        page.goto(base + "/queue")
        page.click("#take-next")
        page.wait_for_url(f"{base}/claims/*")
        page.check("input[name=verdict][value=unverified]")
        page.fill("textarea[name=note]", "Not settled by the evidence we hold.")
        page.click("#submit-review")
        page.wait_for_url(base + "/queue")
    assert "Nothing needs a person right now" in page.inner_text("main")
    page.click("#take-next")
    page.wait_for_url(base + "/queue")
    assert "Nothing left to take" in page.inner_text("main")
    page.screenshot(path=str(shots / "queue-done.png"), full_page=True)
    assert reviewer_count(page, base) == start
    with page.expect_download() as dl:
        page.click("a[href='/reports/download?format=csv']")
    assert dl.value.suggested_filename == "factcheck-report.csv"
    assert csp == [], csp  # no page needed anything the CSP forbids


def test_two_checkers_in_two_browsers_never_get_the_same_claim(browser, server):
    base, _desk = server
    csp: list[str] = []
    ana, bo = new_page(browser, csp), new_page(browser, csp)
    sign_in(ana, base, "ana")
    sign_in(bo, base, "bo")
    taken: dict[str, list[str]] = {"ana": [], "bo": []}
    for _ in range(4):
        for p in (ana, bo):
            p.goto(base + "/queue")
        # both press "Take next" at the same moment, then both pages load what they got
        with ana.expect_navigation(), bo.expect_navigation():
            ana.click("#take-next", no_wait_after=True)
            bo.click("#take-next", no_wait_after=True)
        for name, p in (("ana", ana), ("bo", bo)):
            if "/claims/" in p.url:
                taken[name].append(p.url.rsplit("/", 1)[1])
            else:
                assert "Nothing left to take" in p.inner_text("main")
    everything = taken["ana"] + taken["bo"]
    assert len(everything) == 5 and len(set(everything)) == 5, taken
    assert taken["ana"] and taken["bo"]
    ana.goto(base + "/queue?mine=1")
    assert queue_count(ana) == len(taken["ana"])
    assert csp == []


def test_viewer_sees_no_review_controls(browser, server):
    base, _desk = server
    csp: list[str] = []
    page = new_page(browser, csp)
    sign_in(page, base, "vic")
    assert page.locator("#take-next").count() == 0
    page.click("table.queue td.claimcell a")
    page.wait_for_url(f"{base}/claims/*")
    assert page.locator("#submit-review").count() == 0
    assert page.locator("figure.evidence").count() >= 1


def test_a_checkers_day_on_the_claim_page(browser, server, shots):
    """Restate, attach a saved page, tag and discuss a claim, all from the claim page, in Chromium."""
    base, _desk = server
    csp: list[str] = []
    page = new_page(browser, csp)
    sign_in(page, base, "ana")
    page.goto(base + "/claims/3")
    key = page.inner_text("h1").split()[0]

    page.click("details.restate summary")
    page.fill("textarea[name=statement]", "SignalFire ranks Amazon low for keeping engineers.")
    page.click("details.restate button[type=submit]")
    page.wait_for_url(f"{base}/claims/3")
    assert "restatement saved and judged again" in page.inner_text("main")
    assert "SignalFire ranks Amazon low for keeping engineers." in page.inner_text("p.statement")

    page.click("details.add-evidence summary")
    page.set_input_files("input[name=file]", {"name": "retention.html", "mimeType": "text/html", "buffer": (
        b"<html><head><title>Retention</title></head><body><article><p>SignalFire says Amazon keeps "
        b"engineers for a shorter time than its rivals.</p></article></body></html>")})
    page.fill("input[name=source]", "SignalFire")
    page.click("details.add-evidence button[type=submit]")
    page.wait_for_url(f"{base}/claims/3")
    assert "page tied and captured; judged again in run" in page.inner_text("main")
    listed = page.inner_text("section.evidence-urls")
    assert "retention.html" in listed and "/uploads/" not in listed  # the name, not the server's path

    page.fill("input[name=tags]", "Retention, Big Tech")
    page.click("#tags button:has-text('Tag')")
    page.wait_for_url(f"{base}/claims/3")
    assert "retention" in page.inner_text("#tags") and "big-tech" in page.inner_text("#tags")
    page.fill("#comment-form textarea[name=text]", "Asked SignalFire for the raw numbers.")
    page.click("#comment-form button[type=submit]")
    page.wait_for_url(f"{base}/claims/3")
    assert "Asked SignalFire for the raw numbers." in page.inner_text("ul.comments")
    page.screenshot(path=str(shots / f"claim-{key}-worked.png"), full_page=True)
    page.goto(base + "/reports")
    assert page.locator("a[href='/reports/download?format=pdf']").count() == 1
    assert csp == [], csp
