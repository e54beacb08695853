"""The clock: APScheduler's job list, as data. Jobs hold no logic and are idempotent.

APScheduler 3 cannot share a job store between processes, so each worker keeps its own
in-memory schedule; the schedule of record is the campaign tables, and running the same
job in N processes gives the same result as one (unique keys, SKIP LOCKED claims).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from flask import Flask

from outreach.extensions import db, scheduler_holder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobSpec:
    """One recurring job: a stable id, the dotted path of its function, and its interval."""

    id: str
    func: str
    seconds: int


JOBS: tuple[JobSpec, ...] = (
    JobSpec(id="outreach.dispatch", func="outreach.sending.run:dispatch_once", seconds=15),
    JobSpec(
        id="outreach.confirmations", func="outreach.consent.confirmations:send_due", seconds=60
    ),
)


def _run(app: Flask, func_path: str) -> None:
    module_name, _, attr = func_path.partition(":")
    module = __import__(module_name, fromlist=[attr])
    with app.app_context():
        try:
            getattr(module, attr)()
        except Exception:
            log.exception("scheduled job %s failed; it will run again", func_path)
            db.session.rollback()
        finally:
            db.session.remove()


def add_jobs(app: Flask, scheduler: BaseScheduler) -> None:
    """Register every job of JOBS on a scheduler (replacing jobs with the same id)."""
    for job in JOBS:
        scheduler.add_job(
            _run,
            "interval",
            seconds=job.seconds,
            args=(app, job.func),
            id=job.id,
            replace_existing=True,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=job.seconds,
        )


def start_scheduler(app: Flask) -> BackgroundScheduler:
    """Start a background scheduler in this process (``make run``)."""
    if scheduler_holder.scheduler is not None:
        return scheduler_holder.scheduler
    scheduler = BackgroundScheduler(timezone="UTC", daemon=True)
    add_jobs(app, scheduler)
    scheduler.start()
    scheduler_holder.scheduler = scheduler
    log.info("scheduler started with jobs: %s", ", ".join(j.id for j in JOBS))
    return scheduler
