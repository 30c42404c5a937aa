"""Newsroom commands on claims: `claims tag`, `claims comment`, `claims assign`, `claims tags`.

Thin: parse, call the library (desk.tags, desk.comments, desk.triage), print. Who acted comes from --by or
FACTCHECK_USER, as for reviews, because every one of these is an audit event naming a person.
"""

from __future__ import annotations

import click
from rich.table import Table

from factcheck.cli.app import App, json_option, out, pass_app, print_json
from factcheck.cli.desk import claims


def _who(app: App, by: str | None) -> str | None:
    """--by, else FACTCHECK_USER; never guessed from the login (the library refuses a missing name)."""
    return (by or app.settings.user or "").strip() or None


@claims.command("tag")
@click.argument("claim_id")
@click.argument("tags", nargs=-1, required=True)
@click.option("--remove", is_flag=True, help="Take these tags off instead of adding them.")
@click.option("--by", help="Who tags (else FACTCHECK_USER).")
@json_option
@pass_app
def claims_tag(app: App, claim_id: str, tags: tuple[str, ...], remove: bool, by: str | None, as_json: bool) -> None:
    """Add tags to a claim (or take them off with --remove). Tags are lower case; spaces become hyphens."""
    from factcheck.desk.tags import tag_claim

    with app.desk().session() as s:
        claim, now = tag_claim(s, claim_id, list(tags), by=_who(app, by), remove=remove)
        key = claim.key
    if as_json:
        print_json({"id": key, "tags": now})
    else:
        out.print(f"{claim_id}: tags {', '.join(now) or 'none'}", markup=False)


@claims.command("tags")
@json_option
@pass_app
def claims_tags(app: App, as_json: bool) -> None:
    """List the tags in use on this desk, with how many claims carry each."""
    from factcheck.desk.tags import all_tags

    with app.desk().session() as s:
        rows = [{"tag": t, "claims": n} for t, n in all_tags(s)]
    if as_json:
        print_json(rows)
        return
    if not rows:
        out.print("No tags yet (add one with `factcheck claims tag ID TAG`).", markup=False)
        return
    t = Table("tag", "claims", title="Tags")
    for r in rows:
        t.add_row(r["tag"], str(r["claims"]))
    out.print(t)


@claims.command("comment")
@click.argument("claim_id")
@click.argument("text")
@click.option("--by", help="Who writes (else FACTCHECK_USER).")
@json_option
@pass_app
def claims_comment(app: App, claim_id: str, text: str, by: str | None, as_json: bool) -> None:
    """Add a comment to a claim's discussion thread (shown by `claims show`, the web desk and reports)."""
    from factcheck.desk.comments import add_comment

    with app.desk().session() as s:
        c = add_comment(s, claim_id, text, by=_who(app, by))
    if as_json:
        print_json({"id": claim_id, "comment": c.as_dict()})
    else:
        out.print(f"{claim_id}: comment {c.id} by {c.author} added.", markup=False)


@claims.command("assign")
@click.argument("claim_ids", nargs=-1, required=True)
@click.option("--to", "to", required=True, metavar="NAME", help="Who gets the claims.")
@click.option("--by", help="Who assigns (else FACTCHECK_USER).")
@click.option("--hours", type=click.IntRange(min=1), help="How long the assignment holds (else handoff_hours).")
@json_option
@pass_app
def claims_assign(app: App, claim_ids: tuple[str, ...], to: str, by: str | None, hours: int | None,
                  as_json: bool) -> None:
    """Assign claims to a named person (all or none; one audit event per claim)."""
    from factcheck.desk.triage import assign_claims, claim_ref

    with app.desk().session() as s:
        done = assign_claims(s, claim_ids, to=to, by=_who(app, by), hours=hours or int(app.settings.handoff_hours))
        rows = [{"id": claim_ref(s, c), "assignee": c.assignee,
                 "assigned_until": c.assigned_until.isoformat() if c.assigned_until else None} for c in done]
    if as_json:
        print_json(rows)
        return
    until = rows[0]["assigned_until"][:16] if rows else ""
    out.print(f"Assigned {', '.join(r['id'] for r in rows)} to {rows[0]['assignee']} until {until} UTC.",
              markup=False)
