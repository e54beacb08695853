"""Double opt-in confirmations: the one sender of the confirmation email and text.

Every sign-up path (the public form, the preferences page, imports, the API) asks for
confirmation here. An email goes at once. A text goes at once only inside the legal hours
where the person lives (TCPA 08:00-21:00, stricter state hours by area code); otherwise it
waits in ``pending_confirmations`` and ``send_due`` sends it when the window opens:
deferred, never dropped. Functions flush; the caller commits.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select, update

from outreach import database, transactional
from outreach.campaigns import windows
from outreach.clock import now as clock_now
from outreach.consent import tokens, wording
from outreach.consent.ledger import PENDING
from outreach.extensions import db
from outreach.models import Audience, PendingConfirmation, Subscriber, Subscription

log = logging.getLogger(__name__)

SENT = "sent"
DEFERRED = "outside_hours"
NOT_SENT = "not_sent"
NOT_NEEDED = "not_needed"

#: Confirmation texts sent per ``send_due`` pass (the job runs every minute).
DUE_BATCH = 200


def confirm_url(subscriber: Subscriber, audience: Audience) -> str:
    """The signed link in the confirmation email (``GET, POST /confirm/<token>``)."""
    link = tokens.LinkToken(subscriber.public_id, audience.slug, "email")
    return tokens.public_url(f"/confirm/{tokens.confirm_token(link)}")


def text_opens_at(subscriber: Subscriber, audience: Audience, at: datetime) -> datetime:
    """When a confirmation text to this person may go out (``at`` if now)."""
    tz = windows.zone_or(subscriber.timezone, audience.default_timezone)
    return windows.sms_open_at(at, tz, subscriber.phone)


def request_confirmation(sub: Subscription, *, at: datetime | None = None) -> str:
    """Ask a pending subscription's owner to confirm: ``sent``, ``outside_hours`` (the text
    is queued for the next window), ``not_sent`` (suppressed or refused by the provider;
    the request stays on file) or ``not_needed`` (not pending)."""
    if sub.state != PENDING:
        return NOT_NEEDED
    subscriber, audience = sub.subscriber, sub.audience
    at = at or clock_now()
    if sub.channel == "sms":
        opens = text_opens_at(subscriber, audience, at)
        if opens > at:
            _defer(sub, opens, at)
            return DEFERRED
    return SENT if _send(sub, subscriber, audience) else NOT_SENT


def _send(sub: Subscription, subscriber: Subscriber, audience: Audience) -> bool:
    """Send now; a provider or channel error is logged (no personal data), never raised."""
    try:
        if sub.channel == "email":
            url = confirm_url(subscriber, audience)
            return transactional.send_email_confirmation(subscriber, audience, url)
        return transactional.send_sms_text(
            subscriber.phone or "", wording.sms_confirmation(audience, subscriber.language)
        )
    except Exception as exc:  # noqa: BLE001 - the request is stored; report, never a 500
        log.warning(
            "confirmation %s for audience %s not sent: %s",
            sub.channel,
            audience.slug,
            type(exc).__name__,
        )
        return False


def _defer(sub: Subscription, due: datetime, at: datetime) -> None:
    """Queue (or re-queue) the subscription's confirmation text for ``due``."""
    values = {"state": "queued", "due_at": due, "detail": None, "updated_at": at}
    db.session.flush()
    stmt = database.insert(PendingConfirmation.__table__).values(
        subscription_id=sub.id, created_at=at, **values
    )
    db.session.execute(stmt.on_conflict_do_update(index_elements=["subscription_id"], set_=values))


def send_due(at: datetime | None = None) -> int:
    """Send the deferred confirmation texts whose window has opened; returns how many went.

    Safe in several processes at once: rows are claimed (SKIP LOCKED on PostgreSQL) and
    marked ``sending`` in their own transaction before any text goes out, so each is sent
    at most once. A subscription no longer pending (confirmed, withdrawn) is cancelled; a
    person whose window closed again meanwhile is moved to the next opening.
    """
    at = at or clock_now()
    due = (
        select(PendingConfirmation.id)
        .where(PendingConfirmation.state == "queued", PendingConfirmation.due_at <= at)
        .order_by(PendingConfirmation.due_at)
        .limit(DUE_BATCH)
    )
    if database.is_postgres():
        due = due.with_for_update(skip_locked=True)
    ids = list(
        db.session.scalars(
            update(PendingConfirmation)
            .where(PendingConfirmation.id.in_(due.scalar_subquery()))
            .values(state="sending", updated_at=at)
            .returning(PendingConfirmation.id)
            .execution_options(synchronize_session=False)
        )
    )
    db.session.commit()
    sent = 0
    for row in db.session.scalars(
        select(PendingConfirmation).where(PendingConfirmation.id.in_(ids))
    ):
        sub = db.session.get(Subscription, row.subscription_id)
        row.updated_at = at
        if sub is None or sub.state != PENDING:
            row.state, row.detail = "cancelled", "no longer waiting for a confirmation"
        elif (opens := text_opens_at(sub.subscriber, sub.audience, at)) > at:
            row.state, row.due_at = "queued", opens
        elif _send(sub, sub.subscriber, sub.audience):
            row.state, row.detail = "sent", None
            sent += 1
        else:
            row.state, row.detail = "failed", "suppressed or refused by the provider"
        db.session.commit()
    return sent


def waiting_count(audience_id: int | None = None) -> int:
    """How many confirmation texts wait for their window (for staff pages)."""
    stmt = select(db.func.count(PendingConfirmation.id)).where(
        PendingConfirmation.state == "queued"
    )
    if audience_id is not None:
        stmt = stmt.join(Subscription, Subscription.id == PendingConfirmation.subscription_id)
        stmt = stmt.where(Subscription.audience_id == audience_id)
    return db.session.scalar(stmt) or 0
