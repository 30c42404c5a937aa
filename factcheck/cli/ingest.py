"""`factcheck ingest PATH_OR_URL`: an article becomes stored claims with their cited sources.

A thin layer over factcheck.desk.ingest: parse options, call it, print. Library errors surface as one
`Error: …` line through cli.main.
"""

from __future__ import annotations

import click

from factcheck.cli.app import App, cli, err, out, print_json
from factcheck.text.display import for_terminal as _t


@click.command("ingest")
@click.argument("path_or_url")
@click.option("--outlet", metavar="NAME", help="Publishing outlet (else the page's site name, host or credit line).")
@click.option("--language", type=click.Choice(["de", "en"]), help="Article language (else detected).")
@click.option("--case", "case_key", metavar="KEY", help="Case to file the article under (else its title or URL).")
@click.option("--threshold", type=click.FloatRange(0.0, 1.0), metavar="X",
              help="Check-worthiness a sentence needs to become a claim (else the desk setting, 0.5).")
@click.option("--by", help="Who is ingesting (else FACTCHECK_USER).")
@click.option("--queue", "queue", is_flag=True,
              help="Queue the ingest for a worker (PostgreSQL desks; a file is read by the worker at its path).")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.pass_obj  # the App that cli() put on the context
def ingest(app: App, path_or_url: str, outlet: str | None, language: str | None, case_key: str | None,
           threshold: float | None, by: str | None, queue: bool, as_json: bool) -> None:
    """Turn an article (HTML or text file, or URL) into claims with their cited sources.

    The article is archived as a snapshot (URLs are fetched politely, like evidence); every sentence worth
    checking is stored as a claim with its citations and check-worthiness. Links to a known source's
    domain become citations and their pages are queued as evidence (`factcheck fetch`). Re-ingesting the
    same article updates its claims and never duplicates them.
    """
    from rich.table import Table

    from factcheck.desk.ingest import ingest as run_ingest

    if queue:
        from factcheck.cli.jobs import print_enqueued
        from factcheck.desk.jobs import enqueue_ingest

        print_enqueued([enqueue_ingest(app.desk(), app.settings, path_or_url, actor=app.actor(by), outlet=outlet,
                                       language=language, case=case_key, threshold=threshold)], as_json=as_json)
        return
    summary = run_ingest(app.desk(), app.settings, path_or_url, actor=app.actor(by), outlet=outlet,
                         language=language, case=case_key, threshold=threshold)
    if summary.gone:
        err.print(_t(f"Note: {len(summary.gone)} claim(s) from an earlier ingest of this article no longer appear "
                     f"in it and were kept: {', '.join(summary.gone)}"))
    if as_json:
        print_json([c.as_dict() for c in summary.claims])
        return
    t = Table("id", "claim", "cited", "attribution", "worth", title=_t(f"Claims: {summary.title or summary.case}"),
              show_lines=True)
    for c in summary.claims:
        hand = " (second-hand)" if c.second_hand else ""
        t.add_row(_t(c.id), _t(c.text, 100), _t(", ".join(c.cited) + hand),
                  _t("; ".join(c.attribution), 60), f"{c.checkworthiness:.2f}")
    out.print(t)
    n = summary.counts()
    extras = []
    if summary.sources_created:
        extras.append(_t(f"new unreviewed sources: {', '.join(summary.sources_created)}"))
    if summary.evidence_queued:
        extras.append(f"{len(summary.evidence_queued)} evidence URL(s) queued (run `factcheck fetch`)")
    out.print(
        f"Ingested into case [bold]{_t(summary.case)}[/] ({_t(summary.language)}, "
        f"{_t(summary.outlet or 'outlet unknown')}, "
        f"{_t(summary.published or 'date unknown')}): {len(summary.claims)} claims from {summary.units} units — "
        f"{n['created']} new, {n['updated']} updated, {n['unchanged']} unchanged; snapshot "
        f"{summary.snapshot_sha256[:12]}." + ("".join(f"\n  {e}" for e in extras)),
        highlight=False,
    )


# registered on the root group when this module is imported (see app.COMMAND_MODULES)
cli.add_command(ingest)
