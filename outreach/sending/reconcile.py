"""Reconciliation: every ``unknown`` row ends ``sent`` once or is re-queued once, with a
reason staff can read.

A row is ``unknown`` when a crash or a lost answer left open whether the provider took it
(never re-sent blindly). This pass asks the providers' own records:

* **Texts** (Twilio): the Message list, filtered by the number and the claim's day, for a
  text with the body we composed (``channels/twilio_lookup.py``). Found: ``sent`` with its
  SID, and status callbacks carry on as usual. Not listed once Twilio's listing delay
  (``OUTREACH_RECONCILE_SMS_DELAY_SECONDS``) has passed: back to ``queued``, once. An
  error from Twilio leaves the row for the next pass.
* **Email** (SendGrid): a Mail Send request is all or nothing, and each recipient carries
  its request id (the claim id) in ``custom_args``. An event for any of its recipients
  settles the whole request at once (``feedback.email_events.settle_requests``). A request
  with no event at all, after ``OUTREACH_RECONCILE_HORIZON_SECONDS``, while SendGrid has
  reported mail sent after it, was never accepted: back to ``queued``, once. When SendGrid
  has reported nothing sent after it (the event webhook is not set up, or down), nothing is
  re-queued and the row says why.

A row is re-queued at most once (``requeued_at``); each move is noted in its history
(``delivery_events`` with provider ``outreach``). Every write is guarded by
``state = 'unknown'``, so a callback that lands meanwhile wins.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, select, update

from outreach.channels.twilio_lookup import LookupFailed
from outreach.clock import now as clock_now
from outreach.extensions import db
from outreach.feedback.writes import record_history
from outreach.models import DeliveryEvent, Message, Step
from outreach.operations import metrics
from outreach.sending.claim import recipients_of
from outreach.sending.compose import SmsComposer

log = logging.getLogger(__name__)

#: Rows looked at per pass and channel (the rest wait for the next pass).
PASS_LIMIT = 2000
#: Twilio look-ups in flight at once.
LOOKUP_THREADS = 8
#: The newest SendGrid events read to learn how recent the webhook's news is.
RECENT_EVENTS = 200

SMS_FOUND = "reconciled: Twilio lists this text ({sid})"
SMS_ABSENT = "re-queued by reconciliation: Twilio has no record of this text"
SMS_WAITING = "awaiting reconciliation: not in Twilio's message list yet"
EMAIL_ABSENT = (
    "re-queued by reconciliation: SendGrid reported mail sent after this request, but nothing of it"
)
EMAIL_NO_NEWS = (
    "awaiting reconciliation: SendGrid has reported nothing sent after this request "
    "(is the event webhook set up?)"
)
AGAIN = "still unknown after its one re-send; check it with the provider and settle it by hand"
ERASED = "awaiting reconciliation: the subscriber was erased, so it cannot be looked up"
NO_LOOKUP = "awaiting reconciliation: this SMS channel keeps no list to ask"


@dataclass
class ReconcileReport:
    """What one pass did."""

    checked: int = 0
    sent: int = 0
    requeued: int = 0
    waiting: int = 0
    errors: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        """One line for the CLI and the log."""
        return (
            f"reconciled {self.checked} unknown rows: {self.sent} sent, {self.requeued} "
            f"re-queued, {self.waiting} waiting, {self.errors} provider errors "
            f"({self.seconds:.2f} s)"
        )


def unknown_count() -> int:
    """How many rows are ``unknown`` (cheap: the state index)."""
    return db.session.scalar(select(func.count(Message.id)).where(Message.state == "unknown"))


def due(at: datetime | None = None) -> bool:
    """Whether this process should run a pass now (at most every
    ``OUTREACH_RECONCILE_EVERY_SECONDS``, and only when a row is ``unknown``)."""
    every = float(current_app.config.get("OUTREACH_RECONCILE_EVERY_SECONDS") or 60)
    last = current_app.extensions.get("outreach.reconciled_at")
    now = time.monotonic()
    if last is not None and now - last < every:
        return False
    current_app.extensions["outreach.reconciled_at"] = now
    return bool(db.session.scalar(select(Message.id).where(Message.state == "unknown").limit(1)))


def reconcile(at: datetime | None = None, sms_channel: Any = None) -> ReconcileReport:
    """Run one pass over the ``unknown`` rows of both channels; commits."""
    started = time.perf_counter()
    at = at or clock_now()
    report = ReconcileReport()
    _reconcile_email(at, report)
    db.session.commit()
    if sms_channel is None:
        from outreach.sending.send import channels  # the app's channels, built once

        sms_channel = channels()[1]
    _reconcile_sms(at, report, sms_channel)
    db.session.commit()
    report.seconds = time.perf_counter() - started
    if report.checked:
        log.info(report.summary())
    metrics.reconciled(report.sent, report.requeued, report.waiting, report.errors)
    return report


# -- writes ------------------------------------------------------------------------------


def _move(message_id: int, kind: str, detail: str, **values: Any) -> bool:
    """Change one ``unknown`` row (guarded) and note it in its history; True if it moved."""
    moved = db.session.scalar(
        update(Message)
        .where(Message.id == message_id, Message.state == "unknown")
        .values(error_detail=detail[:500], **values)
        .returning(Message.id)
        .execution_options(synchronize_session=False)
    )
    if moved is None:
        return False
    if kind:
        record_history([message_id], kind, detail)
    return True


def _requeue(row: Any, at: datetime, detail: str, report: ReconcileReport) -> None:
    if row.requeued_at is not None:
        if row.error_detail != AGAIN:
            _move(row.id, "", AGAIN, updated_at=at)
        report.waiting += 1
        return
    changed = _move(
        row.id,
        "requeued",
        detail,
        state="queued",
        due_at=at,
        requeued_at=at,
        lease_until=None,
        updated_at=at,
    )
    report.requeued += int(changed)


def _wait(row: Any, at: datetime, detail: str, report: ReconcileReport) -> None:
    if row.error_detail != detail:
        _move(row.id, "", detail, updated_at=at)
    report.waiting += 1


def _unknown_rows(channel: str) -> list[Any]:
    return list(
        db.session.execute(
            select(
                Message.id,
                Message.step_id,
                Message.subscriber_id,
                Message.claim_id,
                Message.claimed_at,
                Message.requeued_at,
                Message.error_detail,
            )
            .where(Message.state == "unknown", Message.channel == channel)
            .order_by(Message.id)
            .limit(PASS_LIMIT)
        )
    )


# -- email -------------------------------------------------------------------------------


def latest_reported_send() -> datetime | None:
    """When the most recent mail SendGrid has reported on was claimed (its newest events)."""
    recent = (
        select(DeliveryEvent.message_id)
        .where(DeliveryEvent.provider == "sendgrid", DeliveryEvent.message_id.is_not(None))
        .order_by(DeliveryEvent.id.desc())
        .limit(RECENT_EVENTS)
        .subquery()
    )
    return db.session.scalar(
        select(func.max(func.coalesce(Message.claimed_at, Message.sent_at))).where(
            Message.id.in_(select(recent.c.message_id))
        )
    )


def _reconcile_email(at: datetime, report: ReconcileReport) -> None:
    rows = _unknown_rows("email")
    if not rows:
        return
    horizon = timedelta(
        seconds=float(current_app.config.get("OUTREACH_RECONCILE_HORIZON_SECONDS") or 1800)
    )
    reported = latest_reported_send()
    for row in rows:
        report.checked += 1
        if row.claimed_at is None or at - row.claimed_at < horizon:
            report.waiting += 1  # events may still come (the webhook settles the request)
        elif reported is not None and reported > row.claimed_at:
            _requeue(row, at, EMAIL_ABSENT, report)
        else:
            _wait(row, at, EMAIL_NO_NEWS, report)


# -- texts -------------------------------------------------------------------------------


def _bodies(rows: list[Any]) -> dict[int, tuple[str, str] | None]:
    """(phone, composed body) per row; None for an erased subscriber."""
    recipients = recipients_of(sorted({row.subscriber_id for row in rows}))
    by_step: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        by_step[row.step_id].append(row)
    out: dict[int, tuple[str, str] | None] = {}
    for step_id, step_rows in by_step.items():
        step = db.session.get(Step, step_id)
        composers: dict[str, SmsComposer] = {}  # one per language the step speaks
        for row in step_rows:
            recipient = recipients.get(row.subscriber_id)
            if recipient is None or not recipient.phone:
                out[row.id] = None
                continue
            language = recipient.language if step.variant(recipient.language) else "en"
            if language not in composers:
                composers[language] = SmsComposer(step, step.campaign.audience, language=language)
            out[row.id] = (recipient.phone, composers[language].compose(recipient, row.id))
    return out


def _reconcile_sms(at: datetime, report: ReconcileReport, channel: Any) -> None:
    rows = [row for row in _unknown_rows("sms") if row.claimed_at is not None]
    if not rows:
        return
    finder = getattr(channel, "find_sent", None)
    if finder is None:
        for row in rows:
            report.checked += 1
            _wait(row, at, NO_LOOKUP, report)
        return
    delay = timedelta(
        seconds=float(current_app.config.get("OUTREACH_RECONCILE_SMS_DELAY_SECONDS") or 600)
    )
    bodies = _bodies(rows)

    def look(row: Any) -> tuple[Any, str | None, str | None]:
        target = bodies[row.id]
        if target is None:
            return row, None, ERASED
        try:
            return row, finder(target[0], target[1], row.claimed_at), None
        except LookupFailed as exc:
            return row, None, f"awaiting reconciliation: {exc}"

    with ThreadPoolExecutor(LOOKUP_THREADS, thread_name_prefix="reconcile") as pool:
        answers = list(pool.map(look, rows))
    for row, sid, problem in answers:
        report.checked += 1
        if sid is not None:
            detail = SMS_FOUND.format(sid=sid)
            moved = _move(
                row.id,
                "reconciled_sent",
                detail,
                state="sent",
                provider_id=sid,
                sent_at=row.claimed_at,
                lease_until=None,
                updated_at=at,
            )
            report.sent += int(moved)
        elif problem is not None:
            report.errors += int(problem != ERASED)
            _wait(row, at, problem, report)
        elif at - row.claimed_at < delay:
            _wait(row, at, SMS_WAITING, report)
        else:
            _requeue(row, at, SMS_ABSENT, report)
