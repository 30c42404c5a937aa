"""`factcheck report`: the audit report in html, md, json, csv, ClaimReview or pdf."""

from __future__ import annotations

from pathlib import Path

import click

from factcheck.cli.app import App, cli
from factcheck.report import FORMATS, check_target, make_report, render, report_bytes, write_atomic
from factcheck.text.display import visible

HELP = """Write the audit report: what was checked, what was found, and how.

\b
Formats:
  html         one self-contained page (inline CSS, no scripts), for screen and print
  md           Markdown for tickets and CMS notes
  json         machine-readable; schema in factcheck/report/schema.json
  csv          one row per claim, UTF-8 with BOM (opens in Excel/LibreOffice)
  claimreview  schema.org ClaimReview JSON-LD, one per claim a reviewer decided
               (--include-machine: machine verdicts too); a review with a desk
               rating (rating_scale) publishes that rating's name and value,
               else contested 1, unverified 2, verified 3 (worst 1, best 3)
  pdf          the html report printed by headless Chromium (needs -o)

Without -o the report goes to stdout. Files are written atomically.
"""


@click.command("report", help=HELP)
@click.option("-f", "--format", "fmt", type=click.Choice(FORMATS), default="html", show_default=True,
              help="Output format.")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write to FILE (else stdout).")
@click.option("--case", help="Only this case (its key, as in `claims list`).")
@click.option("--article", help="Only this article (id, URL, file or title).")
@click.option("--run", "run_id", type=int, metavar="N", help="Only claims judged in run N, with that run's verdicts.")
@click.option("--base-url", metavar="URL",
              help="Where the report is published; ClaimReview `url` = URL#claim-… (else organisation_url).")
@click.option("--include-machine", is_flag=True,
              help="claimreview: also publish claims whose current verdict is the machine's (default: only "
                   "what a reviewer signed off).")
@click.option("--reviewed-only", is_flag=True, hidden=True,
              help="claimreview: the default now; kept so older scripts still run.")
@click.pass_obj  # the App that cli() put on the context
def report(app: App, fmt: str, output: Path | None, case: str | None, article: str | None, run_id: int | None,
           base_url: str | None, include_machine: bool, reviewed_only: bool) -> None:
    if fmt == "pdf" and output is None:
        raise click.UsageError("--format pdf writes a binary file: give -o FILE.pdf")
    for flag, given in (("--include-machine", include_machine), ("--reviewed-only", reviewed_only)):
        if given and fmt != "claimreview":
            raise click.UsageError(f"{flag} applies to --format claimreview")
    if include_machine and reviewed_only:
        raise click.UsageError("--include-machine and --reviewed-only contradict each other; give one")
    if output is not None:
        check_target(output)  # fail before the work, not after
    rep = make_report(app.desk(), app.settings, case=case, article=article, run=run_id)
    if output is None:
        text = render(rep, fmt, base_url=base_url, include_machine=include_machine)
        for w in rep.warnings:
            click.echo(f"Warning: {visible(w)}", err=True)
        # stdout gets the text without a BOM; a BOM belongs in files only.
        click.echo(text, nl=False)
        return
    data = report_bytes(rep, fmt, base_url=base_url, include_machine=include_machine,
                        chromium=app.settings.chromium or None)
    for w in rep.warnings:
        click.echo(f"Warning: {visible(w)}", err=True)
    path = write_atomic(output, data)
    click.echo(f"Wrote {fmt} report ({len(rep.claims)} claims) to {path}", err=True)


# registered on the root group when this module is imported (see app.COMMAND_MODULES)
cli.add_command(report)
