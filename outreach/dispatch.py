"""Claim due outbox rows, re-check them, render, send through a channel, record results.

One batch goes through two short transactions:

1. **claim** — ``UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED LIMIT n)
   RETURNING`` moves rows to ``sending`` with a lease; the delivery window and the
   frequency cap are re-checked and rows that may not go now become ``skipped`` (with the
   reason) or go back to ``queued`` with a later ``due_at``. Consent and suppression are
   checked there for the rows that would be deferred (a withdrawn row is skipped, not
   deferred); the rows that go on are checked by the gate below, moments later.
2. **send** — consent is checked once more under a lock (PostgreSQL: the subscription rows
   FOR SHARE; SQLite: the single writer lock), the provider is called, and results are
   written back before the lock is released. An opt-out that commits has therefore either
   waited for an in-flight send or is seen by it.

A crash between the two leaves rows in ``sending``; after their lease they become
``unknown`` (maybe sent), never ``queued``: at-most-once. A lost database connection is
survived (see ``send_batch``): rows known not to have gone out go back to ``queued``,
results already received are written once the database is back.
"""

from __future__ import annotations

import hmac
import logging
import math
import os
import secrets
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from itsdangerous.encoding import base64_encode
from itsdangerous.signer import HMACAlgorithm
from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from outreach import campaigns, consent, outbox, rendering, tokens, windows, wording
from outreach.channels.base import (
    EmailBatch,
    EmailChannel,
    EmailRecipient,
    Outcome,
    OutgoingSms,
    SendResult,
    SmsChannel,
)
from outreach.channels.registry import build_email_channel, build_sms_channel
from outreach.clock import now as clock_now
from outreach.extensions import db
from outreach.models import (
    Audience,
    Campaign,
    DeliveryEvent,
    Message,
    Step,
    Subscriber,
)
from outreach.sqlutil import in_values

log = logging.getLogger(__name__)

#: Unique per process start (a restarted container may reuse the pid): rows claimed by an
#: earlier process are never mistaken for ours.
WORKER_ID = f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"
#: The sending lane of this thread (see ``dispatch_channel``): extra lanes claim as
#: ``WORKER_ID/<lane>``, so each releases only rows it claimed itself.
_lane = threading.local()
MAX_ATTEMPTS = 5
HEALTH_MIN_VOLUME = 50
MAX_ERROR_RATE = 0.10
MAX_COMPLAINT_RATE = 0.001
COMPLAINT_RATE_FLOOR = 1000
SMS_BATCH = 500
#: A step's health (error and complaint rates) is re-checked after a batch with failures,
#: and otherwise at most this often per worker (the check counts all of the step's rows).
HEALTH_INTERVAL = 10.0
#: How long a worker waits for a lost database before giving up (rows stay ``sending``).
DATABASE_OUTAGE_SECONDS = 120.0


class _UndoAttempt:
    """Marks ``attempts = attempts - 1`` in a row change (the claim was not an attempt)."""


_UNDO_ATTEMPT = _UndoAttempt()


@dataclass
class Report:
    """What one dispatch pass did, by outcome."""

    materialised: int = 0
    recovered: int = 0
    claimed: int = 0
    sent: int = 0
    skipped: int = 0
    deferred: int = 0
    retried: int = 0
    failed: int = 0
    unknown: int = 0
    paused_steps: list[str] = field(default_factory=list)

    def add(self, other: Report) -> None:
        """Accumulate another report into this one."""
        for name in ("claimed", "sent", "skipped", "deferred", "retried", "failed", "unknown"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.paused_steps.extend(other.paused_steps)


@dataclass(frozen=True)
class Recipient:
    """The subscriber fields one send needs."""

    id: int
    public_id: str
    email: str | None
    phone: str | None
    first_name: str
    timezone: str


@dataclass(frozen=True)
class Claimed:
    """A row this worker holds in ``sending``."""

    message_id: int
    step_id: int
    campaign_id: int
    channel: str
    attempts: int
    recipient: Recipient


def channels() -> tuple[EmailChannel, SmsChannel]:
    """This app's configured channels (built once per app)."""
    cached = current_app.extensions.get("outreach.channels")
    if cached is None:
        cached = (build_email_channel(current_app.config), build_sms_channel(current_app.config))
        current_app.extensions["outreach.channels"] = cached
    return cached


def _claimer() -> str:
    """``claimed_by`` for rows this thread claims: the process, plus its lane if not the first."""
    return getattr(_lane, "claimer", WORKER_ID)


def _is_postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _write(rows: list[dict[str, Any]], only_states: tuple[str, ...] | None = None) -> None:
    """Apply per-row outbox changes (``id`` plus column values) in as few statements as can.

    Rows with the same values become one ``UPDATE ... WHERE id IN (...)`` (a whole SendGrid
    request shares its fate); the rest go in one executemany per set of columns.
    ``attempts: _UNDO_ATTEMPT`` means ``attempts - 1``. With ``only_states``, a row that is
    no longer in one of those states (a status callback already moved it) is left alone.
    """
    table = Message.__table__
    # or_ rather than IN: an expanding IN cannot be used with executemany
    guard = or_(*(table.c.state == state for state in only_states)) if only_states else None
    groups: dict[tuple, list[int]] = defaultdict(list)
    for row in rows:
        values = tuple(sorted((k, v) for k, v in row.items() if k != "id"))
        groups[values].append(row["id"])

    def column_value(name: str, value: Any) -> Any:
        return table.c.attempts - 1 if value is _UNDO_ATTEMPT else value

    singles: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for values, ids in groups.items():
        if len(ids) > 1 or any(v is _UNDO_ATTEMPT for _, v in values):
            stmt = update(table).where(in_values(table.c.id, ids))
            if guard is not None:
                stmt = stmt.where(guard)
            db.session.execute(
                stmt.values({name: column_value(name, value) for name, value in values})
            )
        else:
            names = tuple(name for name, _ in values)
            singles[names].append({"b_id": ids[0], **{f"b_{k}": v for k, v in values}})
    for names, params in singles.items():
        stmt = update(table).where(table.c.id == bindparam("b_id"))
        if guard is not None:
            stmt = stmt.where(guard)
        stmt = stmt.values({name: bindparam(f"b_{name}") for name in names})
        db.session.connection().execute(stmt, params)


# --------------------------------------------------------------------------- recovery


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
    return result.rowcount or 0


# --------------------------------------------------------------------------- claim


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


def _claim_rows(channel: str, limit: int, at: datetime) -> list[tuple[int, int, int, int, int]]:
    lease = at + timedelta(seconds=current_app.config["OUTREACH_LEASE_SECONDS"])
    steps = _runnable_steps(channel)
    if not steps:
        return []
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
    if _is_postgres():
        due = due.with_for_update(of=Message, skip_locked=True)
    stmt = (
        update(Message)
        .where(Message.id.in_(due.scalar_subquery()))
        .values(
            state="sending",
            lease_until=lease,
            claimed_by=_claimer(),
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
    return [tuple(row) for row in db.session.execute(stmt)]


def _recipients(ids: list[int]) -> dict[int, Recipient]:
    rows = db.session.execute(
        select(
            Subscriber.id,
            Subscriber.public_id,
            Subscriber.email,
            Subscriber.phone,
            Subscriber.first_name,
            Subscriber.timezone,
        ).where(in_values(Subscriber.id, ids))
    )
    return {row[0]: Recipient(*row) for row in rows}


def _window(channel: str, audience: Audience, recipient: Recipient) -> windows.Window:
    if channel == "sms":
        return windows.sms_window_for(recipient.phone)
    return windows.Window(
        campaigns.parse_hhmm(audience.email_window_start),
        campaigns.parse_hhmm(audience.email_window_end),
    )


def _sms_open_at(
    start: datetime,
    tz: str,
    phone: str | None,
    window: windows.Window,
    next_open: Callable[[datetime, str, windows.Window], datetime],
) -> datetime:
    """The first instant from ``start`` when a text may go out and its batch finish inside
    the window, in the subscriber's zone and, where a state's stricter hours apply to the
    number, in the zone of its area code too (a Miami number stays inside Florida's hours
    even if its owner picked another zone)."""
    zones = [tz]
    if phone and window != windows.SMS_DEFAULT:  # a state rule is tied to the number
        phone_zone = windows.timezone_for_phone(phone)
        if phone_zone and phone_zone != tz:
            zones.append(phone_zone)
    span = timedelta(seconds=PACED_BATCH_SECONDS)
    when = start
    for _ in range(6):  # converges in one or two rounds; bounded all the same
        moved = when
        for zone in zones:
            moved = max(moved, next_open(moved, zone, window))
            if not windows.is_open(moved + span, zone, window):
                moved = max(moved, windows.next_open(moved + span, zone, window))
        if moved == when:
            break
        when = moved
    return when


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
        known.setdefault(audience_id, {}).update(consent.check_batch(sids, channel, audience_id))
    return known


def claim(channel: str, limit: int, at: datetime | None = None) -> tuple[list[Claimed], Report]:
    """Claim up to ``limit`` due rows of a channel and re-check each; commits.

    Returns the rows that may be sent now, and a report of those skipped or deferred.
    """
    at = at or clock_now()
    report = Report()
    rows = _claim_rows(channel, limit, at)
    report.claimed = len(rows)
    if not rows:
        db.session.commit()
        return [], report
    recipients = _recipients(sorted({row[3] for row in rows}))
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
        tz = (
            recipient.timezone
            if windows.is_valid_timezone(recipient.timezone)
            else (audience.default_timezone)
        )
        if channel == "email":
            if audience.id not in email_windows:
                email_windows[audience.id] = _window(channel, audience, recipient)
            window = email_windows[audience.id]
        else:
            window = _window(channel, audience, recipient)
        later = next_open(at, tz, window)
        if channel == "sms":
            later = _sms_open_at(later, tz, recipient.phone, window, next_open)
        if cap:
            sent_times = sorted(recent.get(subscriber_id, []))
            if len(sent_times) + taken[subscriber_id] >= cap:
                free_at = (sent_times[0] if sent_times else at) + timedelta(hours=24)
                later = max(later, next_open(free_at, tz, window))
        if later > at:
            later_rows.append((row, later))
            continue
        taken[subscriber_id] += 1
        keep.append(Claimed(message_id, step_id, campaign_id, channel, attempts, recipient))
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
                "attempts": _UNDO_ATTEMPT,
                "updated_at": at,
            }
        )
        report.deferred += 1
    if changes:
        _write(changes)
    db.session.commit()
    return keep, report


# --------------------------------------------------------------------------- render


def shared_context(audience: Audience) -> dict[str, str]:
    """The audience's values every template may use (the same for every recipient)."""
    return {
        "audience": audience.name,
        "organisation": audience.organisation_name,
        "postal_address": audience.postal_address,
        "support_email": audience.support_email,
        "support_phone": audience.support_phone,
    }


class LinkSigner:
    """Signs a subscriber's unsubscribe and preference links: the exact tokens
    ``tokens.link_token`` makes, several times faster.

    ``link_token`` builds a serializer, derives its key and serializes the payload for every
    token: a quarter of the email path's time. Here the serializers and derived keys are
    made once, and the payload (shared by both links) is serialized once per subscriber.
    """

    PURPOSES = ("unsubscribe", "preferences")

    def __init__(self) -> None:
        serializers = {purpose: tokens._plain(purpose) for purpose in self.PURPOSES}
        self._payload = serializers["unsubscribe"].dump_payload
        self._signers = []
        for purpose, serializer in serializers.items():
            signer = serializer.make_signer()
            key = signer.derive_key()
            algorithm = signer.algorithm
            if isinstance(algorithm, HMACAlgorithm):  # one C call instead of hmac.new
                digest = algorithm.digest_method().name

                def sign(payload: bytes, key: bytes = key, digest: str = digest) -> bytes:
                    return hmac.digest(key, payload, digest)
            else:

                def sign(payload: bytes, key: bytes = key, algorithm: Any = algorithm) -> bytes:
                    return algorithm.get_signature(key, payload)

            self._signers.append(
                (f"{tokens.public_url('/' + purpose)}/", f"{purpose}_url", signer.sep, sign)
            )

    def links(self, public_id: str, audience_slug: str, channel: str) -> dict[str, str]:
        """``{"unsubscribe_url": ..., "preferences_url": ...}`` for one subscriber."""
        link = tokens.LinkToken(public_id, audience_slug, channel)
        payload = self._payload(tokens._pack(link))
        out = {}
        for prefix, name, sep, sign in self._signers:
            out[name] = prefix + (payload + sep + base64_encode(sign(payload))).decode("ascii")
        return out


def _link_signer() -> LinkSigner:
    """This app's LinkSigner (rebuilt if the secret key or base URL changes)."""
    key = (current_app.config["SECRET_KEY"], current_app.config["OUTREACH_BASE_URL"])
    cached = current_app.extensions.get("outreach.link_signer")
    if cached is None or cached[0] != key:
        cached = current_app.extensions["outreach.link_signer"] = (key, LinkSigner())
    return cached[1]


def personal_links(public_id: str, audience: Audience, channel: str) -> dict[str, str]:
    """Unsubscribe and preference URLs for one subscriber (signed, opaque)."""
    return _link_signer().links(public_id, audience.slug, channel)


def unsubscribe_headers(unsubscribe_url: str, mailto: str | None = None) -> dict[str, str]:
    """RFC 2369 / RFC 8058 headers for one recipient."""
    token = unsubscribe_url.rsplit("/", 1)[-1]
    mailto = mailto or current_app.config["OUTREACH_UNSUBSCRIBE_MAILTO"]
    return {
        "List-Unsubscribe": f"<{unsubscribe_url}>, <mailto:{mailto}?subject=unsubscribe-{token}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def render_step_email(step: Step, audience: Audience) -> rendering.RenderedEmail:
    """Render an email step once, with substitution tags for the personal values."""
    context = shared_context(audience)
    for name in rendering.PERSONAL_VARIABLES:
        context[name] = rendering.tag(name)
    footer = {
        "organisation": audience.organisation_name,
        "postal_address": audience.postal_address,
        "support_email": audience.support_email,
        "unsubscribe_url": rendering.tag("unsubscribe_url"),
        "preferences_url": rendering.tag("preferences_url"),
    }
    return rendering.render_email(
        subject=step.subject,
        preheader=step.preheader,
        html=step.html,
        text=step.text,
        context=context,
        footer=footer,
    )


_TAGS = tuple((name, rendering.tag(name)) for name in rendering.PERSONAL_VARIABLES)


def substitutions_for(
    recipient: Recipient, audience: Audience, channel: str, signer: LinkSigner | None = None
) -> dict[str, str]:
    """Per-recipient values for the substitution tags."""
    values = (signer or _link_signer()).links(recipient.public_id, audience.slug, channel)
    values["first_name"] = recipient.first_name or "there"
    return {tag: values[name] for name, tag in _TAGS}


def is_first_sms_step(step: Step) -> bool:
    """Is this the campaign's first text message?"""
    sms_steps = [s for s in step.campaign.steps if s.channel == "sms"]
    return bool(sms_steps) and sms_steps[0].id == step.id


def with_brand_and_stop(body: str, brand: str | None) -> str:
    """A campaign's first text names the program and says how to stop (CTIA)."""
    if brand and not body.lower().startswith(brand.lower()):
        body = f"{brand}: {body}"
    if "stop" not in body.lower():
        body = f"{body} Reply STOP to opt out."
    return body


class SmsComposer:
    """One SMS step's text for many recipients: the template is rendered once, with
    substitution tags for the personal values, which are filled in per recipient.

    The brand and STOP wording are decided on the template's text, before any name or link
    goes in (a first name such as "Christopher" contains "stop" and must not drop it).
    """

    def __init__(self, step: Step, audience: Audience, signer: LinkSigner | None = None) -> None:
        context = shared_context(audience)
        for name in rendering.PERSONAL_VARIABLES:
            context[name] = rendering.tag(name)
        body = rendering.render_sms(step.body, context)
        if is_first_sms_step(step):
            body = with_brand_and_stop(body, wording.program(audience))
        self._body = body
        self._audience = audience
        self._signer = signer or _link_signer()
        self._first_name = rendering.tag("first_name") in body
        self._links = [tag for name, tag in _TAGS if name != "first_name" and tag in body]

    def compose(self, recipient: Recipient) -> str:
        """The text for one recipient."""
        body = self._body
        if self._first_name:
            body = body.replace(rendering.tag("first_name"), recipient.first_name or "there")
        if self._links:
            values = substitutions_for(recipient, self._audience, "sms", self._signer)
            for tag in self._links:
                body = body.replace(tag, values[tag])
        return body


def compose_sms(step: Step, audience: Audience, recipient: Recipient) -> str:
    """Render an SMS step for one recipient, adding the brand and STOP wording the rules need."""
    return SmsComposer(step, audience).compose(recipient)


# --------------------------------------------------------------------------- send + record


def _gate(batch: list[Claimed], channel: str, audience_id: int) -> dict[int, str | None]:
    """Final consent check, holding the lock described in the module docstring."""
    if not _is_postgres():
        # Take SQLite's single writer lock now, so an opt-out waits for this send (writing
        # one row takes the lock for the whole database).
        db.session.execute(
            update(Message)
            .where(Message.id == batch[0].message_id)
            .values(claimed_by=_claimer())
            .execution_options(synchronize_session=False)
        )
    return consent.check_batch([c.recipient.id for c in batch], channel, audience_id, lock=True)


def _backoff(attempts: int, retry_after: float | None) -> timedelta:
    seconds = max(retry_after or 0.0, min(3600.0, 30.0 * (2 ** max(attempts - 1, 0))))
    return timedelta(seconds=seconds)


def _record(
    results: list[SendResult],
    batch: dict[int, Claimed],
    at: datetime,
    report: Report,
    audience: Audience,
) -> None:
    changes: list[dict] = []
    for result in results:
        claimed = batch.get(result.message_id)
        if claimed is None:
            continue
        row = {
            "id": result.message_id,
            "updated_at": at,
            "lease_until": None,
            "error_code": result.error_code,
            "error_detail": result.error_detail,
        }
        if result.outcome == Outcome.SENT:
            row.update(state="sent", provider_id=result.provider_id, sent_at=at)
            report.sent += 1
        elif result.outcome == Outcome.RETRY and claimed.attempts < MAX_ATTEMPTS:
            row.update(state="queued", due_at=at + _backoff(claimed.attempts, result.retry_after))
            report.retried += 1
        elif result.outcome == Outcome.UNKNOWN:
            row.update(state="unknown", provider_id=result.provider_id)
            report.unknown += 1
        else:
            row.update(state="failed")
            if result.outcome == Outcome.RETRY:
                row["error_detail"] = f"gave up after {claimed.attempts} attempts: " + (
                    result.error_detail or ""
                )
            report.failed += 1
            _apply_permanent(result, claimed, audience)
        changes.append(row)
    if changes:
        # A status callback or event may have moved a row on while the batch was in flight
        # (PostgreSQL lets webhooks write during a send): never move it back.
        _write(changes, only_states=("sending", "unknown"))
        _backfill_provider_ids(changes, at)


def _backfill_provider_ids(changes: list[dict], at: datetime) -> None:
    """Keep the provider id and send time on rows a callback already moved forward.

    One cheap look-up finds them (usually none); only those get an UPDATE.
    """
    table = Message.__table__
    wanted = {row["id"]: row["provider_id"] for row in changes if row.get("provider_id")}
    if not wanted:
        return
    missing = db.session.scalars(
        select(table.c.id).where(in_values(table.c.id, wanted), table.c.provider_id.is_(None))
    ).all()
    if missing:
        db.session.connection().execute(
            update(table)
            .where(table.c.id == bindparam("b_id"), table.c.provider_id.is_(None))
            .values(
                provider_id=bindparam("b_pid"),
                sent_at=func.coalesce(
                    table.c.sent_at, bindparam("b_at", type_=table.c.sent_at.type)
                ),
            ),
            [{"b_id": mid, "b_pid": wanted[mid], "b_at": at} for mid in missing],
        )


def _apply_permanent(result: SendResult, claimed: Claimed, audience: Audience) -> None:
    if result.outcome == Outcome.OPTED_OUT:
        subscriber = db.session.get(Subscriber, claimed.recipient.id)
        consent.opt_out_everywhere(
            subscriber,
            "sms",
            consent.Evidence(
                source="provider_event",
                provider_ref=result.provider_id or f"twilio-{result.error_code}",
                note="Twilio error 21610",
            ),
            suppress_reason="carrier_opt_out",
        )
    elif result.outcome == Outcome.INVALID_NUMBER:
        subscriber = db.session.get(Subscriber, claimed.recipient.id)
        subscriber.phone_invalid = True


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
        if not _database_gone(exc):
            raise
        _wait_for_database()
        _release([c.message_id for c in batch])
        return
    if prepared is None:
        return
    deliver, allowed, audience = prepared
    results = deliver()
    _record_durably(results, allowed, at, report, audience)


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
        _write(
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
    email_channel, sms_channel = channels()
    try:
        deliver = _payload(step, audience, allowed, email_channel, sms_channel)
    except rendering.TemplateError as exc:
        db.session.rollback()
        _fail_render(batch, step, str(exc), at, report)
        return None
    return deliver, allowed, audience


def _record_durably(
    results: list[SendResult],
    allowed: list[Claimed],
    at: datetime,
    report: Report,
    audience: Audience,
) -> None:
    """Write a batch's results and commit; across a database outage, write them again.

    Until they are written, the batch's ids are remembered as handed to the provider, so
    no later clean-up in this process can put them back in the queue (maybe sent: they
    become ``unknown`` after their lease instead).
    """
    by_id = {c.message_id: c for c in allowed}
    _HANDED_OFF.update(by_id)
    deadline = time.monotonic() + DATABASE_OUTAGE_SECONDS
    while True:
        partial = Report()
        try:
            _record(results, by_id, at, partial, audience)
            db.session.commit()
        except DBAPIError as exc:
            if not _database_gone(exc) or time.monotonic() > deadline:
                raise
            log.warning("database unavailable while recording %d results; retrying", len(results))
            _wait_for_database(deadline)
            continue
        report.add(partial)
        _HANDED_OFF.difference_update(by_id)
        return


def _payload(
    step: Step,
    audience: Audience,
    allowed: list[Claimed],
    email_channel: EmailChannel,
    sms_channel: SmsChannel,
) -> Callable[[], list[SendResult]]:
    """Build the provider request(s) for a batch; returns the call that sends them."""
    if not allowed:
        return list
    if step.channel == "email":
        rendered = render_step_email(step, audience)
        mailto = current_app.config["OUTREACH_UNSUBSCRIBE_MAILTO"]
        unsubscribe_tag = rendering.tag("unsubscribe_url")
        signer = _link_signer()
        recipients = []
        for c in allowed:
            subs = substitutions_for(c.recipient, audience, "email", signer)
            recipients.append(
                EmailRecipient(
                    message_id=c.message_id,
                    to=c.recipient.email or "",
                    substitutions=subs,
                    headers=unsubscribe_headers(subs[unsubscribe_tag], mailto),
                )
            )
        email = EmailBatch(
            from_email=audience.from_email or current_app.config["OUTREACH_MAIL_FROM"],
            from_name=audience.organisation_name or audience.name,
            subject=rendered.subject,
            html=rendered.html,
            text=rendered.text,
            recipients=tuple(recipients),
            categories=("outreach", f"campaign-{step.campaign_id}", f"step-{step.id}"),
            reply_to=audience.support_email or None,
        )
        return lambda: email_channel.send_batch(email)
    callback = tokens.public_url("/webhooks/twilio/status")
    composer = SmsComposer(step, audience)
    messages = [
        OutgoingSms(
            message_id=c.message_id,
            to=c.recipient.phone or "",
            body=composer.compose(c.recipient),
            status_callback=f"{callback}?mid={c.message_id}",
        )
        for c in allowed
    ]
    return lambda: sms_channel.send_many(messages)


# --------------------------------------------------------------------------- outages


def _database_gone(exc: DBAPIError) -> bool:
    """True when the error means the database connection was lost or cannot be made.

    SQLite's "database is locked" is not one of these (the busy timeout handles it).
    """
    if exc.connection_invalidated:
        return True
    return db.engine.dialect.name == "postgresql" and isinstance(
        exc, OperationalError | InterfaceError
    )


def _wait_for_database(deadline: float | None = None) -> None:
    """Roll back, then wait until the database answers again (or raise at the deadline)."""
    deadline = deadline or time.monotonic() + DATABASE_OUTAGE_SECONDS
    delay = 0.1
    while True:
        db.session.rollback()
        try:
            db.session.execute(select(1))
            db.session.commit()
            return
        except DBAPIError as exc:
            if not _database_gone(exc) or time.monotonic() + delay > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 2.0)


#: Ids of rows this process handed to a provider whose results are not recorded yet.
_HANDED_OFF: set[int] = set()


def _release(message_ids: list[int] | None = None) -> int:
    """Put rows this process claimed but did not send back to ``queued``; commits.

    With no ids: every row this process holds in ``sending`` (used between batches, when
    nothing is in this lane's flight). WORKER_ID is unique per process start, so a
    predecessor's rows (maybe sent) are never touched, nor another lane's.
    """
    conditions = [Message.state == "sending", Message.claimed_by == _claimer()]
    if message_ids is not None:
        conditions.append(in_values(Message.id, message_ids))
    if _HANDED_OFF:  # sent (or maybe sent) but not yet recorded: never re-queue
        conditions.append(Message.id.not_in(sorted(_HANDED_OFF)))
    result = db.session.execute(
        update(Message)
        .where(*conditions)
        .values(state="queued", lease_until=None, attempts=Message.attempts - 1)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount or 0


def _recover_between_batches(exc: DBAPIError) -> None:
    """After losing the database outside a send: wait, then re-queue our unsent rows."""
    if not _database_gone(exc):
        raise exc
    log.warning("database unavailable (%s); waiting for it", type(exc.orig).__name__)
    _wait_for_database()
    released = _release()
    log.warning("database back; %d claimed rows put back in the queue", released)


def _fail_render(
    batch: list[Claimed], step: Step, detail: str, at: datetime, report: Report
) -> None:
    _write(
        [
            {
                "id": c.message_id,
                "state": "queued",
                "lease_until": None,
                "updated_at": at,
                "attempts": _UNDO_ATTEMPT,
                "error_detail": f"template error: {detail}",
            }
            for c in batch
        ]
    )
    campaigns.pause_step(db.session.get(Step, step.id), f"template error: {detail}")
    report.paused_steps.append(f"step {step.id}: template error")
    db.session.commit()


# --------------------------------------------------------------------------- health


def check_step_health(step_ids: set[int]) -> list[str]:
    """Pause steps whose error or complaint rate passes its threshold; returns reasons."""
    reasons = []
    checked = current_app.extensions.setdefault("outreach.health_checked", {})
    for step_id in sorted(step_ids):  # one lock at a time, in one order: lanes never deadlock
        checked[step_id] = time.monotonic()
        campaign_id = db.session.scalar(select(Step.campaign_id).where(Step.id == step_id))
        counts = dict(
            db.session.execute(
                select(Message.state, func.count(Message.id))
                .where(Message.campaign_id == campaign_id, Message.step_id == step_id)
                .group_by(Message.state)
            ).all()
        )
        done = sum(counts.get(s, 0) for s in ("sent", "delivered", "failed", "bounced", "unknown"))
        failed = counts.get("failed", 0) + counts.get("bounced", 0)
        complaints = db.session.scalar(
            select(func.count(DeliveryEvent.id))
            .join(Message, Message.id == DeliveryEvent.message_id)
            .where(Message.step_id == step_id, DeliveryEvent.event_type == "spamreport")
        )
        # Locked and re-read (FOR NO KEY UPDATE: materialising keeps its KEY SHARE): two lanes
        # or workers that both see the rate pause the step once.
        step = db.session.get(
            Step, step_id, with_for_update={"key_share": True}, populate_existing=True
        )
        if step is None or step.paused_reason:
            db.session.commit()
            continue
        reason = None
        if done >= HEALTH_MIN_VOLUME and failed / done > MAX_ERROR_RATE:
            reason = f"error rate {failed / done:.1%} passed {MAX_ERROR_RATE:.0%}"
        elif complaints and complaints / max(done, COMPLAINT_RATE_FLOOR) > MAX_COMPLAINT_RATE:
            rate = complaints / max(done, 1)
            reason = f"complaint rate {rate:.2%} passed {MAX_COMPLAINT_RATE:.1%}"
        if reason:
            campaigns.pause_step(step, reason)
            reasons.append(f"step {step_id}: {reason}")
        db.session.commit()
    return reasons


# --------------------------------------------------------------------------- the loop


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


def _health_due(step_ids: set[int], had_failures: bool) -> set[int]:
    """Steps to health-check now: all after failures, else those not checked lately."""
    if had_failures:
        return step_ids
    checked = current_app.extensions.get("outreach.health_checked", {})
    horizon = time.monotonic() - HEALTH_INTERVAL
    return {step_id for step_id in step_ids if checked.get(step_id, float("-inf")) < horizon}


#: Longest a paced SMS batch may take: its consent lock is held while it sends, and an
#: opt-out (STOP webhook, unsubscribe page) waits for it; Twilio gives a webhook 15 s.
PACED_BATCH_SECONDS = 5.0


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
    if lanes > 1 and max_batches is None and _is_postgres():
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
            _lane.claimer = f"{WORKER_ID}/{index}"
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
    max_batches, or ``stop()`` says another lane failed)."""
    limit = limit or current_app.config["OUTREACH_BATCH_SIZE"]
    if channel == "sms":
        limit = min(limit, sms_batch_limit(current_app.config))
    batches = 0
    while (max_batches is None or batches < max_batches) and not (stop and stop()):
        try:
            claimed, claim_report = claim(channel, limit, at)
        except DBAPIError as exc:
            _recover_between_batches(exc)
            continue
        report.add(claim_report)
        if progress:
            progress(claim_report.skipped + claim_report.deferred)
        if not claim_report.claimed:
            return
        by_step: dict[int, list[Claimed]] = defaultdict(list)
        for c in claimed:
            by_step[c.step_id].append(c)
        failures = report.failed
        for step_batch in by_step.values():
            send_batch(step_batch, report, at)
            if progress:
                progress(len(step_batch))
        try:
            due = _health_due(set(by_step), failures < report.failed)
            report.paused_steps.extend(check_step_health(due))
        except DBAPIError as exc:
            _recover_between_batches(exc)
        batches += 1


def dispatch_once(
    at: datetime | None = None, progress: Callable[[int], None] | None = None
) -> Report:
    """Materialise everything due, recover stale leases, and send everything due now."""
    start = at or clock_now()
    report = Report()
    report.materialised = outbox.materialise_due(start)
    report.recovered = recover_expired_leases(start)
    for channel in ("email", "sms"):
        dispatch_channel(channel, at, report, progress)
    campaigns.finish_done(at or clock_now())
    db.session.commit()
    return report


# --------------------------------------------------------------------------- transactional


def send_email_confirmation(subscriber: Subscriber, audience: Audience, confirm_url: str) -> bool:
    """Send the double opt-in email (transactional: no outbox row). True if accepted."""
    if consent.is_suppressed("email", subscriber.email):
        return False
    org = audience.organisation_name or audience.name
    html = (
        "<h1>Please confirm your subscription</h1>"
        f"<p>Hi {{{{ first_name }}}}, you asked to receive {audience.name} emails from "
        f"{org}. Press the button below to confirm.</p>"
        f'<p><a class="button" href="{confirm_url}">Confirm my subscription</a></p>'
        "<p>If you did not ask for this, ignore this email and nothing will happen.</p>"
    )
    links = personal_links(subscriber.public_id, audience, "email")
    rendered = rendering.render_email(
        subject=f"Confirm your subscription to {audience.name}",
        preheader="One click to confirm.",
        html=html,
        text=None,
        context={**shared_context(audience), "first_name": subscriber.first_name or "there"},
        footer={
            "organisation": org,
            "postal_address": audience.postal_address or "-",
            "support_email": audience.support_email,
            **links,
        },
    )
    email_channel, _ = channels()
    results = email_channel.send_batch(
        EmailBatch(
            from_email=audience.from_email or current_app.config["OUTREACH_MAIL_FROM"],
            from_name=org,
            subject=rendered.subject,
            html=rendered.html,
            text=rendered.text,
            recipients=(EmailRecipient(message_id=0, to=subscriber.email or ""),),
            categories=("outreach", "confirmation"),
        )
    )
    return all(r.outcome == Outcome.SENT for r in results)


def send_sms_text(phone: str, body: str) -> bool:
    """Send one transactional text (confirmation request). True if accepted."""
    if consent.is_suppressed("sms", phone):
        return False
    _, sms_channel = channels()
    results = sms_channel.send_many([OutgoingSms(message_id=0, to=phone, body=body)])
    return all(r.outcome == Outcome.SENT for r in results)


def dev_mailbox(limit: int = 200) -> list[dict]:
    """What the console channels recorded, newest first (for the staff dev mailbox)."""
    from outreach.channels.console import read_mailbox

    return read_mailbox(current_app.config["OUTREACH_DEV_MAILBOX"], limit=limit)
