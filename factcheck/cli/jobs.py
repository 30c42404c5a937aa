"""`factcheck worker` and `factcheck jobs`: background workers on a PostgreSQL desk (factcheck.desk.jobs).

Also the one way the queueing commands (`fetch --queue`, `verify --queue`, `ingest --queue`,
`claims import --queue`) print what they queued.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import click
from rich.table import Table

from factcheck.cli.app import App, cli, err, json_option, out, pass_app, print_json
from factcheck.text.display import for_terminal as _t


@click.command("worker")
@click.option("--concurrency", type=click.IntRange(min=1), default=1, show_default=True,
              help="Jobs run at once by this worker.")
@click.option("--queue", "queues", multiple=True, metavar="NAME",
              help="Only jobs of this queue: fetch, verify or ingest (repeatable; default: all).")
@click.option("--name", help="The worker's name in its log lines (default: worker-PID).")
@click.option("-v", "--verbose", is_flag=True, help="Log every job started and finished.")
@pass_app
def worker(app: App, concurrency: int, queues: tuple[str, ...], name: str | None, verbose: bool) -> None:
    """Run queued jobs (fetch, verify, ingest, import) until stopped (Ctrl-C or SIGTERM let running jobs
    finish). Runs on any machine that reaches the desk's PostgreSQL database; start as many as you like."""
    from factcheck.desk.jobs import run_worker

    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    desk = app.desk()

    def started() -> None:
        err.print(_t(f"Worker on {desk.identity}: queues {', '.join(queues) or 'all'}, concurrency {concurrency}. "
                     "Ctrl-C stops it."))

    run_worker(desk, app.settings, concurrency=concurrency, queues=queues, name=name, on_start=started)


@click.group("jobs", invoke_without_command=True)
@click.option("--state", type=click.Choice(["queued", "running", "succeeded", "failed", "cancelled", "aborted"]),
              help="Only jobs in this state.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="The newest N jobs.")
@json_option
@click.pass_context
def jobs_group(ctx: click.Context, state: str | None, limit: int, as_json: bool) -> None:
    """The job queue: queued, running, failed (with the reason) and retried jobs. `jobs retry ID` queues a
    failed job again."""
    if ctx.invoked_subcommand is not None:
        return
    from factcheck.desk.jobs import list_jobs

    app = ctx.find_object(App)
    assert app is not None
    status = {"queued": "todo", "running": "doing"}.get(state or "", state)
    data = list_jobs(app.desk(), status=status, limit=limit)
    if as_json:
        print_json(data)
        return
    c = data["counts"]
    out.print(f"{c['todo']} queued, {c['doing']} running, {c['succeeded']} succeeded, {c['failed']} failed"
              + (f", {c['cancelled']} cancelled" if c["cancelled"] else "")
              + f"; {data['retried']} retried; {data['workers']} worker(s) registered.")
    if not data["jobs"]:
        return
    colours = {"queued": "cyan", "running": "yellow", "succeeded": "green", "failed": "red"}
    t = Table("job", "task", "target", "state", "attempts", "changed", "last error", title="Jobs (newest first)")
    for j in data["jobs"]:
        t.add_row(str(j["id"]), j["task"], _t(str(j["target"] or ""), 60),
                  f"[{colours.get(j['state'], 'dim')}]{j['state']}[/]", str(j["attempts"]),
                  (j["changed_at"] or "")[:19].replace("T", " "), _t(j["error"] or "", 60))
    out.print(t)


@jobs_group.command("retry")
@click.argument("job_id", type=int)
@json_option
@pass_app
def jobs_retry(app: App, job_id: int, as_json: bool) -> None:
    """Queue a failed job again (with its full number of attempts)."""
    from factcheck.desk.jobs import retry_job

    d = retry_job(app.desk(), job_id)
    if as_json:
        print_json(d)
    else:
        out.print(f"Job {d['id']} ({d['task']}) queued again.")


@jobs_group.command("purge")
@click.option("--older-than", "hours", type=click.IntRange(min=0), default=168, show_default=True, metavar="HOURS",
              help="Remove jobs that ended more than HOURS ago.")
@click.option("--include-failed", is_flag=True, help="Failed jobs too (else kept for `jobs retry`).")
@json_option
@pass_app
def jobs_purge(app: App, hours: int, include_failed: bool, as_json: bool) -> None:
    """Remove finished jobs from the queue's table (runs, verdicts and captures stay on the desk)."""
    from factcheck.desk.jobs import purge_jobs

    d = purge_jobs(app.desk(), app.settings, older_than_hours=hours, include_failed=include_failed)
    if as_json:
        print_json(d)
    else:
        out.print(f"{d['removed']} finished job(s) removed (ended over {hours} h ago).")


def print_enqueued(rows: Sequence[object], *, as_json: bool, run: int | None = None) -> None:
    """What a `--queue` command queued: one line per job, or the JSON list (with the run, for verify)."""
    dicts = [r.as_dict() for r in rows]  # type: ignore[attr-defined]
    if as_json:
        print_json({"run": run, "jobs": dicts} if run is not None else {"jobs": dicts})
        return
    for d in dicts:
        if d["queued"]:
            out.print(_t(f"queued  job {d['job']}  {d['task']}  {d['target']}"))
        else:
            out.print(_t(f"already queued  {d['task']}  {d['target']}"))
    n = sum(1 for d in dicts if d["queued"])
    tail = f" for run {run}" if run is not None else ""
    if any("urls" in d for d in dicts):  # fetch jobs: how many URLs they hold, and how many were queued before
        urls = sum(len(d["urls"]) for d in dicts if d["queued"])
        before = sum(len(d["urls"]) for d in dicts if not d["queued"])
        tail = f" for {urls} URL(s)" + (f" ({before} URL(s) queued already)" if before else "")
    out.print(f"{n} job(s) queued{tail}; `factcheck worker` runs them, `factcheck jobs` shows them.")


# registered on the root group when this module is imported (see app.COMMAND_MODULES)
cli.add_command(worker)
cli.add_command(jobs_group, name="jobs")
