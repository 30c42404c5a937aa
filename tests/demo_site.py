"""The demo article with its three sources on a local server: the article's source names become links to
their pages, so `check` finds and fetches them (shared by the `check` tests and the CI script's test)."""

from __future__ import annotations

from pathlib import Path

from pytest_httpserver import HTTPServer

DEMO = Path(__file__).resolve().parent.parent / "evidence" / "demo"
SOURCES = (("Tidewater Gazette", "tidewater-gazette"), ("Brightline Analytics", "brightline-analytics"),
           ("Pine Street Wire", "pine-street-wire"))


def serve_demo_sources(httpserver: HTTPServer) -> tuple[str, str]:
    """Serve robots.txt and the three source pages; return the server's base URL and the article's HTML with
    its source names linked to them."""
    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nAllow: /\n")
    base = httpserver.url_for("").rstrip("/")
    html = (DEMO / "halvard-artikel.html").read_text(encoding="utf-8")
    for name, page in SOURCES:
        html = html.replace(name, f'<a href="{base}/{page}">{name}</a>')
        httpserver.expect_request(f"/{page}").respond_with_data(
            (DEMO / f"{page}.html").read_bytes(), content_type="text/html; charset=utf-8")
    return base, html
