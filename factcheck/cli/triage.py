"""Commands of the human loop: `triage`, `triage next`, `triage release`, `review`, `audit verify`, `audit log`.

A thin layer: parse, call factcheck.desk.triage, print. Identity comes from --by or FACTCHECK_USER only (never
guessed from the login name), because the audit trail must name the person who decided.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from factcheck.cli.app import App, cli, json_option, out, print_json
from factcheck.desk.audit import describe_action
from factcheck.desk.models import VERDICT_LABELS, utcnow
from factcheck.errors import FactcheckError
from factcheck.text.display import for_terminal as _t


class AuditChainBroken(FactcheckError):
    pass


def _identity(app: App, by: str | None) -> str | None:
    return (by or app.settings.user or "").strip() or None


def _age(since: str | datetime, now: datetime | None = None) -> str:
    if isinstance(since, str):
        since = datetime.fromisoformat(since)
    secs = max(0, int(((now or utcnow()) - since).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= size:
            return f"{secs // size}{unit}"
    return f"{secs}s"


_COLOURS = {"verified": "green", "contested": "red", "unverified": "yellow", "unchecked": "dim"}


def _filters(f: Any) -> Any:
    for opt in reversed([
        click.option("--article", metavar="URL|TITLE|CASE", help="Only claims from this article (URL, title or case)."),
        click.option("--source", metavar="NAME", help="Only claims citing this source (name or alias)."),
        click.option("--status", type=click.Choice(["contested", "unverified", "unchecked", "verified",
                                                    "source-changed"]),
                     help="Only claims with this current status (or whose source changed)."),
    ]):
        f = opt(f)
    return f


# ------------------------------------------------------------------ triage


@click.group(invoke_without_command=True)
@_filters
@click.option("--assignee", metavar="NAME", help="Only claims currently assigned to NAME.")
@click.option("--limit", type=click.IntRange(min=1), help="Show at most N claims.")
@json_option
@click.pass_context
def triage(ctx: click.Context, article: str | None, source: str | None, status: str | None,
           assignee: str | None, limit: int | None, as_json: bool) -> None:
    """The review queue: contested first, then unverified by check-worthiness, then doubtful verified claims."""
    if ctx.invoked_subcommand is not None:
        return
    from factcheck.desk.triage import queue_count, triage_queue

    app: App = ctx.obj
    now = utcnow()
    with app.desk().session() as s:  # only the rows shown are read in full; the total is a count
        items = triage_queue(s, article=article, source=source, status=status, assignee=assignee, now=now,
                             limit=limit)
        total = queue_count(s, article=article, source=source, status=status, assignee=assignee, now=now)
    rows = [it.as_dict(now) for it in items]
    if as_json:
        print_json(rows)
        return
    if not rows:
        out.print("Nothing needs a person right now.")
        return
    t = Table("#", "id", "status", "why", "conf.", "worth", "age", "assignee", "last action", "claim",
              title=f"Triage queue ({total} claims)")
    for i, r in enumerate(rows, 1):
        colour = _COLOURS.get(r["status"], "dim")
        last = r["last_action"]
        t.add_row(
            str(i), _t(r["id"]), f"[{colour}]{r['status']}[/]", _t(", ".join(r["reasons"])),
            f"{r['confidence']:.2f}" if r["confidence"] is not None else "",
            f"{r['checkworthiness']:.2f}" if r["checkworthiness"] is not None else "",
            _age(r["since"], now), _t(r["assignee"] or ""),
            _t(f"{describe_action(last['action'])} · {last['actor']}, {_age(last['at'], now)} ago" if last else ""),
            _t(r["text"], 70),
        )
    out.print(t)


@triage.command("next")
@click.option("--by", help="Who takes the claim (else FACTCHECK_USER).")
@click.option("--minutes", type=click.IntRange(min=1), help="How long the assignment holds "
              "(else the assignment_minutes setting).")
@_filters
@json_option
@click.pass_obj
def triage_next(app: App, by: str | None, minutes: int | None, article: str | None, source: str | None,
                status: str | None, as_json: bool) -> None:
    """Take the most urgent claim nobody holds; show it with its evidence."""
    from factcheck.desk.triage import next_claim

    with app.desk().session() as s:
        got = next_claim(s, by=_identity(app, by), minutes=minutes or int(app.settings.assignment_minutes),
                         article=article, source=source, status=status)
    if got is None:
        if as_json:
            print_json(None)
        else:
            out.print("Nothing left to take: every claim in the queue is assigned or the queue is empty.")
        return
    d = got.detail
    d["assigned_until"] = got.assigned_until.isoformat()
    d["assignee"] = got.assignee
    d["took_over_from"] = got.took_over_from
    if as_json:
        print_json(d)
        return
    until = got.assigned_until.strftime("%Y-%m-%d %H:%M")
    taken = f" (was {got.took_over_from}'s, expired)" if got.took_over_from else ""
    out.print(f"[bold]{_t(d['ref'])}[/] is yours until {until} UTC{_t(taken)}; revision {got.revision}.")
    out.print(_t(f"why: {', '.join(d['reasons'])}"))
    out.print(_t(d["text"], newlines=True))
    if d.get("statement"):
        out.print(_t(f"statement: {d['statement']}", newlines=True))
    if d["cited"]:
        out.print(_t(f"cites: {', '.join(d['cited'])}"))
    conf = f" {d['confidence']:.2f}" if d.get("confidence") is not None else ""
    out.print(_t(f"current verdict: {d['verdict'] or '—'}{conf} by {d['decided_by'] or '—'}"))
    if d.get("rationale"):
        out.print(_t(f"  {d['rationale']}", newlines=True))
    for q in d["evidence"]:
        out.print(_t(f"  “{q['quote']}”  {q['url']}#{q['start']}-{q['end']} "
                     f"sha256:{(q['snapshot_sha256'] or '')[:12]}", newlines=True))
    for ch in d["changes"]:
        out.print(_t(f"  source {ch['kind']}: {ch['url']} now sha256:{ch['latest_sha256'][:12]} "
                     f"(captured {ch['latest_fetched_at'][:16]})"))
    for e in d["evidence_urls"]:
        sha = f"sha256:{e['snapshot_sha256'][:12]}, {e['chars']} chars" if e["snapshot_sha256"] else "not captured"
        out.print(_t(f"  evidence {e['url']} ({e['status']}; {sha})"))
    out.print(_t(f"Review with: factcheck review {d['ref']} --verdict verified|unverified|contested "
                 f"--note '…' --by {got.assignee}"))


@triage.command("release")
@click.argument("claim_id")
@click.option("--by", help="Who releases (else FACTCHECK_USER).")
@click.option("--force", is_flag=True, help="Release a claim someone else holds.")
@json_option
@click.pass_obj
def triage_release(app: App, claim_id: str, by: str | None, force: bool, as_json: bool) -> None:
    """Give a claim back to the queue."""
    from factcheck.desk.triage import release

    with app.desk().session() as s:
        c = release(s, claim_id, by=_identity(app, by), force=force)
        key = c.key
    if as_json:
        print_json({"id": key, "assignee": None})
    else:
        out.print(_t(f"Released {claim_id}; it is back in the queue."))


# ------------------------------------------------------------------ review


@click.command()
@click.argument("claim_id")
@click.option("--verdict", "label", type=click.Choice(VERDICT_LABELS), help="Your verdict (or give --rating).")
@click.option("--rating", metavar="NAME", help="A rating of the desk's scale (`factcheck config`: rating_scale), "
              "e.g. 'false' or 'needs context'; it sets the verdict it maps to.")
@click.option("--note", required=True, help="Why, in plain words (shown as the verdict's rationale).")
@click.option("--by", help="Who reviews (else FACTCHECK_USER). Required one way or the other.")
@click.option("--quote", "quotes", multiple=True, metavar="N|URL#START-END",
              help="Evidence passage: N, the claim's quote numbered N by `claims show`, or character offsets "
                   "in the newest capture of URL (repeatable).")
@click.option("--expect-revision", type=click.IntRange(min=0), metavar="N",
              help="The claim revision you looked at (shown by `triage next`); refused if it changed since.")
@json_option
@click.pass_obj
def review(app: App, claim_id: str, label: str | None, rating: str | None, note: str, by: str | None,
           quotes: tuple[str, ...], expect_revision: int | None, as_json: bool) -> None:
    """Record your verdict on a claim; it becomes the claim's verdict, the machine's stays in the history."""
    from factcheck.desk.triage import review as do_review

    if label is None and rating is None:
        raise click.UsageError("give --verdict verified|unverified|contested or --rating NAME")
    scale_step = app.settings.rating(rating) if rating is not None else None
    with app.desk().session() as s:
        res = do_review(s, claim_id, label=label, note=note, by=_identity(app, by), quotes=list(quotes),
                        expect_revision=expect_revision, rating=scale_step)
    if as_json:
        print_json(res.as_dict())
        return
    was = f" (was {res.previous['label']} by {res.previous['by']})" if res.previous else ""
    rated = f" (rated “{res.rating}”)" if res.rating else ""
    out.print(_t(f"{claim_id}: {res.label}{rated} by {res.reviewer}{was}; revision {res.revision}."))
    for q in res.quotes:
        out.print(f"  “{_t(q['quote'], 160)}”  {_t(q['url'])} sha256:{q['snapshot_sha256'][:12]}")


# ------------------------------------------------------------------ audit


@click.group("audit")
def audit_group() -> None:
    """The tamper-evident audit trail."""


@audit_group.command("verify")
@click.option("--expect-head", metavar="HASH", help="A head hash noted earlier; it must still be in the chain "
              "(catches events cut off the end).")
@click.option("--no-snapshots", is_flag=True, help="Skip checking every snapshot against its WARC record.")
@json_option
@click.pass_obj
def audit_verify(app: App, expect_head: str | None, no_snapshots: bool, as_json: bool) -> None:
    """Check the hash chain, the head recorded outside the database, and every snapshot against its WARC
    record; exit 1 naming the first problem."""
    from factcheck.desk import audit
    from factcheck.desk.evidence import check_snapshots

    desk = app.desk()
    head_file = desk.head_file
    recorded = audit.read_head_file(head_file) if head_file is not None else None
    with desk.session() as s:
        rep = audit.verify_session(s)
        head = audit.chain_head(s)
        head_ok = True if not expect_head else audit.hash_in_chain(s, expect_head.strip().lower())
        file_problem = None if recorded is None else audit.check_recorded_head(
            s, recorded, database=desk.identity, key=desk.head_key, where=str(head_file))
        checked, snap_problems = (0, []) if no_snapshots else check_snapshots(s, app.settings)
    if recorded is None:
        file_state = "none yet" if head_file is not None else "not kept (audit_head_file is empty)"
    elif recorded.database != desk.identity:
        file_state = f"records another database ({recorded.database}); not compared"
    else:
        file_state = "ok" if file_problem is None else "mismatch"
    ok = rep.ok and head_ok and file_problem is None and not snap_problems
    problem = rep.problem
    if rep.ok and not head_ok:
        problem = f"the noted head {expect_head} is no longer in the chain (events were cut off or rewritten)"
    if as_json:  # the report on stdout; a failure still exits 1 with its one-line error on stderr
        print_json({"ok": ok, "checked": rep.checked, "first_bad_id": rep.first_bad_id, "problem": problem,
                    "head": head.hash if head.event_id is not None else None,
                    "head_file": {"path": str(head_file) if head_file else None, "state": file_state,
                                  "recorded": recorded.head.as_dict() if recorded else None,
                                  "signed": bool(recorded and recorded.mac), "problem": file_problem},
                    "snapshots": {"checked": checked, "problems": [p.as_dict() for p in snap_problems]}})
    if not rep.ok:
        raise AuditChainBroken(
            f"audit chain broken at event {rep.first_bad_id}: {problem} ({rep.checked - 1} events before it are intact)"
        )
    if not head_ok:
        raise AuditChainBroken(str(problem))
    if file_problem is not None:
        raise AuditChainBroken(file_problem)
    if snap_problems:
        first = snap_problems[0]
        more = f" (and {len(snap_problems) - 1} more)" if len(snap_problems) > 1 else ""
        raise AuditChainBroken(f"snapshot {first.snapshot_id} ({first.url}, {first.sha256[:12]}…): "
                               f"{first.problem}{more}")
    if not as_json:
        out.print(f"Audit chain intact: {rep.checked} events; head {head.hash if head.event_id else '—'}; "
                  f"head file: {file_state}; snapshots: "
                  + ("not checked" if no_snapshots else f"{checked} match their WARC records"), markup=False)


@audit_group.command("head")
@json_option
@click.pass_obj
def audit_head(app: App, as_json: bool) -> None:
    """Print the chain's newest event (note it down, or compare with the head file) and the recorded head."""
    from factcheck.desk import audit

    desk = app.desk()
    with desk.session() as s:
        head = audit.chain_head(s)
    recorded = audit.read_head_file(desk.head_file) if desk.head_file is not None else None
    if as_json:
        print_json(head.as_dict() | {"head_file": str(desk.head_file) if desk.head_file else None,
                                     "recorded": recorded.head.as_dict() if recorded else None})
        return
    if head.event_id is None:
        out.print("The audit chain is empty.", markup=False)
    else:
        out.print(f"{head.hash}  event {head.event_id} at {head.at:%Y-%m-%d %H:%M:%S} UTC", markup=False)
    if recorded is not None:
        out.print(f"recorded in {desk.head_file}: event {recorded.head.event_id or '—'} {recorded.head.hash}",
                  markup=False)


@audit_group.command("keygen")
@click.argument("path", type=click.Path(path_type=Path), required=False)
@click.pass_obj
def audit_keygen(app: App, path: Path | None) -> None:
    """Make a key that signs the audit head file (keep it outside the database, and away from its users);
    it is named in factcheck.toml as audit_key_file."""
    from factcheck.desk import audit
    from factcheck.settings import save_setting

    settings = app.settings
    target = path or settings.audit_key_path or settings.desk_dir / "audit.key"
    if not target.is_absolute():
        target = Path.cwd() / target
    audit.make_key(target)
    named = target.relative_to(settings.desk_dir.resolve()) if target.is_relative_to(settings.desk_dir.resolve()) \
        else target
    cfg = save_setting(settings.desk_dir, "audit_key_file", str(named))
    key = audit.read_key(target)
    desk = app.desk()
    if desk.head_file is not None:
        with desk.session() as s:
            head = audit.chain_head(s)
        audit.record_head(desk.head_file, head, database=desk.identity, key=key, force=True)
    out.print(f"Key written to {target} (owner-only); {cfg} names it; the head file is signed from now on.",
              markup=False)


@audit_group.command("log")
@click.option("--claim", "claim_id", metavar="ID", help="Only events about this claim.")
@click.option("--limit", type=click.IntRange(min=1), help="Only the newest N events.")
@json_option
@click.pass_obj
def audit_log(app: App, claim_id: str | None, limit: int | None, as_json: bool) -> None:
    """List audit events, oldest first: who, when, what, before → after."""
    from factcheck.desk.triage import audit_events

    with app.desk().session() as s:
        rows = audit_events(s, claim=claim_id, limit=limit)
    if as_json:
        print_json(rows)
        return
    if not rows:
        out.print("No events.")
        return
    t = Table("#", "at (UTC)", "who", "action", "claim", "what", title="Audit log")
    for r in rows:
        t.add_row(str(r["id"]), r["at"][:19].replace("T", " "), _t(r["actor"]), _t(r["action"]),
                  _t(r["claim"] or ""), _t(_describe(r), 110))
    out.print(t)


def _describe(r: dict[str, Any]) -> str:
    before, after = r["before"], r["after"]
    if not isinstance(after, dict):
        return ""
    before = before if isinstance(before, dict) else {}
    parts = []
    for k, v in after.items():
        if k in before and before[k] != v:
            parts.append(f"{k}: {_brief(before[k])} → {_brief(v)}")
        elif k not in before:
            parts.append(f"{k}: {_brief(v)}")
    return "; ".join(parts)


def _brief(v: Any) -> str:
    if isinstance(v, list):
        return f"[{len(v)}]"
    if isinstance(v, dict):
        return "{…}"
    return str(v)


# registered on the root group when this module is imported (see app.COMMAND_MODULES)
cli.add_command(triage)
cli.add_command(review)
cli.add_command(audit_group, name="audit")
