"""Claim due rows (FOR UPDATE SKIP LOCKED + lease), re-check windows, caps and consent,
and turn rows left past their lease into ``unknown``."""

from __future__ import annotations

import secrets
from collections import defaultdict
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import String, any_, cast, func, literal, select, update

from outreach import database
from outreach.campaigns import windows
from outreach.clock import now as clock_now
from outreach.consent import decisions
from outreach.database import in_values
from outreach.extensions import db
from outreach.models import Audience, Campaign, Message, Step, Subscriber
from outreach.operations import metrics
from outreach.sending.batch import UNDO_ATTEMPT, Claimed, Recipient, Report, write
from outreach.sending.identity import claimer

#: Longest a paced SMS batch may take: its consent lock is held while it sends, and an
#: opt-out (STOP webhook, unsubscribe page) waits for it; Twilio gives a webhook 15 s.
PACED_BATCH_SECONDS = 5.0
#: A text is only started if its whole batch can finish inside the window.
BATCH_SPAN = timedelta(seconds=PACED_BATCH_SECONDS)


def recover_expired_leases(at: datetime | None = None) -> int:
    """Rows left in ``sending`` past their lease were maybe sent: mark them ``unknown``."""
    at = at or clock_now()
    result = db.session.execute(
        update(Message)
        .where(Message.state == "sending", Message.lease_until < at)
        .values(
            state="unknown",
            error_detail="worker stopped during the send; awaiting provider reconciliation",
            updated_at=at,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    expired = result.rowcount or 0
    metrics.leases_expired(expired)
    return expired


def _runnable_steps(channel: str) -> list[int]:
    """Ids of the channel's steps whose campaign is running and that are not paused."""
    return list(
        db.session.scalars(
            select(Step.id)
            .join(Campaign, Campaign.id == Step.campaign_id)
            .where(
                Campaign.status == "running",
                Step.paused_reason.is_(None),
                Step.channel == channel,
            )
        )
    )


_RECIPIENT_COLUMNS = (
    Subscriber.id,
    Subscriber.public_id,
    Subscriber.email,
    Subscriber.phone,
    Subscriber.first_name,
    Subscriber.timezone,
    Subscriber.language,
)


def _claim_rows(
    channel: str, limit: int, at: datetime, token: str
) -> tuple[list[tuple[int, int, int, int, int]], dict[int, Recipient] | None]:
    """Claim up to ``limit`` due rows: ``(id, step, campaign, subscriber, attempts)`` each,
    and on PostgreSQL their recipients too (one statement; else None: ``recipients_of``)."""
    lease = at + timedelta(seconds=current_app.config["OUTREACH_LEASE_SECONDS"])
    steps = _runnable_steps(channel)
    if not steps:
        return [], None
    # The runnable steps are resolved first (a handful of ids) and rows are taken in due_at
    # order only: then the (state, due_at) index hands over the first ``limit`` rows. Joining
    # campaigns and steps here, or ordering by (due_at, id), made PostgreSQL sort every
    # queued row of a step on each claim (1.3 s per claim at a million rows).
    due = (
        select(Message.id)
        .where(
            Message.state == "queued",
            Message.due_at <= at,
            Message.channel == channel,
            in_values(Message.step_id, steps),
        )
        .order_by(Message.due_at)
        .limit(limit)
    )
    postgres = database.is_postgres()
    if postgres:
        # id = ANY(ARRAY(...)): primary-key look-ups of the rows taken; with IN (...) the
        # planner hashed them against a scan of the whole table (10 ms at 30,000 rows).
        due = due.with_for_update(of=Message, skip_locked=True)
        chosen = Message.id == any_(func.array(due.scalar_subquery()))
    else:
        chosen = Message.id.in_(due.scalar_subquery())
    stmt = (
        update(Message)
        .where(chosen)
        .values(
            state="sending",
            lease_until=lease,
            claimed_by=claimer(),
            claim_id=literal(f"{token}.", String) + cast(Message.step_id, String),
            claimed_at=at,
            attempts=Message.attempts + 1,
            updated_at=at,
        )
        .returning(
            Message.id,
            Message.step_id,
            Message.campaign_id,
            Message.subscriber_id,
            Message.attempts,
        )
        .execution_options(synchronize_session=False)
    )
    if not postgres:
        return [tuple(row) for row in db.session.execute(stmt)], None
    # The recipients come back with the claim (a data-modifying CTE): one round trip less.
    claimed = stmt.cte("claimed")
    query = (
        select(*claimed.c, *_RECIPIENT_COLUMNS)
        .join_from(claimed, Subscriber, Subscriber.id == claimed.c.subscriber_id, isouter=True)
        .order_by(claimed.c.id)
    )
    rows, recipients = [], {}
    for row in db.session.execute(query):
        rows.append(row[:5])
        if row[5] is not None:
            recipients[row[5]] = Recipient(*row[5:])
    return rows, recipients


def recipients_of(ids: list[int]) -> dict[int, Recipient]:
    """The send fields of these subscribers (erased ones are missing)."""
    rows = db.session.execute(select(*_RECIPIENT_COLUMNS).where(in_values(Subscriber.id, ids)))
    return {row[0]: Recipient(*row) for row in rows}


def _window(channel: str, audience: Audience, recipient: Recipient) -> windows.Window:
    if channel == "sms":
        return windows.sms_window_for(recipient.phone)
    return windows.Window(
        windows.parse_hhmm(audience.email_window_start),
        windows.parse_hhmm(audience.email_window_end),
    )


def _recent_sends(channel: str, subscriber_ids: list[int], since: datetime) -> dict[int, list]:
    rows = db.session.execute(
        select(Message.subscriber_id, Message.sent_at).where(
            in_values(Message.subscriber_id, subscriber_ids),
            Message.channel == channel,
            Message.sent_at.is_not(None),
            Message.sent_at > since,
        )
    )
    sends: dict[int, list] = defaultdict(list)
    for sid, sent_at in rows:
        sends[sid].append(sent_at)
    return sends


def _verdicts(
    rows: list[tuple[int, int, int, int, int]],
    audience_of: dict[int, int],
    channel: str,
    known: dict[int, dict[int, str | None]],
) -> dict[int, dict[int, str | None]]:
    """Consent verdicts (audience -> subscriber -> reason) for these claimed rows, added to
    ``known``; one ``consent.check_batch`` per audience."""
    by_audience: dict[int, set[int]] = defaultdict(set)
    for row in rows:
        by_audience[audience_of[row[2]]].add(row[3])
    for audience_id, sids in by_audience.items():
        known.setdefault(audience_id, {}).update(decisions.check_batch(sids, channel, audience_id))
    return known


def claim(channel: str, limit: int, at: datetime | None = None) -> tuple[list[Claimed], Report]:
    """Claim up to ``limit`` due rows of a channel and re-check each; commits.

    Returns the rows that may be sent now, and a report of those skipped or deferred.
    """
    at = at or clock_now()
    report = Report()
    token = secrets.token_hex(5)
    rows, recipients = _claim_rows(channel, limit, at, token)
    report.claimed = len(rows)
    if not rows:
        db.session.commit()
        return [], report
    if recipients is None:
        recipients = recipients_of(sorted({row[3] for row in rows}))
    campaign_ids = {row[2] for row in rows}
    audience_of = dict(
        db.session.execute(
            select(Campaign.id, Campaign.audience_id).where(Campaign.id.in_(campaign_ids))
        ).all()
    )
    audiences = {
        a.id: a
        for a in db.session.scalars(
            select(Audience).where(Audience.id.in_(set(audience_of.values())))
        )
    }
    # Consent is checked here only where the answer changes what the claim does: rows that
    # would be deferred (a withdrawn row is skipped, not deferred) and people with several
    # rows in this claim (a refused row must not use up the frequency cap). Every row that
    # goes on to be sent is checked by ``_gate`` under the lock, moments later: checking it
    # here too would double the cost of the claim for no change in outcome.
    per_person = defaultdict(int)
    for row in rows:
        per_person[row[3]] += 1
    verdicts = _verdicts([row for row in rows if per_person[row[3]] > 1], audience_of, channel, {})

    cap_key = "OUTREACH_SMS_DAILY_CAP" if channel == "sms" else "OUTREACH_EMAIL_DAILY_CAP"
    cap = int(current_app.config.get(cap_key) or 0)
    recent = _recent_sends(channel, list(recipients), at - timedelta(hours=24)) if cap else {}
    taken: dict[int, int] = defaultdict(int)
    opens: dict[tuple[str, windows.Window], datetime] = {}  # (zone, window) -> next open
    email_windows: dict[int, windows.Window] = {}
    zones: dict[tuple[str, str], str] = {}

    def next_open(when: datetime, tz: str, window: windows.Window) -> datetime:
        if when is not at:
            return windows.next_open(when, tz, window)
        key = (tz, window)
        if key not in opens:
            opens[key] = windows.next_open(at, tz, window)
        return opens[key]

    def skip(message_id: int, reason: str) -> None:
        changes.append(
            {
                "id": message_id,
                "state": "skipped",
                "skip_reason": reason,
                "lease_until": None,
                "updated_at": at,
            }
        )
        report.skipped += 1

    keep: list[Claimed] = []
    changes: list[dict] = []
    later_rows: list[tuple[tuple[int, int, int, int, int], datetime]] = []
    for row in rows:
        message_id, step_id, campaign_id, subscriber_id, attempts = row
        audience = audiences[audience_of[campaign_id]]
        recipient = recipients.get(subscriber_id)
        if recipient is None:
            skip(message_id, "erased")
            continue
        if per_person[subscriber_id] > 1:
            reason = verdicts[audience.id].get(subscriber_id, "no_consent")
            if reason is not None:
                skip(message_id, reason)
                continue
        zone_key = (recipient.timezone, audience.default_timezone)
        tz = zones.get(zone_key)
        if tz is None:  # a zone's validity is looked up once per claim, not per row
            tz = zones[zone_key] = windows.zone_or(*zone_key)
        if channel == "email":
            if audience.id not in email_windows:
                email_windows[audience.id] = _window(channel, audience, recipient)
            window = email_windows[audience.id]
        else:
            window = _window(channel, audience, recipient)
        later = next_open(at, tz, window)
        if channel == "sms":
            later = windows.sms_open_at(
                later, tz, recipient.phone, window, span=BATCH_SPAN, opening=next_open
            )
        if cap:
            sent_times = sorted(recent.get(subscriber_id, []))
            if len(sent_times) + taken[subscriber_id] >= cap:
                free_at = (sent_times[0] if sent_times else at) + timedelta(hours=24)
                later = max(later, next_open(free_at, tz, window))
        if later > at:
            later_rows.append((row, later))
            continue
        taken[subscriber_id] += 1
        keep.append(
            Claimed(
                message_id,
                step_id,
                campaign_id,
                channel,
                attempts,
                recipient,
                request_id=f"{token}.{step_id}",
                claimed_at=at,
            )
        )
    verdicts = _verdicts([row for row, _ in later_rows], audience_of, channel, verdicts)
    for (message_id, _, campaign_id, subscriber_id, _), later in later_rows:
        reason = verdicts[audience_of[campaign_id]].get(subscriber_id, "no_consent")
        if reason is not None:
            skip(message_id, reason)
            continue
        changes.append(
            {
                "id": message_id,
                "state": "queued",
                "due_at": later,
                "lease_until": None,
                "attempts": UNDO_ATTEMPT,
                "updated_at": at,
            }
        )
        report.deferred += 1
    if changes:
        write(changes)
    db.session.commit()
    return keep, report
