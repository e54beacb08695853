"""Send one claimed batch: the consent gate under a lock, the provider call, then the
results recorded."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from flask import current_app
from sqlalchemy import update
from sqlalchemy.exc import DBAPIError

from outreach import database
from outreach.campaigns import lifecycle
from outreach.channels.base import EmailChannel, SendResult, SmsChannel
from outreach.channels.registry import build_email_channel, build_sms_channel
from outreach.clock import now as clock_now
from outreach.consent import decisions
from outreach.extensions import db
from outreach.models import Audience, Message, Step
from outreach.rendering import templates
from outreach.sending import fast_compose
from outreach.sending.batch import UNDO_ATTEMPT, Claimed, Report, write
from outreach.sending.compose import language_groups, provider_call
from outreach.sending.identity import claimer
from outreach.sending.outage import database_gone, release, wait_for_database
from outreach.sending.record import record_durably


def channels() -> tuple[EmailChannel, SmsChannel]:
    """This app's configured channels (built once per app)."""
    cached = current_app.extensions.get("outreach.channels")
    if cached is None:
        cached = (build_email_channel(current_app.config), build_sms_channel(current_app.config))
        current_app.extensions["outreach.channels"] = cached
    return cached


def _gate(batch: list[Claimed], channel: str, audience_id: int) -> dict[int, str | None]:
    """Final consent check, holding the lock described in the module docstring."""
    if not database.is_postgres():
        # Take SQLite's single writer lock now, so an opt-out waits for this send (writing
        # one row takes the lock for the whole database).
        db.session.execute(
            update(Message)
            .where(Message.id == batch[0].message_id)
            .values(claimed_by=claimer())
            .execution_options(synchronize_session=False)
        )
    return decisions.check_batch([c.recipient.id for c in batch], channel, audience_id, lock=True)


def send_batch(batch: list[Claimed], report: Report, at: datetime | None = None) -> None:
    """Send claimed rows of one step (all one channel) and record what happened; commits.

    Three phases: prepare (database: the gate, rendering), deliver (the provider only),
    record. If the database goes away while preparing, nothing went out: the rows go back
    to ``queued``. If it goes away while recording, the results are written again once it
    is back; if it stays away, the rows stay ``sending`` and become ``unknown`` after their
    lease (never sent twice).
    """
    at = at or clock_now()
    try:
        prepared = _prepare(batch, report, at)
    except DBAPIError as exc:
        if not database_gone(exc):
            raise
        wait_for_database()
        release([c.message_id for c in batch])
        return
    if prepared is None:
        return
    deliver, allowed, audience = prepared
    results = deliver()
    record_durably(results, allowed, at, report, audience)


def _prepare(
    batch: list[Claimed], report: Report, at: datetime
) -> tuple[Callable[[], list[SendResult]], list[Claimed], Audience] | None:
    """Gate and render a batch; returns the provider call to make (no database in it)."""
    step = db.session.get(Step, batch[0].step_id)
    audience = step.campaign.audience
    channel = batch[0].channel
    verdict = _gate(batch, channel, audience.id)
    allowed = [c for c in batch if verdict.get(c.recipient.id) is None]
    refused = [c for c in batch if verdict.get(c.recipient.id) is not None]
    if refused:
        write(
            [
                {
                    "id": c.message_id,
                    "state": "skipped",
                    "skip_reason": verdict[c.recipient.id],
                    "lease_until": None,
                    "updated_at": at,
                }
                for c in refused
            ]
        )
        report.skipped += len(refused)
    if channel == "email" and step.variants:
        allowed = _one_request_per_language(step, allowed)
    email_channel, sms_channel = channels()
    try:
        call = fast_compose.provider_call if fast_compose.enabled(email_channel) else provider_call
        deliver = call(step, audience, allowed, email_channel, sms_channel)
    except templates.TemplateError as exc:
        db.session.rollback()
        _fail_render(batch, step, str(exc), at, report)
        return None
    return deliver, allowed, audience


def _one_request_per_language(step: Step, allowed: list[Claimed]) -> list[Claimed]:
    """Each language's copy goes in its own SendGrid request, so the rows of each get their
    own claim id (``<claim id>-es``): an event for one request settles only its own rows."""
    out: list[Claimed] = []
    for language, group in language_groups(step, allowed).items():
        if language != "en" and group[0].request_id:
            request_id = f"{group[0].request_id}-{language}"
            db.session.execute(
                update(Message)
                .where(Message.id.in_([c.message_id for c in group]))
                .values(claim_id=request_id)
                .execution_options(synchronize_session=False)
            )
            group = [replace(c, request_id=request_id) for c in group]
        out += group
    return out


def _fail_render(
    batch: list[Claimed], step: Step, detail: str, at: datetime, report: Report
) -> None:
    write(
        [
            {
                "id": c.message_id,
                "state": "queued",
                "lease_until": None,
                "updated_at": at,
                "attempts": UNDO_ATTEMPT,
                "error_detail": f"template error: {detail}",
            }
            for c in batch
        ]
    )
    lifecycle.pause_step(db.session.get(Step, step.id), f"template error: {detail}")
    report.paused_steps.append(f"step {step.id}: template error")
    db.session.commit()
