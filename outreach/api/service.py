"""What the API does, without Flask's request: subscriber creation with consent evidence,
confirmation messages, and the JSON shapes of audiences, subscribers, campaigns, messages."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from outreach.audiences.contacts import InvalidContact, clean_name, normalise_email, normalise_phone
from outreach.campaigns import naming, windows
from outreach.clock import now as clock_now
from outreach.consent import confirmations, suppression
from outreach.consent import ledger as consent_ledger
from outreach.consent import signup as signups
from outreach.extensions import db
from outreach.models import Audience, Campaign, Message, Subscriber, Subscription

log = logging.getLogger(__name__)

WITHDRAWN = ("unsubscribed", "bounced", "complained")
#: Clock skew tolerated for a consent time "in the future".
FUTURE_SKEW = timedelta(minutes=5)


class InputError(ValueError):
    """Invalid fields: ``errors`` maps field -> message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class ConflictError(ValueError):
    """The request clashes with what is on file."""


@dataclass(frozen=True)
class ConsentInput:
    """Consent evidence supplied by the caller."""

    wording: str
    given_at: datetime
    form_url: str | None = None
    ip_address: str | None = None
    user_agent: str | None = None
    reference: str | None = None


@dataclass(frozen=True)
class SubscriberInput:
    """A validated-by-schema subscriber creation request."""

    audience: str
    email: str | None = None
    phone: str | None = None
    first_name: str = ""
    timezone: str | None = None
    channels: tuple[str, ...] | None = None
    consent: ConsentInput | None = None
    language: str = "en"


@dataclass
class Created:
    """The outcome of ``create_subscriber``."""

    subscriber: Subscriber
    audience: Audience
    created: bool
    subscriptions: dict[str, Subscription]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def parse_given_at(raw: str) -> datetime:
    """An RFC 3339 time (naive = UTC); raises InputError when invalid or in the future."""
    try:
        value = datetime.fromisoformat(raw.strip().upper().replace("Z", "+00:00"))
    except ValueError:
        problem = "not a date-time like 2027-05-30T14:00:00Z"
        raise InputError({"consent.given_at": problem}) from None
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if value > clock_now() + FUTURE_SKEW:
        raise InputError({"consent.given_at": "is in the future"})
    return value


def _contacts(data: SubscriberInput, errors: dict[str, str]) -> tuple[str | None, str | None]:
    email = phone = None
    if data.email is not None:
        try:
            email = normalise_email(data.email)
        except InvalidContact as exc:
            errors["email"] = str(exc)
    if data.phone is not None:
        try:
            phone = normalise_phone(data.phone)
        except InvalidContact as exc:
            errors["phone"] = str(exc)
    return email, phone


def _check(data: SubscriberInput) -> tuple[Audience, str | None, str | None, tuple[str, ...], str]:
    errors: dict[str, str] = {}
    audience = db.session.scalar(select(Audience).filter_by(slug=data.audience))
    if audience is None:
        errors["audience"] = "no audience with this slug"
    email, phone = _contacts(data, errors)
    if audience is None or errors:
        raise InputError(errors)
    given = {"email": email, "sms": phone}
    offered = audience.channel_list
    if data.channels is None:
        channels = tuple(c for c in offered if given[c])
        if not channels:
            errors["channels"] = f"this audience offers {', '.join(offered)}: give a contact for it"
    else:
        channels = tuple(c for c in ("email", "sms") if c in data.channels)
        for channel in channels:
            if channel not in offered:
                errors["channels"] = f"this audience does not offer {channel}"
            elif not given[channel]:
                needed = "an email" if channel == "email" else "a phone"
                errors["channels"] = f"{channel} needs {needed}"
    timezone = data.timezone
    if timezone is not None and not windows.is_valid_timezone(timezone):
        errors["timezone"] = "not an IANA time zone like America/Chicago"
    if errors:
        raise InputError(errors)
    timezone = windows.choose_timezone(timezone, phone, audience.default_timezone)
    return audience, email, phone, channels, timezone


def _on_file(email: str | None, phone: str | None) -> Subscriber | None:
    by_email = signups.find_subscriber(email=email) if email else None
    by_phone = signups.find_subscriber(phone=phone) if phone else None
    if by_email is not None and by_phone is not None and by_email.id != by_phone.id:
        raise ConflictError("The email and the phone belong to two different subscribers.")
    person = by_email or by_phone
    if person is not None:
        if email and person.email and person.email != email:
            raise ConflictError("This phone belongs to a subscriber with a different email.")
        if phone and person.phone and person.phone != phone:
            raise ConflictError("This email belongs to a subscriber with a different phone.")
    return person


def create_subscriber(data: SubscriberInput, *, actor_id: int | None, actor_note: str) -> Created:
    """Add (or update) a subscriber and request consent on each channel; flushes.

    Single opt-in (active at once) needs both an audience that allows it and consent
    evidence; a channel whose subscription was withdrawn, or whose address is suppressed,
    always stays pending (only the person's own confirmation brings it back).
    """
    audience, email, phone, channels, timezone = _check(data)
    person = _on_file(email, phone)
    created = person is None
    allows_single = signups.single_opt_in_allowed(audience)
    proof = data.consent
    existing = {}
    if person is not None:
        existing = {
            s.channel: s.state
            for s in db.session.scalars(
                select(Subscription).filter_by(subscriber_id=person.id, audience_id=audience.id)
            )
        }
    address = {"email": email, "sms": phone}
    confirmed_now = tuple(
        c
        for c in channels
        if allows_single
        and proof is not None
        and existing.get(c) not in WITHDRAWN
        and not suppression.is_suppressed(c, address[c])
    )
    note = actor_note + (f"; consent given {proof.given_at.isoformat()}" if proof else "")
    evidence = {
        c: consent_ledger.Evidence(
            source="api",
            wording=proof.wording
            if proof
            else "Added through the API without consent evidence; awaiting confirmation",
            form_url=proof.form_url if proof else None,
            ip_address=proof.ip_address if proof else None,
            user_agent=proof.user_agent if proof else None,
            provider_ref=proof.reference if proof else None,
            actor_id=actor_id,
            note=note[:1000],
        )
        for c in channels
    }
    subscriber = person
    for group, confirmed in (
        (confirmed_now, True),
        (tuple(c for c in channels if c not in confirmed_now), False),
    ):
        if not group:
            continue
        signup = signups.Signup(
            audience=audience,
            email=email,
            phone=phone,
            first_name=clean_name(data.first_name),
            timezone=timezone,
            channels=group,
            language=data.language,
        )
        subscriber, _ = signups.sign_up(signup, evidence, confirmed=confirmed)
    assert subscriber is not None  # channels is never empty here
    subs = {
        s.channel: s
        for s in db.session.scalars(
            select(Subscription).filter_by(subscriber_id=subscriber.id, audience_id=audience.id)
        )
        if s.channel in channels
    }
    return Created(subscriber, audience, created, subs)


def send_confirmations(result: Created) -> dict[str, str]:
    """Ask for confirmation on each channel; returns the outcome by channel (``sent``,
    ``outside_hours`` — queued for the next window —, ``not_sent``, ``not_needed``).

    Call after committing the sign-up: a failed send never loses the stored request.
    Commits the deferred texts it queues.
    """
    outcomes = {
        channel: confirmations.request_confirmation(sub)
        for channel, sub in result.subscriptions.items()
    }
    db.session.commit()
    return outcomes


def audience_dict(audience: Audience) -> dict[str, Any]:
    """An audience as the API shows it."""
    return {
        "slug": audience.slug,
        "name": audience.name,
        "channels": audience.channel_list,
        "double_opt_in": audience.double_opt_in,
        "api_single_opt_in": signups.single_opt_in_allowed(audience),
        "default_timezone": audience.default_timezone,
        "organisation_name": audience.organisation_name,
        "created_at": audience.created_at.isoformat(),
    }


def subscribers_dicts(people: list[Subscriber]) -> list[dict[str, Any]]:
    """Subscribers with their subscriptions (one query for all of them)."""
    subs: dict[int, list[dict[str, Any]]] = {p.id: [] for p in people}
    if people:
        for sub, slug in db.session.execute(
            select(Subscription, Audience.slug)
            .join(Audience, Audience.id == Subscription.audience_id)
            .where(Subscription.subscriber_id.in_(list(subs)))
            .order_by(Subscription.id)
        ):
            subs[sub.subscriber_id].append(
                {
                    "audience": slug,
                    "channel": sub.channel,
                    "state": sub.state,
                    "requested_at": sub.requested_at.isoformat(),
                    "confirmed_at": _iso(sub.confirmed_at),
                }
            )
    return [
        {
            "id": p.public_id,
            "email": p.email,
            "phone": p.phone,
            "first_name": p.first_name,
            "timezone": p.timezone,
            "language": p.language,
            "created_at": p.created_at.isoformat(),
            "erased_at": _iso(p.erased_at),
            "subscriptions": subs[p.id],
        }
        for p in people
    ]


def campaigns_dicts(rows: list[Campaign]) -> list[dict[str, Any]]:
    """Campaigns with their steps."""
    return [
        {
            "id": c.id,
            "name": c.name,
            "status": c.status,
            "audience": c.audience.slug,
            "anchor_kind": c.anchor_kind,
            "anchor_date": c.anchor_date.isoformat() if c.anchor_date else None,
            "paused_reason": c.paused_reason,
            "started_at": _iso(c.started_at),
            "finished_at": _iso(c.finished_at),
            "created_at": c.created_at.isoformat(),
            "steps": [
                {
                    "id": s.id,
                    "number": number,
                    "channel": s.channel,
                    "title": naming.step_words(s.channel, s.subject, s.body),
                }
                for number, s in enumerate(sorted(c.steps, key=lambda s: s.position), start=1)
            ],
        }
        for c in rows
    ]


def messages_dicts(rows: list[Message]) -> list[dict[str, Any]]:
    """Outbox rows, naming the subscriber by public id (one lookup for the page)."""
    ids = {m.subscriber_id for m in rows}
    public = (
        dict(
            db.session.execute(
                select(Subscriber.id, Subscriber.public_id).where(Subscriber.id.in_(ids))
            ).all()
        )
        if ids
        else {}
    )
    return [
        {
            "id": m.id,
            "campaign_id": m.campaign_id,
            "step_id": m.step_id,
            "subscriber": public.get(m.subscriber_id, ""),
            "channel": m.channel,
            "state": m.state,
            "skip_reason": m.skip_reason,
            "due_at": m.due_at.isoformat(),
            "sent_at": _iso(m.sent_at),
            "delivered_at": _iso(m.delivered_at),
            "opened_at": _iso(m.opened_at),
            "clicked_at": _iso(m.clicked_at),
            "attempts": m.attempts,
            "error_code": m.error_code,
            "provider_id": m.provider_id,
            "created_at": m.created_at.isoformat(),
            "updated_at": m.updated_at.isoformat(),
        }
        for m in rows
    ]
