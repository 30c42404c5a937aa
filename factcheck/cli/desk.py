"""The desk's own commands: init, config, claims, sources, evidence, fetch, extract, verify."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from factcheck.cli.app import App, cli, err, json_option, out, pass_app, print_json
from factcheck.desk.db import upgrade
from factcheck.errors import FactcheckError
from factcheck.text.display import for_terminal as _t
from factcheck.text.display import visible
from factcheck.text.urls import looks_like_url, normalise_url


@cli.command()
@json_option
@pass_app
def init(app: App, as_json: bool) -> None:
    """Create the desk, or upgrade it to the current schema."""
    desk = app.desk(check=False)
    before, after = upgrade(desk.engine)
    if before is None and desk.head_file is not None:
        from factcheck.desk.audit import GENESIS, Head, record_head

        # a new desk starts its recorded head afresh (a file left by an earlier desk of that name would
        # otherwise report every event of this one as missing)
        record_head(desk.head_file, Head(None, GENESIS), database=desk.identity, key=desk.head_key, force=True)
    if as_json:
        print_json({"db": desk.url, "from": before, "to": after})
    elif before == after:
        out.print(f"Desk {_t(desk.url)} is up to date (schema {after}).")
    else:
        out.print(f"Desk {_t(desk.url)} ready (schema {before or 'none'} → {after}).")


@cli.command()
@json_option
@pass_app
def config(app: App, as_json: bool) -> None:
    """Show the effective settings and where each came from."""
    rows = app.settings.as_rows()
    if as_json:
        print_json(rows)
        return
    t = Table("setting", "value", "from", title="Effective settings (defaults < factcheck.toml < environment < flags)")
    for r in rows:
        value = ", ".join(r["value"]) if isinstance(r["value"], tuple) else str(r["value"])
        t.add_row(r["name"], _t(value), _t(r["origin"]))
    out.print(t)


# ------------------------------------------------------------------ claims


@cli.group()
def claims() -> None:
    """Case files in and out; list and show claims."""


@claims.command("import")
@click.argument("case_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--by", help="Who is importing (else FACTCHECK_USER).")
@click.option("--queue", "queue", is_flag=True,
              help="Queue the import for a worker (PostgreSQL desks; the worker must read the file at its path).")
@json_option
@pass_app
def claims_import(app: App, case_file: Path, by: str | None, queue: bool, as_json: bool) -> None:
    """Import a case file (sources, evidence, claims). Re-importing updates in place."""
    from factcheck.desk.cases import import_case

    if queue:
        from factcheck.cli.jobs import print_enqueued
        from factcheck.desk.jobs import enqueue_import

        print_enqueued([enqueue_import(app.desk(), app.settings, case_file, actor=app.actor(by))], as_json=as_json)
        return
    desk = app.desk()
    with desk.session() as s:  # committed batch by batch: readers and other writers get their turn
        summary = import_case(s, app.settings, case_file, actor=app.actor(by), commit=lambda: desk.commit(s))
    if as_json:
        print_json(summary.as_dict())
    else:
        c, e = summary.claims, summary.evidence
        out.print(
            f"Imported case [bold]{_t(summary.case)}[/]: claims {c['created']} new, {c['updated']} updated, "
            f"{c['unchanged']} unchanged; evidence {e['snapshots']} saved copies stored, {e['queued']} URLs queued."
        )


@claims.command("add")
@click.argument("text")
@click.option("--cited", "cited", multiple=True, metavar="NAME", help="A source the claim cites (repeatable).")
@click.option("--article", type=click.IntRange(min=1), metavar="ID", help="The article that makes the claim.")
@click.option("--case", help="The case (needed when the desk holds several and no --article is given).")
@click.option("--statement", help="An English restatement the judge reads beside the claim's own words.")
@click.option("--by", help="Who adds it (else FACTCHECK_USER).")
@json_option
@pass_app
def claims_add(app: App, text: str, cited: tuple[str, ...], article: int | None, case: str | None,
               statement: str | None, by: str | None, as_json: bool) -> None:
    """Add a claim by hand (one an ingest missed): it gets the next id of its article (A3-8) or case (M1)."""
    from factcheck.desk.authoring import add_claim
    from factcheck.desk.claims import claim_dict

    with app.desk().session() as s:
        claim = add_claim(s, text, cited=cited, article=article, case=case, statement=statement,
                          actor=app.actor(by))
        d = claim_dict(s, claim, with_verdict=False)
    if as_json:
        print_json(d)
    else:
        out.print(_t(f"Added claim {d['id']} to case {d['case']}"
                     + (f", citing {', '.join(d['cited'])}" if d["cited"] else "") + "."))


@claims.command("edit")
@click.argument("claim_id")
@click.option("--statement", required=True,
              help="The claim's English restatement (an empty text removes it). Audited; bumps the revision.")
@click.option("--by", help="Who edits (else FACTCHECK_USER).")
@json_option
@pass_app
def claims_edit(app: App, claim_id: str, statement: str, by: str | None, as_json: bool) -> None:
    """Restate a claim in English so the judge can read it against English evidence."""
    from factcheck.desk.authoring import edit_claim
    from factcheck.desk.claims import claim_dict

    with app.desk().session() as s:
        claim, changed = edit_claim(s, claim_id, statement=statement, actor=app.actor(by))
        d = claim_dict(s, claim, with_verdict=False) | {"changed": changed, "revision": claim.revision}
        cid = claim.id
    # the judge reads the restatement: a changed one is judged again (the `rejudge` setting)
    rejudged = run_verify(app, claim_ids=[cid], actor=app.actor(by), quiet=as_json) \
        if changed and app.settings.rejudge else []
    if as_json:
        print_json(d | {"rejudged": rejudged})
        return
    if not changed:
        out.print(_t(f"{d['id']}: unchanged."))
        return
    what = f"restated as “{d['statement']}”" if d["statement"] else "restatement removed"
    out.print(_t(f"{d['id']}: {what}; revision {d['revision']}."))
    if rejudged:
        print_verdict_table(rejudged, title=f"Judged again (run {rejudged[0]['run']})")


@claims.command("list")
@click.option("--case", help="Only this case.")
@click.option("--search", metavar="TEXT", help="Only claims whose text, restatement or evidence holds every word.")
@click.option("--tag", "tags", multiple=True, metavar="TAG", help="Only claims with this tag (repeatable: all of them).")
@json_option
@pass_app
def claims_list(app: App, case: str | None, search: str | None, tags: tuple[str, ...], as_json: bool) -> None:
    """List claims with their current verdicts."""
    from factcheck.desk.claims import claim_dict, list_claims
    from factcheck.desk.search import search_claims
    from factcheck.desk.tags import claims_with_tags

    with app.desk().session() as s:
        found = search_claims(s, search) if search is not None else None
        ids: set[int] | None = set(found) if found is not None else None
        if tags:
            tagged = claims_with_tags(s, tags)
            ids = tagged if ids is None else ids & tagged
        rows = []
        for c in list_claims(s, case=case, ids=ids):
            d = claim_dict(s, c)
            if found is not None:
                d["matched"] = found.get(c.id, [])
            rows.append(d)
    if as_json:
        print_json(rows)
        return
    if not rows and (search is not None or tags):
        out.print("No claim matches.")
        return
    print_verdict_table(rows, title="Claims")


def print_verdict_table(rows: list[dict[str, Any]], title: str) -> None:
    colours = {"verified": "green", "contested": "red", "unverified": "yellow"}
    t = Table("id", "claim", "cited", "verdict", "conf.", "why", title=title, show_lines=True)
    for r in rows:
        label = r.get("verdict")
        badge = f"[{colours.get(label or '', 'dim')}]{label or '—'}[/]"
        conf = f"{r['confidence']:.2f}" if r.get("confidence") is not None else ""
        t.add_row(
            _t(r["id"]), _t(r["text"], 90), _t(", ".join(r["cited"])), badge, conf,
            _t((r.get("rationale") or "")[:120] + (f"  [tags: {', '.join(r['tags'])}]" if r.get("tags") else ""), 160),
        )
    out.print(t)


@claims.command("show")
@click.argument("claim_id")
@json_option
@pass_app
def claims_show(app: App, claim_id: str, as_json: bool) -> None:
    """Show one claim: text, citations, evidence, verdict with quotes, history."""
    from factcheck.desk.claims import (
        claim_dict,
        claim_evidence_urls,
        find_claim,
        fold_repeats,
        verdict_history,
        verdict_repeat_key,
    )
    from factcheck.desk.comments import comments_for
    from factcheck.desk.triage import live_assignee

    with app.desk().session() as s:
        c = find_claim(s, claim_id)
        d = claim_dict(s, c)
        d["citations"] = [
            {"source": ci.name, "phrase": ci.phrase, "kind": ci.kind, "second_hand": ci.second_hand,
             "via": ci.via, "url": ci.url}
            for ci in c.citations
        ]
        d["revision"] = c.revision
        d["assignee"] = live_assignee(c)
        d["assigned_until"] = c.assigned_until.isoformat() if d["assignee"] and c.assigned_until else None
        d["comments"] = [x.as_dict() for x in comments_for(s, [c.id]).get(c.id, [])]
        d["evidence_urls"] = [{"url": eu.url, "status": eu.status} for eu in claim_evidence_urls(s, c)]
        history = verdict_history(s, c.id)
        d["history"] = [
            {"at": v.created_at.isoformat(), "kind": v.kind, "by": v.reviewer or f"run {v.run_id}",
             "verdict": v.label, "rating": v.rating, "confidence": v.confidence, "rationale": v.rationale,
             "note": v.note}
            for v in history
        ]
        # the terminal shows identical machine runs in a row as one line with its count (the desk's rule, as
        # in reports and on the claim page); JSON keeps every verdict
        folded = [
            (v.created_at.isoformat(), v.kind, v.reviewer or (f"run {v.run_id}" if n == 1
                                                              else f"runs {first.run_id}–{v.run_id}"),
             v.label, n, v.note)
            for first, v, n in fold_repeats(history, verdict_repeat_key)
        ]
    if as_json:
        print_json(d)
        return
    out.print(f"[bold]{_t(d['id'])}[/] ({_t(d['case'])})  revision {d['revision']}")
    out.print(_t(d["text"], newlines=True))
    if d["statement"]:
        out.print(f"[dim]statement:[/] {_t(d['statement'], newlines=True)}")
    for ci in d["citations"]:
        from factcheck.report.model import citation_hand

        hand = _t(citation_hand(ci["second_hand"], ci["via"]))
        out.print(f"cites [bold]{_t(ci['source'])}[/] ({_t(ci['kind'])}, {hand}) {_t(ci['phrase'] or '')}")
    if d["tags"]:
        out.print(_t(f"tags: {', '.join(d['tags'])}"))
    if d["assignee"]:
        out.print(_t(f"assigned to {d['assignee']} until {d['assigned_until'][:16]} UTC"))
    rated = f" (rated “{_t(d['rating'])}”)" if d.get("rating") else ""
    out.print(f"verdict: [bold]{_t(d['verdict'] or '—')}[/]{rated}  confidence {d['confidence'] or ''}  "
              f"by {_t(d['decided_by'] or '—')}")
    if d["rationale"]:
        out.print(_t(d["rationale"], newlines=True))
    for n, q in enumerate(d["evidence"], 1):  # numbered: `review --quote N` takes the number
        out.print(_t(f"  [{n}] “{q['quote']}”  {q['url']} sha256:{(q['snapshot_sha256'] or '')[:12]} "
                     f"[{q['start']}:{q['end']}]", newlines=True))
    for at, kind, by, label, n, note in folded:
        same = f" (the same in {n} runs in a row)" if n > 1 else ""
        out.print(_t(f"  {at}  {kind:7} {by}: {label}{same} {note or ''}", newlines=True))
    if d["comments"]:
        out.print("comments:")
    for m in d["comments"]:
        out.print(_t(f"  {m['at'][:16]}  {m['by']}: {m['text']}", newlines=True))


@claims.command("export")
@click.option("--case", help="Which case (needed when the desk holds several).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE (else stdout).")
@pass_app
def claims_export(app: App, case: str | None, output: Path | None) -> None:
    """Write a case file that imports back to the same claims."""
    from factcheck.desk.cases import dump_yaml, export_case

    with app.desk().session() as s:
        text = dump_yaml(export_case(s, case))
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise FactcheckError(f"cannot write {output}: {exc.strerror}") from None
    err.print(f"Wrote {_t(output)}")


# ------------------------------------------------------------------ sources


@cli.group()
def sources() -> None:
    """The source registry."""


@sources.command("list")
@json_option
@pass_app
def sources_list(app: App, as_json: bool) -> None:
    """List known sources with aliases and domains."""
    from factcheck.desk.sources import list_sources, source_dict

    with app.desk().session() as s:
        rows = [source_dict(x) for x in list_sources(s)]
    if as_json:
        print_json(rows)
        return
    t = Table("source", "aliases", "domains", "reviewed", title="Sources")
    for r in rows:
        t.add_row(_t(r["name"]), _t(", ".join(r["aliases"])), _t(", ".join(r["domains"])),
                  "yes" if r["reviewed"] else "no")
    out.print(t)


# ------------------------------------------------------------------ evidence


@cli.command("fetch")
@click.option("--refresh", is_flag=True, help="Also re-fetch captures older than stale_after_days.")
@click.option("--url", "urls", multiple=True, metavar="URL", help="Only these evidence URLs (re-fetched even if captured).")
@click.option("--by", help="Who runs it (else FACTCHECK_USER).")
@click.option("--rejudge/--no-rejudge", default=None,
              help="Judge the claims new captures belong to again, in a new run (default: the `rejudge` setting).")
@click.option("--queue", "queue", is_flag=True,
              help="Queue jobs of `fetch_job_urls` URLs each for workers instead of fetching here (PostgreSQL "
                   "desks).")
@json_option
@pass_app
def fetch_cmd(app: App, refresh: bool, urls: tuple[str, ...], by: str | None, rejudge: bool | None, queue: bool,
              as_json: bool) -> None:
    """Fetch every evidence URL not yet captured (or stale), politely, with a progress bar; then judge again
    the claims whose evidence changed."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from factcheck.desk.capture import fetch_pending, pending_requests

    desk = app.desk()
    if queue:
        from factcheck.cli.jobs import print_enqueued
        from factcheck.desk.jobs import enqueue_fetch

        print_enqueued(enqueue_fetch(desk, app.settings, actor=app.actor(by), urls=list(urls) or None,
                                     refresh=refresh, rejudge=app.settings.rejudge if rejudge is None else rejudge),
                       as_json=as_json)
        return
    reqs = pending_requests(desk, app.settings, refresh=refresh, urls=list(urls) or None)
    with Progress(TextColumn("fetching"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.description}"), console=err, transient=True,
                  disable=as_json or not err.is_terminal) as bar:
        task = bar.add_task("", total=len(reqs))
        summary = fetch_pending(
            desk, app.settings, actor=app.actor(by), requests=reqs,
            on_row=lambda row: bar.update(task, advance=1, description=_t(row.url, 60)),
        )
    failed = any(r.outcome == "failed" for r in summary.rows)
    verdicts: list[dict[str, Any]] = []
    if app.settings.rejudge if rejudge is None else rejudge:
        from factcheck.desk.verify import claims_for_evidence

        with desk.session() as s:
            touched = claims_for_evidence(s, [r.url for r in summary.rows if r.outcome == "fetched"])
        if touched:
            verdicts = run_verify(app, claim_ids=touched, actor=app.actor(by), quiet=as_json)
    if as_json:
        print_json({"fetched": [r.as_dict() for r in summary.rows], "rejudged": verdicts})
    else:
        t = Table("url", "outcome", "status", "reason", "snapshot", title="Fetch")
        for r in summary.rows:
            colour = {"fetched": "green", "unchanged": "cyan", "failed": "red", "skipped": "yellow"}[r.outcome]
            t.add_row(_t(r.url, 70), f"[{colour}]{r.outcome}[/]", str(r.http_status or ""), _t(r.reason or ""),
                      (r.snapshot_sha256 or "")[:12])
        if summary.rows:
            out.print(t)
        counts = summary.counts()
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(summary.failures_by_reason().items()))
        out.print(
            f"{counts.get('fetched', 0)} fetched, {counts.get('unchanged', 0)} unchanged, "
            f"{counts.get('failed', 0)} failed, {counts.get('skipped', 0)} skipped"
            + (f" ({reasons})" if reasons else "") + "."
        )
        if verdicts:
            print_verdict_table(verdicts, title=f"Judged again (run {verdicts[0]['run']})")
    if failed:
        raise SystemExit(1)


@cli.group()
def evidence() -> None:
    """The evidence archive: captured snapshots, and pages added to claims (`evidence add`)."""


def _snapshot_dict(s: Any, snap: Any, with_text: bool = False) -> dict[str, Any]:
    d = {
        "id": snap.id, "url": snap.url, "final_url": snap.final_url, "status": snap.status,
        "fetched_at": snap.fetched_at.isoformat(), "origin": snap.origin, "sha256": snap.sha256,
        "content_type": snap.content_type, "encoding": snap.encoding, "title": snap.title,
        "author": snap.author, "published": snap.published, "language": snap.language,
        "source": snap.source.name if snap.source else None, "warc_path": snap.warc_path,
        "redirects": snap.redirects, "chars": len(snap.text or ""),
    }
    if with_text:
        d["headers"] = snap.headers
        d["text"] = snap.text
    return d


@evidence.command("list")
@click.option("--url", help="Only captures of this URL (all of them, oldest first).")
@json_option
@pass_app
def evidence_list(app: App, url: str | None, as_json: bool) -> None:
    """List snapshots (and evidence URLs still waiting to be fetched)."""
    from sqlalchemy import select

    from factcheck.desk.models import EvidenceUrl, Snapshot

    with app.desk().session() as s:
        q = select(Snapshot).order_by(Snapshot.url, Snapshot.fetched_at, Snapshot.id)
        if url:
            url = normalise_url(url)  # as the desk stores it
            q = q.where(Snapshot.url == url)
        snaps = [_snapshot_dict(s, x) for x in s.execute(q).scalars()]
        waiting = [
            {"url": e.url, "status": e.status, "last_outcome": e.last_outcome, "last_reason": e.last_reason}
            for e in s.execute(select(EvidenceUrl).where(EvidenceUrl.status != "captured")
                               .order_by(EvidenceUrl.id)).scalars()
            if not url or e.url == url
        ]
    if as_json:
        print_json({"snapshots": snaps, "pending": waiting})
        return
    t = Table("sha256", "url", "captured", "origin", "status", "title", title="Snapshots")
    for d in snaps:
        t.add_row(d["sha256"][:12], _t(d["url"], 60), d["fetched_at"][:19], _t(d["origin"]), str(d["status"] or ""),
                  _t(d["title"] or "", 40))
    out.print(t)
    if waiting:
        w = Table("url", "status", "last reason", title="Not captured")
        for d in waiting:
            w.add_row(_t(d["url"] or "", 80), _t(d["status"] or ""), _t(d["last_reason"] or ""))
        out.print(w)


@evidence.command("show")
@click.argument("ref")
@json_option
@pass_app
def evidence_show(app: App, ref: str, as_json: bool) -> None:
    """Show one snapshot (by sha256 prefix, id, or URL for its latest capture) with its text."""
    from sqlalchemy import select

    from factcheck.desk.evidence import latest_snapshot
    from factcheck.desk.models import Snapshot

    with app.desk().session() as s:
        snap = None
        if looks_like_url(ref):
            snap = latest_snapshot(s, normalise_url(ref))
        elif ref.isdigit() and len(ref) < 10:
            snap = s.get(Snapshot, int(ref))
        if snap is None and len(ref) >= 4:
            found = list(s.execute(select(Snapshot).where(Snapshot.sha256.startswith(ref.lower()))
                                   .order_by(Snapshot.id)).scalars())
            if len({f.sha256 for f in found}) > 1:
                raise FactcheckError(f"snapshot prefix {ref!r} is ambiguous; give more characters")
            snap = found[-1] if found else None
        if snap is None:
            raise FactcheckError(f"no snapshot {ref!r} on this desk (see `factcheck evidence list`)")
        d = _snapshot_dict(s, snap, with_text=True)
    if as_json:
        print_json(d)
        return
    for k in ("url", "final_url", "status", "fetched_at", "origin", "sha256", "content_type", "title", "author",
              "published", "language", "source", "warc_path"):
        out.print(f"[bold]{k}[/]: {_t(d[k] if d[k] is not None else '')}")
    out.print()
    out.print(_t(d["text"], newlines=True))


@cli.command("extract")
@click.argument("paths_or_urls", nargs=-1, required=True)
@json_option
@pass_app
def extract_cmd(app: App, paths_or_urls: tuple[str, ...], as_json: bool) -> None:
    """Print the main text and metadata of pages, as the desk would store them."""
    from factcheck.documents.extract import extract_bytes, extract_path

    rows = []
    failed = False
    fetcher = None
    for item in paths_or_urls:
        try:
            if looks_like_url(item):
                if fetcher is None:
                    from factcheck.desk.capture import policy_from_settings
                    from factcheck.documents.fetch import Fetcher

                    fetcher = Fetcher(policy_from_settings(app.settings))
                res = fetcher.fetch(item)
                if res.outcome != "fetched" or res.body is None:
                    raise FactcheckError(f"{item}: {res.outcome} ({res.reason}){': ' + res.detail if res.detail else ''}")
                ex = extract_bytes(res.body, content_type=res.header("Content-Type"), url=res.final_url)
            else:
                p = Path(item)
                if not p.is_file():
                    raise FactcheckError(f"{item}: no such file")
                if p.stat().st_size > app.settings.max_bytes:
                    raise FactcheckError(f"{item}: file is over the {app.settings.max_bytes:,}-byte cap")
                ex = extract_path(p)
        except FactcheckError as exc:
            failed = True
            click.echo(f"Error: {visible(str(exc))}", err=True)
            continue
        rows.append({"path_or_url": item, "title": ex.title, "author": ex.author, "published": ex.published,
                     "language": ex.language, "content_type": ex.content_type, "encoding": ex.encoding,
                     "text": ex.text})
    if fetcher is not None:
        fetcher.close()
    if as_json:
        print_json(rows)
    else:
        for r in rows:
            out.print(f"[bold]{_t(r['path_or_url'])}[/]  title: {_t(r['title'] or '')}  "
                      f"published: {_t(r['published'] or '')}  language: {_t(r['language'] or '')}")
            out.print(_t(r["text"], newlines=True))
            out.print()
    if failed:
        raise SystemExit(1)


# ------------------------------------------------------------------ verify


@cli.command("verify")
@click.option("--claim", "claim_refs", multiple=True, metavar="ID", help="Only these claims (repeatable).")
@click.option("--case", help="Only this case's claims.")
@click.option("--by", help="Who runs it (else FACTCHECK_USER).")
@click.option("--queue", "queue", is_flag=True,
              help="Queue the run as jobs of `verify_batch` claims for workers (PostgreSQL desks); it shows in "
                   "`factcheck runs` as running until its last job is done.")
@json_option
@pass_app
def verify_cmd(app: App, claim_refs: tuple[str, ...], case: str | None, by: str | None, queue: bool,
               as_json: bool) -> None:
    """Match claims to evidence, record a run with machine verdicts, print the table."""
    if queue:
        from factcheck.cli.jobs import print_enqueued
        from factcheck.desk.jobs import enqueue_verify

        run_id, jobs = enqueue_verify(app.desk(), app.settings, actor=app.actor(by), claim_refs=claim_refs,
                                      case=case)
        print_enqueued(jobs, as_json=as_json, run=run_id)
        return
    rows = run_verify(app, claim_refs=claim_refs, case=case, actor=app.actor(by), quiet=as_json)
    if as_json:
        print_json(rows)
    else:
        print_verdict_table(rows, title="Verdicts")


def run_verify(app: App, *, claim_refs: tuple[str, ...] = (), claim_ids: Sequence[int] = (),
               case: str | None = None, actor: str, quiet: bool = False) -> list[dict[str, Any]]:
    from rich.progress import Progress

    from factcheck.desk.claims import claim_dict
    from factcheck.desk.models import Claim, Verdict
    from factcheck.desk.verify import verify

    desk = app.desk()
    with Progress(console=err, transient=True, disable=quiet or not err.is_terminal) as bar:
        task = bar.add_task("verifying", total=None)
        result = verify(desk, app.settings, actor=actor, claim_refs=claim_refs, claim_ids=claim_ids, case=case,
                        progress=lambda done, total: bar.update(task, completed=done, total=total))
    with desk.session() as s:
        rows = []
        for cid in result.claim_ids:
            c = s.get(Claim, cid)
            assert c is not None
            v = s.query(Verdict).filter_by(claim_id=cid, run_id=result.run_id).one()
            d = claim_dict(s, c, verdict=v)
            d["run"] = result.run_id
            rows.append(d)
    return rows


@cli.command("runs")
@click.option("--limit", type=click.IntRange(min=1), help="Only the newest N runs.")
@json_option
@pass_app
def runs_cmd(app: App, limit: int | None, as_json: bool) -> None:
    """List verification runs, newest first: finished, running, or interrupted (their verdicts do not count)."""

    from factcheck.desk.runs import batch_progress, list_runs, run_dict

    with app.desk().session() as s:
        rows = [run_dict(r) for r in list_runs(s, limit=limit)]
        progress = batch_progress(s, [r["id"] for r in rows])
    for r in rows:  # a run made of worker jobs: how many of its batches are done
        r["batches"] = progress.get(r["id"])
    if as_json:
        print_json(rows)
        return
    t = Table("run", "state", "started", "finished", "by", "version", "counts", title="Verification runs")
    for r in rows:
        b = r["batches"]
        state = r["state"] + (f" ({b['done']}/{b['total']} jobs)" if b and r["state"] != "finished" else "")
        t.add_row(str(r["id"]), state, r["started_at"][:19].replace("T", " "),
                  (r["finished_at"] or "—")[:19].replace("T", " "), _t(r["actor"] or ""), _t(r["version"]),
                  ", ".join(f"{k} {v}" for k, v in r["counts"].items()))
    out.print(t)
