"""The sending loop: materialise, recover leases, then claim and send each channel in
batches (email in several lanes on PostgreSQL)."""

from __future__ import annotations

import logging
import math
import threading
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from outreach import database
from outreach.campaigns import lifecycle
from outreach.clock import now as clock_now
from outreach.extensions import db
from outreach.models import Campaign, Message
from outreach.operations import heartbeats
from outreach.sending import materialise as materialising
from outreach.sending import reconcile as reconciliation
from outreach.sending import stopping
from outreach.sending.batch import Claimed, Report
from outreach.sending.claim import PACED_BATCH_SECONDS, claim, recover_expired_leases
from outreach.sending.health import check_step_health, health_due
from outreach.sending.identity import current_lane, worker_id
from outreach.sending.outage import recover_between_batches
from outreach.sending.send import send_batch

log = logging.getLogger(__name__)


SMS_BATCH = 500


def due_count(at: datetime | None = None) -> int:
    """How many queued rows of running campaigns are due now (for progress bars)."""
    at = at or clock_now()
    return (
        db.session.scalar(
            select(func.count(Message.id))
            .join(Campaign, Campaign.id == Message.campaign_id)
            .where(Message.state == "queued", Message.due_at <= at, Campaign.status == "running")
        )
        or 0
    )


def sms_batch_limit(settings: Any) -> int:
    """SMS rows per claim: with pacing on, a few seconds' worth of sends (and never more
    than half a lease), so opt-outs never wait long and texts never overrun the window."""
    mps = float(settings.get("OUTREACH_SMS_MPS") or 0)
    workers = max(1, int(settings.get("OUTREACH_SMS_WORKERS") or 1))
    if mps <= 0:
        return SMS_BATCH
    seconds = min(settings["OUTREACH_LEASE_SECONDS"] / 2, PACED_BATCH_SECONDS)
    return max(1, min(SMS_BATCH, int(mps / workers * seconds)))


def email_lanes(settings: Any) -> int:
    """How many email batches one worker process has in flight at once (PostgreSQL only)."""
    return max(1, int(settings.get("OUTREACH_EMAIL_CONCURRENCY") or 1))


def dispatch_channel(
    channel: str,
    at: datetime | None,
    report: Report,
    progress: Callable[[int], None] | None = None,
    max_batches: int | None = None,
) -> None:
    """Claim and send batches of one channel until nothing is due (or max_batches).

    ``at`` None (production) reads the clock for every batch, so each lease starts when
    its batch is claimed, however long the whole run takes.

    Email on PostgreSQL runs ``OUTREACH_EMAIL_CONCURRENCY`` lanes: threads with their own
    session and connection, each claiming (SKIP LOCKED), gating, sending and recording its
    own batches, so one lane's database work overlaps another's rendering and request. The
    lanes split ``OUTREACH_BATCH_SIZE`` between them: a worker never holds more than one
    batch in flight, so a crash leaves at most one batch ``unknown``, as with one lane.
    """
    lanes = email_lanes(current_app.config) if channel == "email" else 1
    if lanes > 1 and max_batches is None and database.is_postgres():
        _dispatch_lanes(channel, at, report, progress, lanes)
    else:
        _dispatch_lane(channel, at, report, progress, max_batches)


def _dispatch_lanes(
    channel: str,
    at: datetime | None,
    report: Report,
    progress: Callable[[int], None] | None,
    lanes: int,
) -> None:
    """Run ``lanes`` sending lanes: this thread and ``lanes - 1`` more; reports merged."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    limit = max(1, math.ceil(current_app.config["OUTREACH_BATCH_SIZE"] / lanes))
    lock = threading.Lock()
    reports = [Report() for _ in range(lanes)]
    errors: list[BaseException] = []
    failed = threading.Event()  # a lane failed: the others stop after their batch

    def locked_progress(done: int) -> None:
        with lock:
            progress(done)  # type: ignore[misc]

    tick = locked_progress if progress else None

    def run(index: int) -> None:
        try:
            _dispatch_lane(channel, at, reports[index], tick, None, limit, failed.is_set)
        except BaseException as exc:
            # Its claimed rows stay ``sending``: they may be with the provider (an error in
            # the middle of a request), so after their lease they become ``unknown``.
            failed.set()
            log.exception("email lane %d failed; the other lanes stop", index)
            errors.append(exc)

    def lane(index: int) -> None:
        with app.app_context():
            current_lane.claimer = f"{worker_id()}/{index}"
            try:
                run(index)
            finally:
                db.session.remove()

    threads = [
        threading.Thread(target=lane, args=(index,), name=f"outreach-{channel}-{index}")
        for index in range(1, lanes)
    ]
    for thread in threads:
        thread.start()
    try:
        run(0)
    finally:
        for thread in threads:
            thread.join()
        for part in reports:
            report.add(part)
    if errors:
        raise errors[0]


def _dispatch_lane(
    channel: str,
    at: datetime | None,
    report: Report,
    progress: Callable[[int], None] | None,
    max_batches: int | None,
    limit: int | None = None,
    stop: Callable[[], bool] | None = None,
) -> None:
    """One lane: claim and send batches of ``limit`` rows until nothing is due (or
    max_batches, or ``stop()`` says another lane failed, or a stop signal arrived)."""
    limit = limit or current_app.config["OUTREACH_BATCH_SIZE"]
    if channel == "sms":
        limit = min(limit, sms_batch_limit(current_app.config))
    batches = 0
    while (max_batches is None or batches < max_batches) and not (stop and stop()):
        if stopping.requested():
            return
        try:
            claimed, claim_report = claim(channel, limit, at)
        except DBAPIError as exc:
            recover_between_batches(exc)
            continue
        report.add(claim_report)
        if progress:
            progress(claim_report.skipped + claim_report.deferred)
        if not claim_report.claimed:
            return
        if claimed:
            heartbeats.beat(heartbeats.batch_description(channel, len(claimed)))
        by_step: dict[int, list[Claimed]] = defaultdict(list)
        for c in claimed:
            by_step[c.step_id].append(c)
        failures = report.failed
        for step_batch in by_step.values():
            send_batch(step_batch, report, at)
            if progress:
                progress(len(step_batch))
        try:
            due = health_due(set(by_step), failures < report.failed)
            report.paused_steps.extend(check_step_health(due))
        except DBAPIError as exc:
            recover_between_batches(exc)
        batches += 1


def dispatch_once(
    at: datetime | None = None, progress: Callable[[int], None] | None = None
) -> Report:
    """Materialise everything due, recover stale leases, reconcile ``unknown`` rows (at
    most once a minute), and send everything due now.

    After a stop request (``stopping``) it claims nothing more: the batches in flight are
    finished and recorded, the rest stays ``queued`` for the next run."""
    start = at or clock_now()
    report = Report()
    report.materialised = materialising.materialise_due(start)
    report.recovered = recover_expired_leases(start)
    if reconciliation.due():
        reconciliation.reconcile(start)
    for channel in ("email", "sms"):
        if stopping.requested():
            break
        dispatch_channel(channel, at, report, progress)
    lifecycle.finish_done(at or clock_now())
    db.session.commit()
    heartbeats.beat(None)
    return report
