"""The only code that changes consent.

Every change appends a ConsentEvent (the ledger) and updates the cached state on the
Subscription. Functions flush but do not commit: the caller owns the transaction, so a
webhook's 200 is only sent after its change is committed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, String, event, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from outreach.clock import now as clock_now
from outreach.contacts import address_hash
from outreach.extensions import db
from outreach.models import (
    Audience,
    ConsentEvent,
    Message,
    Subscriber,
    Subscription,
    Suppression,
)
from outreach.sqlutil import in_values

#: State a subscription ends in after each ledger action.
ACTIVE = "active"
PENDING = "pending"
UNSUBSCRIBED = "unsubscribed"

#: Suppression reasons that the subscriber can lift by opting back in (e.g. texting START).
LIFTABLE_BY_OPT_IN = {"sms_stop", "carrier_opt_out", "unsubscribe"}


class LedgerIsAppendOnly(RuntimeError):
    """Raised when code tries to change or remove a consent ledger row."""


@event.listens_for(Session, "before_flush")
def _guard_ledger(session: Session, flush_context, instances) -> None:  # noqa: ANN001
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, ConsentEvent):
            raise LedgerIsAppendOnly("consent ledger rows are never updated or deleted")


@dataclass(frozen=True)
class Evidence:
    """Who or what asked for a consent change, and the proof that goes with it."""

    source: str
    wording: str | None = None
    form_url: str | None = None
    ip_address: str | None = None
    user_agent: str | None = None
    provider_ref: str | None = None
    actor_id: int | None = None
    note: str | None = None


def ledger_row(
    subscriber_id: int,
    audience_id: int | None,
    channel: str,
    action: str,
    resulting_state: str,
    evidence: Evidence,
    at: datetime,
) -> dict:
    """The column values of one ledger row (for the ORM and for bulk inserts alike)."""
    return {
        "subscriber_id": subscriber_id,
        "audience_id": audience_id,
        "channel": channel,
        "action": action,
        "source": evidence.source,
        "resulting_state": resulting_state,
        "wording": evidence.wording,
        "form_url": (evidence.form_url or None) and evidence.form_url[:500],
        "ip_address": evidence.ip_address,
        "user_agent": (evidence.user_agent or None) and evidence.user_agent[:500],
        "provider_ref": evidence.provider_ref,
        "actor_id": evidence.actor_id,
        "note": evidence.note,
        "created_at": at,
    }


def _record(
    sub: Subscription, action: str, evidence: Evidence, at: datetime | None = None
) -> ConsentEvent:
    row = ConsentEvent(
        **ledger_row(
            sub.subscriber_id,
            sub.audience_id,
            sub.channel,
            action,
            sub.state,
            evidence,
            at or clock_now(),
        )
    )
    db.session.add(row)
    return row


def _contact_for(subscriber: Subscriber, channel: str) -> str | None:
    return subscriber.email if channel == "email" else subscriber.phone


def get_or_create_subscription(
    subscriber: Subscriber, audience: Audience, channel: str
) -> tuple[Subscription, bool]:
    """The subscription row for (subscriber, audience, channel), created pending if absent."""
    sub = db.session.scalar(
        select(Subscription).filter_by(
            subscriber_id=subscriber.id, audience_id=audience.id, channel=channel
        )
    )
    if sub is not None:
        return sub, False
    at = clock_now()
    sub = Subscription(
        subscriber_id=subscriber.id,
        audience_id=audience.id,
        channel=channel,
        state=PENDING,
        requested_at=at,
        updated_at=at,
    )
    sub.subscriber = subscriber
    sub.audience = audience
    db.session.add(sub)
    db.session.flush()
    return sub, True


def request_consent(
    subscriber: Subscriber,
    audience: Audience,
    channel: str,
    evidence: Evidence,
    *,
    confirmed: bool = False,
) -> Subscription:
    """Record a request to join; active at once when ``confirmed`` (single opt-in with evidence).

    An already active subscription is left alone (no duplicate, nothing visible changes).
    """
    sub, _ = get_or_create_subscription(subscriber, audience, channel)
    if sub.state == ACTIVE:
        return sub
    at = clock_now()
    previous = sub.state
    sub.requested_at = at
    sub.updated_at = at
    if confirmed:
        sub.state = ACTIVE
        sub.confirmed_at = at
        action = "resubscribed" if previous in (UNSUBSCRIBED, "bounced", "complained") else None
        _record(sub, "requested", evidence, at)
        _record(sub, action or "confirmed", evidence, at)
        _lift_suppression(subscriber, channel)
    else:
        sub.state = PENDING
        _record(sub, "requested", evidence, at)
    db.session.flush()
    return sub


def confirm(sub: Subscription, evidence: Evidence) -> bool:
    """Confirm a pending (or withdrawn, re-requested) subscription; False if already active."""
    if sub.state == ACTIVE:
        return False
    at = clock_now()
    action = "confirmed" if sub.state == PENDING else "resubscribed"
    sub.state = ACTIVE
    sub.confirmed_at = at
    sub.updated_at = at
    _record(sub, action, evidence, at)
    _lift_suppression(sub.subscriber, sub.channel)
    db.session.flush()
    return True


def revoke(sub: Subscription, evidence: Evidence, *, state: str = UNSUBSCRIBED) -> bool:
    """Withdraw one subscription; cancels its queued messages. False if already withdrawn."""
    if sub.state == state or (state == UNSUBSCRIBED and sub.state not in (ACTIVE, PENDING)):
        return False
    at = clock_now()
    sub.state = state
    sub.updated_at = at
    _record(sub, "revoked", evidence, at)
    cancel_queued(sub.subscriber_id, sub.channel, audience_id=sub.audience_id)
    db.session.flush()
    return True


def _locked_subscriptions(subscriber_id: int, channel: str) -> Select[tuple[Subscription]]:
    """One person's subscriptions on a channel, locked and freshly read, in id order.

    PostgreSQL: FOR NO KEY UPDATE, the lock an UPDATE of these rows takes anyway, taken
    before the states are read. SQLite ignores it (the writer lock serialises instead).
    """
    return (
        select(Subscription)
        .filter_by(subscriber_id=subscriber_id, channel=channel)
        .order_by(Subscription.id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )


def opt_out_everywhere(
    subscriber: Subscriber,
    channel: str,
    evidence: Evidence,
    *,
    state: str = UNSUBSCRIBED,
    suppress_reason: str | None = None,
) -> int:
    """Withdraw every subscription of one person on one channel, optionally suppressing;
    returns how many subscriptions changed.

    The rows are locked first (PostgreSQL), so concurrent opt-outs write one ledger row each
    per change, not one per request, and an opt-out waits for an in-flight send. Set-based
    (``opt_out_many``): a handful of statements however many lists the person is on, which
    keeps a STOP reply fast.
    """
    request = OptOut(subscriber.id, evidence, state=state, suppress_reason=suppress_reason)
    return opt_out_many(channel, [request])


@dataclass(frozen=True)
class OptOut:
    """One person's withdrawal on a channel, for ``opt_out_many``.

    ``audience_id`` None means every list (as ``opt_out_everywhere``), else that list only
    (as ``revoke``); ``suppress_reason`` also suppresses the person's address.
    """

    subscriber_id: int
    evidence: Evidence
    state: str = UNSUBSCRIBED
    audience_id: int | None = None
    suppress_reason: str | None = None


def opt_out_many(channel: str, requests: Iterable[OptOut]) -> int:
    """Apply many withdrawals on one channel in a handful of statements; returns changes.

    Each request has the effect ``revoke`` / ``opt_out_everywhere`` would have, applied in
    order (one ledger row per subscription that changes, queued messages cancelled, address
    suppressed), but the rows are locked, read, inserted and updated set-wise: for a batch
    of provider events (bounces, spam reports) rather than one click.
    """
    requests = list(requests)
    if not requests:
        return 0
    db.session.flush()
    # Core statements on the session's connection: the ORM has nothing to track here (the
    # objects it holds are expired below), and a STOP's reply waits on every statement.
    connection = db.session.connection()
    at = clock_now()
    people = sorted({r.subscriber_id for r in requests})
    subs: dict[int, list[list]] = {}
    contact = Subscriber.email if channel == "email" else Subscriber.phone
    addresses: dict[int, str | None] = {}  # read with the subscriptions: one round trip less
    columns = (
        Subscription.id,
        Subscription.subscriber_id,
        Subscription.audience_id,
        Subscription.state,
        contact,
    )
    for sub_id, person, audience_id, state, address in connection.execute(
        select(*columns)
        .join(Subscriber, Subscriber.id == Subscription.subscriber_id)
        .where(Subscription.subscriber_id.in_(people), Subscription.channel == channel)
        .order_by(Subscription.id)
        .with_for_update(key_share=True, of=Subscription)
    ):
        subs.setdefault(person, []).append([sub_id, audience_id, state])
        addresses[person] = address
    ledger: list[dict] = []
    new_state: dict[int, str] = {}
    cancel_all: set[int] = set()
    cancel_list: set[tuple[int, int]] = set()
    for request in requests:
        if request.audience_id is None:
            cancel_all.add(request.subscriber_id)
        for sub in subs.get(request.subscriber_id, []):
            sub_id, audience_id, state = sub
            if request.audience_id is not None and audience_id != request.audience_id:
                continue
            target = request.state
            if state == target or (target == UNSUBSCRIBED and state not in (ACTIVE, PENDING)):
                continue
            sub[2] = new_state[sub_id] = target
            cancel_list.add((request.subscriber_id, audience_id))
            ledger.append(
                ledger_row(
                    request.subscriber_id,
                    audience_id,
                    channel,
                    "revoked",
                    target,
                    request.evidence,
                    at,
                )
            )
    if ledger:
        connection.execute(insert(ConsentEvent.__table__), ledger)
    by_state: dict[str, list[int]] = {}
    for sub_id, state in new_state.items():
        by_state.setdefault(state, []).append(sub_id)
    for state, ids in by_state.items():
        connection.execute(
            update(Subscription.__table__)
            .where(Subscription.__table__.c.id.in_(ids))
            .values(state=state, updated_at=at)
        )
    per_list = {(person, a) for person, a in cancel_list if person not in cancel_all}
    _cancel_many(channel, cancel_all, per_list, at)
    reasons: dict[int, str] = {}
    for request in requests:
        if request.suppress_reason:
            reasons.setdefault(request.subscriber_id, request.suppress_reason)
    if reasons:
        unread = sorted(set(reasons) - set(addresses))  # people with no subscription rows
        if unread:
            addresses.update(
                connection.execute(select(Subscriber.id, contact).where(Subscriber.id.in_(unread)))
            )
        rows = [
            {
                "channel": channel,
                "address_hash": address_hash(channel, address),
                "address": address,
                "reason": reason,
                "created_at": at,
            }
            for person, reason in reasons.items()
            if (address := addresses.get(person))
        ]
        if rows:
            dialect = db.session.get_bind().dialect.name
            make = pg_insert if dialect == "postgresql" else sqlite_insert
            connection.execute(
                make(Suppression.__table__).on_conflict_do_nothing(
                    index_elements=["channel", "address_hash"]
                ),
                rows,
            )
    if new_state:
        for obj in list(db.session.identity_map.values()):
            if isinstance(obj, Subscription) and obj.id in new_state:
                db.session.expire(obj)
    return len(new_state)


def _cancel_many(
    channel: str, everywhere: set[int], per_list: set[tuple[int, int]], at: datetime
) -> None:
    """Cancel queued messages: all of some people's, and some people's on one list."""
    connection = db.session.connection()
    values = {"state": "cancelled", "skip_reason": "opted_out", "updated_at": at}
    table = Message.__table__
    queued = (table.c.channel == channel, table.c.state == "queued")
    if everywhere:
        connection.execute(
            update(table)
            .where(*queued, table.c.subscriber_id.in_(sorted(everywhere)))
            .values(values)
        )
    lists: dict[int, list[int]] = {}
    for person, audience_id in per_list:
        lists.setdefault(audience_id, []).append(person)
    for audience_id, persons in lists.items():
        from outreach.models import Campaign

        connection.execute(
            update(table)
            .where(
                *queued,
                table.c.subscriber_id.in_(sorted(persons)),
                table.c.campaign_id.in_(
                    select(Campaign.id).where(Campaign.audience_id == audience_id)
                ),
            )
            .values(values)
        )


def resubscribe_everywhere(
    subscriber: Subscriber, channel: str, evidence: Evidence
) -> list[Subscription]:
    """Opt back in on a channel (SMS START/YES): pending -> active, withdrawn -> active."""
    changed = []
    for sub in db.session.scalars(_locked_subscriptions(subscriber.id, channel)):
        if sub.state in (PENDING, UNSUBSCRIBED) and confirm(sub, evidence):
            changed.append(sub)
    _lift_suppression(subscriber, channel)
    return changed


def cancel_queued(subscriber_id: int, channel: str, *, audience_id: int | None = None) -> int:
    """Cancel a person's queued messages on a channel (optionally only for one audience)."""
    stmt = (
        update(Message)
        .where(
            Message.subscriber_id == subscriber_id,
            Message.channel == channel,
            Message.state == "queued",
        )
        .values(state="cancelled", skip_reason="opted_out", updated_at=clock_now())
        .execution_options(synchronize_session=False)
    )
    if audience_id is not None:
        from outreach.models import Campaign

        stmt = stmt.where(
            Message.campaign_id.in_(select(Campaign.id).where(Campaign.audience_id == audience_id))
        )
    return db.session.execute(stmt).rowcount or 0


def suppress(channel: str, address: str, reason: str, *, keep_address: bool = True) -> bool:
    """Add (channel, address) to the suppression list; False if it was already there.

    One ``INSERT ... ON CONFLICT DO NOTHING``: two webhooks suppressing the same address at
    the same moment (a STOP and a carrier error, a bounce and a spam report) both succeed.
    """
    db.session.flush()
    table = Suppression.__table__
    dialect = db.session.get_bind().dialect.name
    stmt = (
        (pg_insert if dialect == "postgresql" else sqlite_insert)(table)
        .values(
            channel=channel,
            address_hash=address_hash(channel, address),
            address=address if keep_address else None,
            reason=reason,
            created_at=clock_now(),
        )
        .on_conflict_do_nothing(index_elements=["channel", "address_hash"])
        .execution_options(preserve_rowcount=True)
    )
    return db.session.execute(stmt).rowcount > 0


def is_suppressed(channel: str, address: str | None) -> bool:
    """True when the address is on the suppression list for that channel."""
    if not address:
        return False
    digest = address_hash(channel, address)
    return (
        db.session.scalar(select(Suppression.id).filter_by(channel=channel, address_hash=digest))
        is not None
    )


def _lift_suppression(subscriber: Subscriber, channel: str) -> None:
    address = _contact_for(subscriber, channel)
    if not address:
        return
    digest = address_hash(channel, address)
    for row in db.session.scalars(
        select(Suppression).filter_by(channel=channel, address_hash=digest)
    ):
        if row.reason in LIFTABLE_BY_OPT_IN:
            db.session.delete(row)


def check_batch(
    subscriber_ids: Iterable[int], channel: str, audience_id: int, *, lock: bool = False
) -> dict[int, str | None]:
    """For each subscriber: None if we may contact them now on the channel for the audience,
    else the reason (``no_consent``, ``suppressed``, ``invalid_number``).

    Two queries for the whole batch. With ``lock`` (PostgreSQL) the active subscription rows
    are held FOR SHARE until the caller's transaction ends, so a concurrent opt-out waits
    for an in-flight send instead of racing it.
    """
    ids = sorted(set(subscriber_ids))
    verdict: dict[int, str | None] = dict.fromkeys(ids, "no_consent")
    if not ids:
        return verdict
    contact = Subscriber.email if channel == "email" else Subscriber.phone
    query = (
        select(Subscriber.id, contact, Subscriber.phone_invalid, Subscriber.phone_unreachable)
        .join(Subscription, Subscription.subscriber_id == Subscriber.id)
        .where(
            in_values(Subscriber.id, ids),
            Subscription.audience_id == audience_id,
            Subscription.channel == channel,
            Subscription.state == ACTIVE,
            contact.is_not(None),
            Subscriber.erased_at.is_(None),
        )
        .order_by(Subscription.id)
    )
    if lock and db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(read=True, of=Subscription)
    digests: dict[int, str] = {}
    for sid, address, invalid, unreachable in db.session.execute(query):
        if channel == "sms" and invalid:
            verdict[sid] = "invalid_number"
        elif channel == "sms" and unreachable:
            verdict[sid] = "unreachable"
        else:
            digests[sid] = address_hash(channel, address)
            verdict[sid] = None
    if digests:
        suppressed = set(
            db.session.scalars(
                select(Suppression.address_hash).where(
                    Suppression.channel == channel,
                    in_values(Suppression.address_hash, digests.values(), String),
                )
            )
        )
        for sid, digest in digests.items():
            if digest in suppressed:
                verdict[sid] = "suppressed"
    return verdict


def allowed_subscribers(subscriber_ids: Iterable[int], channel: str, audience_id: int) -> set[int]:
    """Of these subscribers, those we may contact now on the channel for the audience."""
    verdict = check_batch(subscriber_ids, channel, audience_id)
    return {sid for sid, reason in verdict.items() if reason is None}


def may_contact(subscriber: Subscriber, channel: str, audience: Audience) -> bool:
    """May we contact this person on this channel for this audience right now?"""
    return subscriber.id in allowed_subscribers([subscriber.id], channel, audience.id)


def replay(events: Iterable[ConsentEvent]) -> dict[tuple[int | None, str], str]:
    """Derive subscription states from ledger rows alone (for audits and tests)."""
    states: dict[tuple[int | None, str], str] = {}
    for row in sorted(events, key=lambda e: (e.created_at, e.id)):
        key = (row.audience_id, row.channel)
        if row.action == "requested":
            states[key] = row.resulting_state
        elif row.action in ("confirmed", "resubscribed"):
            states[key] = ACTIVE
        elif row.action in ("revoked", "suppressed"):
            states[key] = row.resulting_state
    return states


def ledger_for(subscriber: Subscriber) -> list[ConsentEvent]:
    """One subscriber's ledger, oldest first."""
    return list(
        db.session.scalars(
            select(ConsentEvent)
            .where(ConsentEvent.subscriber_id == subscriber.id)
            .order_by(ConsentEvent.created_at, ConsentEvent.id)
        )
    )


@dataclass(frozen=True)
class Signup:
    """What a person typed into a public form (already validated and normalised)."""

    audience: Audience
    email: str | None
    phone: str | None
    first_name: str
    timezone: str
    channels: tuple[str, ...]


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
        if _contact_for(subscriber, channel) != (
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
