"""Finding subscribers: search by email, phone or name, filters (audience, channel, state,
language, signed-up dates) and keyset paging (newest first), cheap at millions of rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import ColumnElement, and_, exists, func, or_, select

from outreach import database
from outreach.audiences.contacts import InvalidContact, normalise_email, normalise_phone
from outreach.models import Subscriber, Subscription
from outreach.models.contacts import SUBSCRIPTION_STATES

PAGE = 50
CHANNELS = ("email", "sms")
STATES = SUBSCRIPTION_STATES


@dataclass(frozen=True)
class SubscriberFilter:
    """What the subscriber list is asked for (already checked: unknown values are empty)."""

    query: str = ""
    audience_id: int | None = None
    channel: str = ""
    state: str = ""
    language: str = ""
    since: date | None = None
    until: date | None = None

    @property
    def narrowed(self) -> bool:
        """Whether anything beyond "everyone" was asked for."""
        return any((self.query, self.audience_id, self.channel, self.state, self.language,
                    self.since, self.until))  # fmt: skip


@dataclass(frozen=True)
class Page:
    """One page of subscribers and the id the next page starts below (None: last page)."""

    rows: list[Subscriber]
    next_before: int | None


def _search_conditions(query: str) -> list:
    """A whole email address or phone number: that person, by the unique index. Else
    partial, case-insensitive matches; on PostgreSQL each expression has a trigram index
    (migration 7a1c9e5b2d30)."""
    exact = _exact_contact(query)
    if exact is not None:
        return [exact]
    like = f"%{query.lower()}%"
    conditions = [
        func.lower(Subscriber.email).like(like),
        func.lower(Subscriber.first_name).like(like),
    ]
    digits = "".join(ch for ch in query if ch.isdigit())
    if len(digits) >= 3:
        conditions.append(func.ltrim(Subscriber.phone, "+").like(f"%{digits}%"))
    return [or_(*conditions)]


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def conditions(wanted: SubscriberFilter) -> list:
    """The WHERE clauses of a filter."""
    where: list = []
    query = wanted.query.strip()
    if query:
        where += _search_conditions(query)
    if wanted.language:
        where.append(Subscriber.language == wanted.language)
    if wanted.since:
        where.append(Subscriber.created_at >= _day_start(wanted.since))
    if wanted.until:
        where.append(Subscriber.created_at < _day_start(wanted.until + timedelta(days=1)))
    held = [Subscription.subscriber_id == Subscriber.id]
    if wanted.audience_id:
        held.append(Subscription.audience_id == wanted.audience_id)
    if wanted.channel:
        held.append(Subscription.channel == wanted.channel)
    if wanted.state:
        held.append(Subscription.state == wanted.state)
    if len(held) > 1:
        where.append(exists().where(and_(*held)))
    return where


def _exact_contact(query: str) -> ColumnElement[bool] | None:
    """``email = ...`` or ``phone = ...`` when the query is a whole address or number
    (looked up by the unique index), else None."""
    try:
        if "@" in query:
            return Subscriber.email == normalise_email(query)
        if sum(ch.isdigit() for ch in query) >= 10:
            return Subscriber.phone == normalise_phone(query, mobile_only=False)
    except InvalidContact:
        return None
    return None


def find(wanted: SubscriberFilter, before: int | None = None, size: int = PAGE) -> Page:
    """A page of matching subscribers, newest first, starting below id ``before``."""
    rows, next_before = database.newest_first_page(
        select(Subscriber).where(*conditions(wanted)), Subscriber.id, before, size
    )
    return Page(rows, next_before)


def search(query: str, limit: int = PAGE) -> list[Subscriber]:
    """Subscribers whose email, phone or first name matches (case-insensitive, partial)."""
    return find(SubscriberFilter(query=query), size=limit).rows
