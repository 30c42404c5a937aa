"""Verification runs as the desk lists them: finished, running, or interrupted.

A run row is written when `factcheck verify` starts and marked finished at its end. A process that is
killed cannot mark anything, so the row carries the process's host, pid and a heartbeat (renewed after
every batch of claims): a run that is not finished is interrupted when its own process said so, when its
process is gone from this host, or when its heartbeat is older than `STALE_AFTER`. Only finished runs'
verdicts count as a claim's current verdict (`claims.pick_current`).

A run made of worker jobs (`factcheck verify --queue`, see `desk.jobs`) has no one process: it is running
while any of its batches is queued or being judged (a killed worker's job is run again by another), finished
when its last batch is done, and interrupted when a batch's job failed for good (`jobs retry` resumes it).
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from factcheck.desk.models import Run, RunBatch, utcnow

STALE_AFTER = timedelta(minutes=30)
"""A run not finished whose heartbeat is older than this is taken as interrupted (its process would have
renewed the heartbeat after each batch; one batch of claims takes seconds to a few minutes)."""

RUN_STATES = ("finished", "running", "interrupted")


def this_host() -> str:
    return socket.gethostname()[:255]


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host (signal 0 checks without sending anything)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, belongs to someone else
        return True
    except OSError:
        return False
    return True


def run_state(run: Run, now: datetime | None = None) -> str:
    """`finished`, `running` or `interrupted` (see the module docstring)."""
    if run.finished_at is not None:
        return "finished"
    if run.interrupted_at is not None:
        return "interrupted"
    if is_job_run(run):
        return "running"
    if run.pid is not None and run.host == this_host() and not process_alive(run.pid):
        return "interrupted"
    beat = run.heartbeat_at or run.started_at
    if beat is None or (now or utcnow()) - beat > STALE_AFTER:
        return "interrupted"
    return "running"


def is_job_run(run: Run) -> bool:
    """Whether the run is made of worker jobs (its batches are judged wherever workers run)."""
    return bool((run.settings or {}).get("batches"))


def run_dict(run: Run, now: datetime | None = None) -> dict[str, Any]:
    return {"id": run.id, "state": run_state(run, now), "started_at": run.started_at.isoformat(),
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            "heartbeat_at": run.heartbeat_at.isoformat() if run.heartbeat_at else None,
            "version": run.version, "actor": run.actor, "host": run.host, "pid": run.pid,
            "counts": dict(run.counts or {}), "claims": (run.settings or {}).get("claims")}


def list_runs(session: Session, *, limit: int | None = None) -> list[Run]:
    """Newest first."""
    q = select(Run).order_by(Run.id.desc())
    if limit is not None:
        q = q.limit(limit)
    return list(session.execute(q).scalars())


def batch_progress(session: Session, run_ids: list[int]) -> dict[int, dict[str, int]]:
    """For runs made of jobs: {run id: {"done", "failed", "total"}} batches (runs of one process are absent)."""
    if not run_ids:
        return {}
    out: dict[int, dict[str, int]] = {}
    rows = session.execute(select(RunBatch.run_id, RunBatch.state, func.count()).where(RunBatch.run_id.in_(run_ids))
                           .group_by(RunBatch.run_id, RunBatch.state)).all()
    for run_id, state, n in rows:
        d = out.setdefault(run_id, {"done": 0, "failed": 0, "total": 0})
        d["total"] += n
        if state in ("done", "failed"):
            d[state] += n
    return out
