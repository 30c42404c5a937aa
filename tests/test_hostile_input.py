"""Hostile text at the command line: markup, terminal escapes and bidi controls are printed as written
(never acted on, never swallowed), absurd YAML and over-long fields get one clear `Error:` line, and a
refused input leaves the desk as it was. Through the installed entry point (`cli` fixture)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from factcheck.desk.cases import CaseFileError, import_case
from factcheck.desk.models import Case, Claim, EvidenceUrl, Source
from factcheck.settings import FIELD_LIMITS
from factcheck.text.display import for_terminal, visible

MARKUP_TEXT = "Zahlen [sic] seien [red]falsch[/red] und [/] drin"
SOURCE = "Quelle [/] [bold]eins"
TITLE = "Titel [/] [red]rot[/red]"
PAGE = f"""<html><head><title>{TITLE}</title></head><body><article>
<p>Der Bericht sagt: Zahlen [sic] seien [red]falsch[/red] und [/] drin, schreibt die Quelle eins.</p>
<p>Ein zweiter Absatz [/] mit mehr Text, damit die Seite als Artikel gilt.</p>
</article></body></html>"""
ESC_ID = "U\x1b[31mRED"
ESC_TEXT = "x \x1b[2J y \u202eevil\u202c \x07 \x9b1m z"


def one_error_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


def write_case(folder: Path, body: str, name: str = "case.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(body, encoding="utf-8")
    return path


@pytest.fixture
def markup_desk(cli, tmp_path: Path) -> Path:
    """A desk with a claim, a source and a saved page whose text and title hold rich markup."""
    folder = tmp_path / "claims"
    (folder / "pages").mkdir(parents=True)
    (folder / "pages" / "p.html").write_text(PAGE, encoding="utf-8")
    case = write_case(folder, json.dumps({
        "case": "markup",
        "sources": [{"name": SOURCE}],
        "evidence": [{"url": "https://example.org/p", "source": SOURCE, "file": "pages/p.html"}],
        "claims": [{"id": "C1", "text": MARKUP_TEXT, "cited": [SOURCE], "evidence": ["https://example.org/p"]}],
    }))
    assert cli("init").code == 0
    r = cli("claims", "import", str(case))
    assert r.code == 0, r.stderr
    return case


def test_markup_is_printed_as_written_everywhere(cli, markup_desk):
    r = cli("claims", "list")
    assert r.code == 0, r.stderr
    assert MARKUP_TEXT in r.stdout and SOURCE in r.stdout
    r = cli("claims", "show", "C1")
    assert r.code == 0, r.stderr
    assert MARKUP_TEXT in r.stdout.splitlines()
    assert f"cites {SOURCE} (named, cited directly)" in r.stdout
    r = cli("sources", "list")
    assert r.code == 0 and SOURCE in r.stdout, r.stderr
    r = cli("evidence", "list")
    assert r.code == 0 and TITLE in r.stdout, r.stderr
    r = cli("evidence", "show", "https://example.org/p")
    assert r.code == 0 and f"title: {TITLE}" in r.stdout and "und [/] drin" in r.stdout, r.stderr


def test_verify_with_markup_in_the_quoted_passage_prints_and_keeps_the_desk_listable(cli, markup_desk):
    r = cli("verify")
    assert r.code == 0, r.stderr
    assert "Traceback" not in r.stderr and MARKUP_TEXT in r.stdout
    r = cli("claims", "list")
    assert r.code == 0, r.stderr
    shown = json.loads(cli("claims", "show", "C1", "--json").stdout)
    assert shown["text"] == MARKUP_TEXT
    r = cli("triage")
    assert r.code == 0, r.stderr
    r = cli("audit", "log")
    assert r.code == 0, r.stderr


def test_terminal_escapes_and_bidi_controls_are_shown_not_sent(cli, tmp_path):
    case = write_case(tmp_path / "claims", json.dumps({"case": "esc", "claims": [{"id": ESC_ID, "text": ESC_TEXT}]}))
    cli("init")
    assert cli("claims", "import", str(case)).code == 0
    for args in (("claims", "list"), ("claims", "show", ESC_ID), ("triage",), ("audit", "log")):
        r = cli(*args)
        assert r.code == 0, (args, r.stderr)
        for raw in ("\x1b", "\u202e", "\x07", "\x9b"):
            assert raw not in r.stdout, (args, raw)
        assert "\\x1b[31mRED" in r.stdout, args
    shown = cli("claims", "show", ESC_ID).stdout
    assert "x \\x1b[2J y \\u202eevil\\u202c \\x07 \\x9b1m z" in shown
    # stored byte-exact, and JSON gives it back exactly
    assert json.loads(cli("claims", "show", ESC_ID, "--json").stdout)["text"] == ESC_TEXT
    assert [c["id"] for c in json.loads(cli("claims", "list", "--json").stdout)] == [ESC_ID]
    # an error that names the hostile id stays one harmless line
    r = cli("claims", "show", "nope\x1b[2J\nsecond line")
    assert r.code == 1 and "\x1b" not in r.stderr
    one_error_line(r.stderr)
    # click's own usage errors quote what was typed: shown, not sent
    for args in (("claims", "show", "A", "B\x1b[31mred\u202e"), ("claims", "show", "--x\x1b[31mred\u202e"),
                 ("report", "--format", "h\x1b[2Jx")):
        r = cli(*args)
        assert r.code == 2 and "\x1b" not in r.stderr and "\u202e" not in r.stderr, (args, r.stderr)
        assert "\\x1b[" in r.stderr and "Traceback" not in r.stderr, r.stderr


@pytest.mark.parametrize("text", [
    "plain", "[red]x[/red]", "[/]", "a [b] c", "\\[red]", "ends with \\", "[bold]\\", "\x1b[31m", "\u202e\u2066",
    ":thumbs_up: :smile:", "tab\there", "line\nbreak", "[link=https://x]y[/link]", "\ud800 lone",
])
def test_for_terminal_renders_exactly_the_visible_text(text):
    """The function every command prints stored text with: rich shows exactly `visible(text)`, whatever
    markup, emoji codes or controls the text holds."""
    expected = visible(text)
    if expected.endswith("\\"):  # a trailing backslash is shown as its escape (it would eat the next tag)
        expected = expected[:-1] + "\\x5c"
    assert "\x1b" not in expected and "\u202e" not in expected and "\n" not in expected
    for markup, shown in ((for_terminal(text), expected),
                          (f"[bold]{for_terminal(text)}[/] [dim]{for_terminal(text)}[/dim]", f"{expected} {expected}")):
        buf = io.StringIO()
        console = Console(file=buf, width=500, highlight=False, emoji=False, color_system=None, soft_wrap=True)
        console.print(markup)
        assert buf.getvalue() == shown + "\n"


def test_visible_keeps_line_breaks_only_when_asked():
    assert visible("a\r\nb\tc\rd", newlines=True) == "a\nb\tc\\x0dd"
    assert visible("a\nb") == "a\\x0ab"


def test_deeply_nested_yaml_is_one_clear_line(cli, tmp_path):
    deep = write_case(tmp_path / "claims", "claims: " + "[" * 500 + "]" * 500 + "\n", "deep.yaml")
    cli("init")
    r = cli("claims", "import", str(deep))
    assert r.code == 1
    line = one_error_line(r.stderr)
    assert "deep.yaml" in line and "nested more than" in line
    assert len(r.stderr) < 300


def test_deep_yaml_guard_in_the_library(memory_desk, tmp_path):
    """Both guards: the token scan refuses it before composing; RecursionError would be caught anyway."""
    for depth in (60, 5000):
        path = write_case(tmp_path, "claims:\n  - " + "{a: " * depth + "x" + "}" * depth + "\n", f"d{depth}.yaml")
        with pytest.raises(CaseFileError, match="nested more than 50 levels"), memory_desk.desk.session() as s:
            import_case(s, memory_desk.settings, path, actor="t")


def counts(env) -> dict[str, int]:
    from sqlalchemy import func, select

    with env.desk.session() as s:
        return {m.__name__: s.execute(select(func.count()).select_from(m)).scalar_one()
                for m in (Case, Claim, Source, EvidenceUrl)}


@pytest.mark.parametrize(("kind", "yaml_field"), [
    ("source_name", "sources:\n  - name: {v}\nclaims: []\n"),
    ("claim_text", "claims:\n  - id: C1\n    text: {v}\n"),
    ("claim_id", "claims:\n  - id: {v}\n    text: t\n"),
    ("case", "case: {v}\nclaims: []\n"),
    ("language", "claims:\n  - id: C1\n    text: t\n    language: {v}\n"),
    ("url", "claims:\n  - id: C1\n    text: t\n    evidence: ['https://example.org/{v}']\n"),
])
def test_over_long_fields_are_refused_naming_file_and_line(desk, tmp_path, kind, yaml_field):
    limit = FIELD_LIMITS[kind].chars
    path = write_case(tmp_path / "c", yaml_field.format(v="x" * (limit + 1)))
    before = counts(desk)
    with pytest.raises(CaseFileError) as info, desk.desk.session() as s:
        import_case(s, desk.settings, path, actor="t")
    assert str(path) in str(info.value) and "line" in str(info.value)
    assert f"the most is {limit:,}" in str(info.value) or "characters long" in str(info.value)
    assert counts(desk) == before
    ok = write_case(tmp_path / "c", yaml_field.format(v="x" * (limit - 40 if kind == "url" else limit)), "ok.yaml")
    with desk.desk.session() as s:
        import_case(s, desk.settings, ok, actor="t")  # at the limit it is stored, on both databases


def test_a_megabyte_source_name_is_one_line(cli, tmp_path):
    path = write_case(tmp_path / "claims", f"sources:\n  - name: {'N' * 1_000_000}\nclaims: []\n")
    cli("init")
    r = cli("claims", "import", str(path))
    assert r.code == 1
    line = one_error_line(r.stderr)
    assert "source name is 1,000,000 characters long; the most is 200" in line and len(line) < 400
    assert json.loads(cli("sources", "list", "--json").stdout) == []


def test_article_file_over_the_cap_is_refused(desk, tmp_path):
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "big.txt").write_text("Satz. " * 200, encoding="utf-8")
    path = write_case(folder, "article: {title: Big, file: big.txt}\nclaims: []\n")
    desk.settings.values["max_bytes"] = 1000  # the one cap: evidence files, ingest and article files
    before = counts(desk)
    with pytest.raises(CaseFileError, match="over the 1,000-byte cap"), desk.desk.session() as s:
        import_case(s, desk.settings, path, actor="t")
    assert counts(desk) == before
    desk.settings.values["max_bytes"] = 10_000
    with desk.desk.session() as s:
        import_case(s, desk.settings, path, actor="t")


def test_claim_refs_with_colons_and_odd_digits(memory_desk, tmp_path):
    from factcheck.desk.claims import UnknownClaim, find_claim

    path = write_case(tmp_path, json.dumps({"case": "Fall: eins", "claims": [
        {"id": "a:b", "text": "Erster."}, {"id": "c", "text": "Zweiter."}]}))
    with memory_desk.desk.session() as s:
        import_case(s, memory_desk.settings, path, actor="t")
        assert find_claim(s, "a:b").text == "Erster."
        assert find_claim(s, "Fall: eins:a:b").text == "Erster."
        assert find_claim(s, "Fall: eins:c").text == "Zweiter."
        for ref in ("²", "٣", "9" * 30, "Fall: eins:zz"):
            with pytest.raises(UnknownClaim):
                find_claim(s, ref)
