"""Sign-ups: find or create the person, then request consent on each chosen channel."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from outreach.audiences.contacts import address_hash
from outreach.campaigns import windows
from outreach.clock import now as clock_now
from outreach.consent import confirmations
from outreach.consent.ledger import ACTIVE, PENDING, Evidence, ledger_row
from outreach.consent.subscriptions import request_consent
from outreach.consent.suppression import contact_for
from outreach.extensions import db
from outreach.models import Audience, ConsentEvent, Subscriber, Subscription, Suppression


@dataclass(frozen=True)
class Signup:
    """What a person typed into a public form (already validated and normalised)."""

    audience: Audience
    email: str | None
    phone: str | None
    first_name: str
    timezone: str
    channels: tuple[str, ...]
    language: str = "en"


def single_opt_in_allowed(audience: Audience) -> bool:
    """May people with consent evidence from elsewhere (an import, the API) start active?

    Only when the audience allows it (or does not use double opt-in at all). The public
    form always asks for a confirmation, whatever this says.
    """
    return audience.single_opt_in_for_imports or not audience.double_opt_in


def find_subscriber(email: str | None = None, phone: str | None = None) -> Subscriber | None:
    """The subscriber holding this normalised email, else this E.164 phone."""
    if email:
        found = db.session.scalar(select(Subscriber).filter_by(email=email))
        if found is not None:
            return found
    if phone:
        return db.session.scalar(select(Subscriber).filter_by(phone=phone))
    return None


def sign_up(
    signup: Signup, evidence: dict[str, Evidence], *, confirmed: bool = False
) -> tuple[Subscriber, list[Subscription]]:
    """Create or reuse the subscriber and request consent on each chosen channel.

    Returns the subscriptions that still need confirming. An address that already exists
    is reused silently: the submitter sees the same answer either way (no enumeration).
    """
    subscriber = find_subscriber(signup.email, signup.phone)
    if subscriber is None:
        subscriber = Subscriber(
            email=signup.email,
            phone=signup.phone,
            first_name=signup.first_name,
            timezone=signup.timezone,
            language=signup.language,
            created_at=clock_now(),
        )
        db.session.add(subscriber)
        db.session.flush()
    else:
        if signup.phone and not subscriber.phone and find_subscriber(phone=signup.phone) is None:
            subscriber.phone = signup.phone
        if signup.email and not subscriber.email and find_subscriber(email=signup.email) is None:
            subscriber.email = signup.email
        if not subscriber.first_name and signup.first_name:
            subscriber.first_name = signup.first_name
    pending = []
    for channel in signup.channels:
        if contact_for(subscriber, channel) != (
            signup.email if channel == "email" else signup.phone
        ):
            continue  # the contact belongs to someone else: change nothing, say nothing
        sub = request_consent(
            subscriber, signup.audience, channel, evidence[channel], confirmed=confirmed
        )
        if sub.state == PENDING:
            pending.append(sub)
    db.session.flush()
    return subscriber, pending


def sign_up_new(
    signups: list[Signup], evidence: list[Evidence], *, confirmed: bool = False
) -> list[tuple[int, str]]:
    """Set-based ``sign_up`` for people not on file yet (large imports): three INSERTs.

    Writes exactly what ``sign_up`` + ``request_consent`` write for a new subscriber: the
    subscriber, one subscription per channel (pending, or active when ``confirmed``) and
    the ledger rows ("requested", plus "confirmed" when ``confirmed``). ``evidence[i]``
    goes with ``signups[i]`` on every channel. Raises ValueError, writing nothing, when any
    email or phone is already on file or suppressed: those go through ``sign_up``.
    Returns ``(subscriber_id, public_id)`` in the order of ``signups``.
    """
    if len(signups) != len(evidence):
        raise ValueError("one Evidence per Signup")
    if not signups:
        return []
    emails = [s.email for s in signups if s.email]
    phones = [s.phone for s in signups if s.phone]
    # One query per column and channel, so each can use its unique index.
    for column, values in ((Subscriber.email, emails), (Subscriber.phone, phones)):
        if values and db.session.scalar(select(Subscriber.id).where(column.in_(values)).limit(1)):
            raise ValueError("an email or phone is already on file")
    for channel, values in (("email", emails), ("sms", phones)):
        digests = [address_hash(channel, v) for v in values]
        if digests and db.session.scalar(
            select(Suppression.id)
            .where(Suppression.channel == channel, Suppression.address_hash.in_(digests))
            .limit(1)
        ):
            raise ValueError("an email or phone is on the suppression list")
    at = clock_now()
    people = [
        {
            "public_id": uuid.uuid4().hex,
            "email": s.email,
            "phone": s.phone,
            "first_name": s.first_name,
            "timezone": s.timezone,
            "language": s.language,
            "phone_invalid": False,
            "phone_unreachable": False,
            "created_at": at,
        }
        for s in signups
    ]
    ids = list(
        db.session.execute(
            insert(Subscriber.__table__).returning(
                Subscriber.__table__.c.id, sort_by_parameter_order=True
            ),
            people,
        ).scalars()
    )
    state = ACTIVE if confirmed else PENDING
    subscriptions = []
    events = []
    for subscriber_id, signup, proof in zip(ids, signups, evidence, strict=True):
        for channel in signup.channels:
            if (signup.email if channel == "email" else signup.phone) is None:
                continue
            subscriptions.append(
                {
                    "subscriber_id": subscriber_id,
                    "audience_id": signup.audience.id,
                    "channel": channel,
                    "state": state,
                    "requested_at": at,
                    "confirmed_at": at if confirmed else None,
                    "updated_at": at,
                    "note": None,
                }
            )
            for action in ("requested", "confirmed") if confirmed else ("requested",):
                events.append(
                    ledger_row(subscriber_id, signup.audience.id, channel, action, state, proof, at)
                )
    if subscriptions:
        db.session.execute(insert(Subscription.__table__), subscriptions)
        db.session.execute(insert(ConsentEvent.__table__), events)
    return [(sid, row["public_id"]) for sid, row in zip(ids, people, strict=True)]


def form_signups(
    audience: Audience,
    email: str | None,
    phone: str | None,
    chosen: list[str],
    first_name: str,
    timezone: str,
    language: str = "en",
) -> list[Signup]:
    """A public form's submission as sign-ups: one for a new person; one per channel when a
    contact is already on file.

    An unverified form never attaches a contact to someone else's record: a record on file
    only gets a request for its own contact, and new contacts make a new record.
    """
    email = email if "email" in chosen else None
    phone = phone if "sms" in chosen else None
    on_file = {
        "email": find_subscriber(email=email) if email else None,
        "sms": find_subscriber(phone=phone) if phone else None,
    }

    def signup(channels: list[str]) -> Signup:
        return Signup(
            audience=audience,
            email=email if "email" in channels else None,
            phone=phone if "sms" in channels else None,
            first_name=first_name,
            timezone=timezone,
            channels=tuple(channels),
            language=language,
        )

    if not any(on_file.values()):
        return [signup(chosen)]
    fresh = [c for c in chosen if on_file[c] is None]
    known = [signup([c]) for c in chosen if on_file[c] is not None]
    return known + ([signup(fresh)] if fresh else [])


def sign_up_from_form(
    audience: Audience,
    *,
    email: str | None,
    phone: str | None,
    chosen: list[str],
    first_name: str,
    browser_timezone: str | None,
    evidence: dict[str, Evidence],
    language: str = "en",
) -> None:
    """Store a public form's sign-up (always double opt-in) and ask for confirmation on each
    new pending channel; commits. The answer to the visitor is the same whatever happened
    (no enumeration), so nothing is returned.

    A concurrent twin submission (two clicks) is retried once. A new person's language is
    the form's; a person on file keeps theirs (the form is not verified).
    """
    timezone = windows.choose_timezone(browser_timezone, phone, audience.default_timezone)
    signups = form_signups(audience, email, phone, chosen, first_name, timezone, language)
    for attempt in (1, 2):
        try:
            results = [sign_up(signup, evidence) for signup in signups]
            db.session.commit()
            break
        except IntegrityError:
            db.session.rollback()
            if attempt == 2:
                raise
    for _, pending in results:
        for sub in pending:
            confirmations.request_confirmation(sub)
    db.session.commit()
