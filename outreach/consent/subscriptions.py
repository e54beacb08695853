"""The only code that changes a subscription: request, confirm, revoke, opt out
everywhere (STOP, 21610), opt back in. Functions flush; the caller commits, so a
webhook's 200 is only sent after its change is stored."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Insert, Select, Update, bindparam, insert, select, update

from outreach import database
from outreach.clock import now as clock_now
from outreach.consent.ledger import ACTIVE, PENDING, UNSUBSCRIBED, Evidence, ledger_row, record
from outreach.consent.suppression import lift_suppression, suppress_many
from outreach.extensions import db
from outreach.models import (
    Audience,
    Campaign,
    ConsentEvent,
    Message,
    Subscriber,
    Subscription,
)


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
        record(sub, "requested", evidence, at)
        record(sub, action or "confirmed", evidence, at)
        lift_suppression(subscriber, channel)
    else:
        sub.state = PENDING
        record(sub, "requested", evidence, at)
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
    record(sub, action, evidence, at)
    lift_suppression(sub.subscriber, sub.channel)
    db.session.flush()
    return True


def revoke(sub: Subscription, evidence: Evidence, *, state: str = UNSUBSCRIBED) -> bool:
    """Withdraw one subscription; cancels its queued messages. False if already withdrawn."""
    request = OptOut(sub.subscriber_id, evidence, state=state, audience_id=sub.audience_id)
    return opt_out_many(sub.channel, [request]) > 0


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


@database.per_dialect
def _locked_on_channel() -> dict[str, Select]:
    """By channel: some people's subscriptions with their address (``people``), locked
    (PostgreSQL: FOR NO KEY UPDATE of the subscriptions) in id order."""
    return {
        channel: select(
            Subscription.id,
            Subscription.subscriber_id,
            Subscription.audience_id,
            Subscription.state,
            contact,
        )
        .join(Subscriber, Subscriber.id == Subscription.subscriber_id)
        .where(
            Subscription.subscriber_id.in_(bindparam("people", expanding=True)),
            Subscription.channel == channel,
        )
        .order_by(Subscription.id)
        .with_for_update(key_share=True, of=Subscription)
        for channel, contact in (("email", Subscriber.email), ("sms", Subscriber.phone))
    }


@database.per_dialect
def _addresses_of() -> dict[str, Select]:
    people = Subscriber.id.in_(bindparam("people", expanding=True))
    return {
        "email": select(Subscriber.id, Subscriber.email).where(people),
        "sms": select(Subscriber.id, Subscriber.phone).where(people),
    }


@database.per_dialect
def _set_state() -> Update:
    table = Subscription.__table__
    return (
        update(table)
        .where(table.c.id.in_(bindparam("ids", expanding=True)))
        .values(state=bindparam("b_state"), updated_at=bindparam("b_at"))
    )


@database.per_dialect
def _append_ledger() -> Insert:
    return insert(ConsentEvent.__table__)


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
    # Core statements, built once, on the session's connection: the ORM has nothing to
    # track here (the objects it holds are expired below), and a STOP's reply waits on
    # every statement.
    connection = db.session.connection()
    at = clock_now()
    people = sorted({r.subscriber_id for r in requests})
    subs: dict[int, list[list]] = {}
    addresses: dict[int, str | None] = {}  # read with the subscriptions: one round trip less
    for sub_id, person, audience_id, state, address in connection.execute(
        _locked_on_channel()[channel], {"people": people}
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
        connection.execute(_append_ledger(), ledger)
    by_state: dict[str, list[int]] = {}
    for sub_id, state in new_state.items():
        by_state.setdefault(state, []).append(sub_id)
    for state, ids in by_state.items():
        connection.execute(_set_state(), {"ids": ids, "b_state": state, "b_at": at})
    per_list = {(person, a) for person, a in cancel_list if person not in cancel_all}
    _cancel_many(channel, cancel_all, per_list, at)
    reasons: dict[int, str] = {}
    for request in requests:
        if request.suppress_reason:
            reasons.setdefault(request.subscriber_id, request.suppress_reason)
    if reasons:
        unread = sorted(set(reasons) - set(addresses))  # people with no subscription rows
        if unread:
            addresses.update(connection.execute(_addresses_of()[channel], {"people": unread}))
        suppress_many(
            channel,
            [
                (address, reason)
                for person, reason in reasons.items()
                if (address := addresses.get(person))
            ],
            at=at,
        )
    if new_state:
        for obj in list(db.session.identity_map.values()):
            if isinstance(obj, Subscription) and obj.id in new_state:
                db.session.expire(obj)
    return len(new_state)


@database.per_dialect
def _cancel_statements() -> tuple[Update, Update]:
    """Cancel queued messages on a channel: of some people (``people``), and of some people
    on one list (``people``, ``audience_id``)."""
    table = Message.__table__
    queued = update(table).where(
        table.c.channel == bindparam("b_channel"),
        table.c.state == "queued",
        table.c.subscriber_id.in_(bindparam("people", expanding=True)),
    )
    cancelled = {
        "state": "cancelled",
        "skip_reason": "opted_out",
        "updated_at": bindparam("b_at"),
    }
    on_list = table.c.campaign_id.in_(
        select(Campaign.id).where(Campaign.audience_id == bindparam("audience_id"))
    )
    return queued.values(cancelled), queued.where(on_list).values(cancelled)


def _cancel_many(
    channel: str, everywhere: set[int], per_list: set[tuple[int, int]], at: datetime
) -> None:
    """Cancel queued messages: all of some people's, and some people's on one list."""
    connection = db.session.connection()
    of_people, of_people_on_list = _cancel_statements()
    if everywhere:
        connection.execute(
            of_people, {"b_channel": channel, "people": sorted(everywhere), "b_at": at}
        )
    lists: dict[int, list[int]] = {}
    for person, audience_id in per_list:
        lists.setdefault(audience_id, []).append(person)
    for audience_id, persons in lists.items():
        connection.execute(
            of_people_on_list,
            {
                "b_channel": channel,
                "people": sorted(persons),
                "audience_id": audience_id,
                "b_at": at,
            },
        )


def resubscribe_everywhere(
    subscriber: Subscriber, channel: str, evidence: Evidence
) -> list[Subscription]:
    """Opt back in on a channel (SMS START/YES): pending -> active, withdrawn -> active."""
    changed = []
    for sub in db.session.scalars(_locked_subscriptions(subscriber.id, channel)):
        if sub.state in (PENDING, UNSUBSCRIBED) and confirm(sub, evidence):
            changed.append(sub)
    lift_suppression(subscriber, channel)
    return changed


def carrier_opt_out(subscriber: Subscriber | None, phone: str | None, provider_ref: str) -> None:
    """Twilio 21610: the person opted out at the carrier. Revoke every text subscription of
    the number's holder and suppress it (a number nobody holds is suppressed all the same)."""
    if subscriber is None and phone:
        subscriber = db.session.scalar(select(Subscriber).filter_by(phone=phone))
    if subscriber is None:
        if phone:
            suppress_many("sms", [(phone, "carrier_opt_out")])
        return
    opt_out_everywhere(
        subscriber,
        "sms",
        Evidence(
            source="provider_event",
            provider_ref=provider_ref,
            note="Twilio error 21610: opted out at the carrier",
        ),
        suppress_reason="carrier_opt_out",
    )
