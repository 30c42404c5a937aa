"""`factcheck check` (one verification run for an article, for people and pipelines), `factcheck demo`
(the same job on the bundled German sample) and `factcheck evidence add` (one page for one claim).

Thin: the work is in factcheck.desk.check and factcheck.desk.attach; this module parses, calls, prints,
and turns the outcome into the documented exit code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from sqlalchemy.exc import SQLAlchemyError

from factcheck.cli.app import App, cli, err, json_option, pass_app, print_json
from factcheck.cli.desk import evidence
from factcheck.errors import FactcheckError
from factcheck.text.display import shorten as _short
from factcheck.text.display import visible

EXIT_OK, EXIT_LOOK, EXIT_USAGE, EXIT_INCOMPLETE = 0, 1, 2, 3
REPORT_NAME = "factcheck-report.html"


def claim_line(row: dict[str, Any]) -> str:
    """One claim on one line: verdict, id, cited source, the claim, and the quote it was judged on."""
    label = row.get("verdict") or "—"
    cited = ", ".join(row.get("cited") or []) or "no source"
    line = f"{label:<10}  {row['id']}  {cited}: {_short(row['text'], 300)}"
    quote = next((q for q in row.get("evidence") or [] if q.get("quote")), None)
    if quote:
        # a quote that neither supports nor contradicts is only the closest passage found
        lead = "←" if quote.get("role") in ("supports", "contradicts") else "closest:"
        line += f"  {lead} “{_short(quote['quote'], 100)}” (sha256 {(quote.get('snapshot_sha256') or '')[:12]})"
    return visible(line)  # stored and fetched text: control and bidi characters shown, not obeyed


def _is_url(ref: str) -> bool:
    return ref.startswith(("http://", "https://"))


def _need_file(ref: str, what: str) -> None:
    """A path that is not a readable file is a usage error (exit 2), caught before the desk is touched."""
    if _is_url(ref):
        return
    p = Path(ref)
    if not p.is_file():
        raise click.BadParameter(f"{ref}: no such file (give a file or an http(s) URL)", param_hint=what)


def _parse_sources(values: tuple[str, ...]) -> list[tuple[str, str]]:
    out = []
    for v in values:
        name, sep, ref = v.partition("=")
        if not sep or not name.strip() or not ref.strip():
            raise click.BadParameter(f"{v!r}: write NAME=URL_OR_FILE, e.g. \"Harbor Times=page.html\"",
                                     param_hint="--source")
        _need_file(ref.strip(), "--source")
        out.append((name.strip(), ref.strip()))
    return out


@click.command("check")
@click.argument("article")
@click.option("--evidence", "evidence_refs", multiple=True, metavar="URL_OR_FILE",
              help="A page to judge every claim of the article against (repeatable).")
@click.option("--source", "source_refs", multiple=True, metavar="NAME=URL_OR_FILE",
              help="The page the source NAME published: tied to the claims that cite NAME (repeatable).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "md", "html"]), default="text",
              show_default=True,
              help="text: one line per claim, and the HTML report written to -o (else factcheck-report.html "
                   "in the desk folder). json, md, html: that report to -o, else to standard output.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Write the report to FILE.")
@click.option("--fail-on", type=click.Choice(["contested", "unverified", "never"]), default="contested",
              show_default=True, help="Exit 1 when a claim reaches this level (unverified includes contested).")
@click.option("--by", help="Who runs it (else FACTCHECK_USER).")
@json_option
@pass_app
def check(app: App, article: str, evidence_refs: tuple[str, ...], source_refs: tuple[str, ...], fmt: str,
          output: Path | None, fail_on: str, by: str | None, as_json: bool) -> None:
    """Check an article (file or URL) in one run: ingest it, tie and fetch its evidence, judge every claim.

    Works on the current desk (created if missing). The links the article cites are queued and fetched
    politely, with every --evidence and --source page; re-running re-uses the archive and records a new
    run. Prints one line per claim (verdict, id, source, claim, quote) and writes the audit report.
    `--json` is `--format json`: one object, the report (schema factcheck-report/1, shipped as
    factcheck/report/schema.json) with a `check` member (article, run, settings, counts, evidence).

    \b
    Exit codes:
      0  nothing to look at (no claim reached the --fail-on level)
      1  a claim reached the --fail-on level (a person should look)
      2  usage error (bad option, missing file)
      3  the run could not complete (network, desk); the report then says what was judged
    """
    from factcheck.desk.check import EvidenceGiven

    if as_json:
        fmt = "json"
    _need_file(article, "ARTICLE")
    for ref in evidence_refs:
        _need_file(ref, "--evidence")
    given = [EvidenceGiven(ref) for ref in evidence_refs]
    given += [EvidenceGiven(ref, name) for name, ref in _parse_sources(source_refs)]
    target = output if output is not None else (
        app.settings.desk_dir / REPORT_NAME if fmt == "text" else None)
    if target is not None:
        from factcheck.report import ReportError, check_target

        try:
            check_target(target)
        except ReportError as exc:
            raise click.BadParameter(str(exc), param_hint="-o") from None
    raise SystemExit(run_check(app, article, given, fmt=fmt, target=target, fail_on=fail_on,
                               actor=app.actor(by)))


def run_check(app: App, article: str, given: list[Any], *, fmt: str, target: Path | None, fail_on: str,
              actor: str, title: str | None = None, html_to: Path | None = None) -> int:
    """Run the job, print, write the report; returns the exit code. Shared by `check` and `demo`.

    `fmt` json/md/html puts that report into `target`, else on standard output (then nothing else goes
    there); text prints one line per claim and writes the HTML report to `target`. `html_to` also writes
    the HTML report there (the demo's JSON mode)."""
    from factcheck.desk.check import check_article, fails
    from factcheck.desk.db import upgrade
    from factcheck.report import make_report, report_bytes, report_dict, write_atomic

    try:
        desk = app.desk(check=False)
        upgrade(desk.engine)  # created if missing, brought to the current schema
        result = check_article(desk, app.settings, article, actor=actor, evidence=given)
        report = make_report(desk, app.settings, article=str(result.ingest.article_id), run=result.run_id) \
            if result.run_id is not None else None
    except (FactcheckError, SQLAlchemyError, OSError) as exc:
        lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        where = "database: " if isinstance(exc, SQLAlchemyError) else ""
        click.echo(f"Error: {where}{lines[0] if lines else type(exc).__name__} (the run could not complete)",
                   err=True)
        return EXIT_INCOMPLETE
    look = fails(result.counts, fail_on)
    code = EXIT_LOOK if look else EXIT_INCOMPLETE if result.fetch_failed else EXIT_OK
    for note in result.notes:
        err.print(visible(f"Note: {note}"), markup=False, highlight=False)
    for url in result.fetch_failed:
        err.print(visible(f"Note: could not fetch {url}; its claims were judged without it"), markup=False,
                  highlight=False)
    check_obj = result.as_dict() | {"fail_on": fail_on, "exit_code": code}
    if fmt == "json":
        import json

        obj = (report_dict(report) if report is not None else {}) | {"check": check_obj}
        data = (json.dumps(obj, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    elif report is not None:
        data = report_bytes(report, "html" if fmt == "text" else fmt)
    else:
        data = b""
    to_stdout = fmt != "text" and target is None
    if not to_stdout:
        ran = f"run {result.run_id}" if result.run_id is not None else "nothing to judge, no run, no report"
        click.echo(visible(f"Checked {title or result.ingest.title or article}: {len(result.claims)} claims, {ran}"))
        for row in result.claims:
            click.echo(claim_line(row))
        c = result.counts
        click.echo(f"{c.get('verified', 0)} verified, {c.get('contested', 0)} contested, "
                   f"{c.get('unverified', 0)} unverified (--fail-on {fail_on}: exit {code}).")
    if to_stdout:
        click.echo(data.decode("utf-8"), nl=False)
    elif target is not None and data:
        click.echo(f"Report: {write_atomic(target, data).resolve()}", err=fmt != "text")
    if html_to is not None and report is not None:
        click.echo(f"Report: {write_atomic(html_to, report_bytes(report, 'html')).resolve()}", err=True)
    return code


@click.command("demo")
@json_option
@pass_app
def demo(app: App, as_json: bool) -> None:
    """Check the bundled German sample article against its English sources, offline, and print the verdicts.

    Runs `factcheck check` on an article of our own (invented company and figures) with the saved pages
    of the three sources it names, on the current desk, and writes the HTML report (factcheck-report.html
    in the desk folder). With --json, prints what `check --json` prints.
    """
    from factcheck.desk.check import load_demo
    from factcheck.resources import demo_job

    job = load_demo(demo_job())
    report = app.settings.desk_dir / REPORT_NAME
    if not as_json:
        sources = " ".join(f'--source "{g.source}={Path(g.ref).name}"' for g in job.evidence)
        click.echo(f"$ factcheck check {job.article.name} {sources}")
    code = run_check(app, str(job.article), list(job.evidence), fmt="json" if as_json else "text",
                     target=None if as_json else report, fail_on="never", actor=app.actor(),
                     title=f"the sample article {job.article.name}", html_to=report if as_json else None)
    raise SystemExit(code)


@evidence.command("add")
@click.argument("claim_id")
@click.argument("url_or_file")
@click.option("--source", "source_name", metavar="NAME",
              help="The source the page speaks for (looked up in the registry, else added unreviewed).")
@click.option("--by", help="Who adds it (else FACTCHECK_USER).")
@json_option
@pass_app
def evidence_add(app: App, claim_id: str, url_or_file: str, source_name: str | None, by: str | None,
                 as_json: bool) -> None:
    """Attach a page (URL, fetched politely, or a saved file) to a claim and judge the claim again.

    The page is archived and tied to the claim and to its citation of --source; a new verification run
    judges the claim with it, and the new verdict is printed.
    """
    from factcheck.desk.attach import add_evidence

    _need_file(url_or_file, "URL_OR_FILE")
    res = add_evidence(app.desk(), app.settings, claim_id, url_or_file, actor=app.actor(by), source=source_name)
    if as_json:
        print_json(res.as_dict())
        return
    sha = res.snapshot_sha256
    click.echo(visible(f"Tied {res.attached.url} to {res.claim['id']}"
               + (f" as {res.attached.source}" if res.attached.source else "")
               + (f" (sha256 {sha[:12]})" if sha else "") + f"; run {res.run_id}:"))
    click.echo(claim_line(res.claim))
    if res.claim.get("rationale"):
        click.echo(visible(f"  {res.claim['rationale']}"))


# registered on the root group when this module is imported (see app.COMMAND_MODULES)
cli.add_command(check)
cli.add_command(demo)
