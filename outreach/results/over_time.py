"""A campaign's activity over time (UTC): sends and deliveries, and people's clicks.

By the hour, or by the day when the activity spans more than four days; empty buckets are
filled in so a chart's time axis is even. Each series is one GROUP BY in the database.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, true
from sqlalchemy.sql.elements import ColumnElement

from outreach import database
from outreach.extensions import db
from outreach.models import Campaign, LinkClick, Message

#: Activity spanning more than this is charted by day instead of by hour.
HOURLY_SPAN = timedelta(days=4)


@dataclass(frozen=True)
class Bucket:
    """Sends and deliveries in one time bucket (UTC)."""

    start: datetime
    sent: int
    delivered: int


@dataclass
class Series:
    """Sends and deliveries over time."""

    unit: str  # "hour" or "day"
    buckets: list[Bucket]

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "unit": self.unit,
            "buckets": [
                {"start": b.start.isoformat(), "sent": b.sent, "delivered": b.delivered}
                for b in self.buckets
            ],
        }


@dataclass(frozen=True)
class ClickBucket:
    """People's clicks (scanners left out) in one time bucket (UTC)."""

    start: datetime
    clicks: int


@dataclass
class ClickSeries:
    """Clicks over time."""

    unit: str  # "hour" or "day"
    buckets: list[ClickBucket]

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "unit": self.unit,
            "buckets": [{"start": b.start.isoformat(), "clicks": b.clicks} for b in self.buckets],
        }


def hour(column: ColumnElement) -> ColumnElement:
    """The hour a datetime falls in (UTC), in the database's own functions."""
    if database.dialect() == "postgresql":
        return func.date_trunc("hour", column)
    return func.strftime("%Y-%m-%d %H:00:00", column)


def as_utc(value: datetime | str) -> datetime:
    """A database datetime (SQLite gives text) as an aware UTC datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def bucketed(per_hour: dict[datetime, Sequence[int]], width: int) -> tuple[str, list]:
    """Hourly counts (``width`` numbers each) -> (unit, [(start, [numbers])]) by hour or
    by day, with every empty bucket between the first and the last filled in."""
    if not per_hour:
        return "hour", []
    first, last = min(per_hour), max(per_hour)
    unit = "hour" if last - first <= HOURLY_SPAN else "day"
    buckets: dict[datetime, list[int]] = defaultdict(lambda: [0] * width)
    for start, numbers in per_hour.items():
        key = start if unit == "hour" else start.replace(hour=0)
        for index, n in enumerate(numbers):
            buckets[key][index] += n
    step = timedelta(hours=1) if unit == "hour" else timedelta(days=1)
    cursor, end = min(buckets), max(buckets)
    filled = []
    while cursor <= end:
        filled.append((cursor, buckets.get(cursor, [0] * width)))
        cursor += step
    return unit, filled


def series(campaign: Campaign) -> Series:
    """Sends and deliveries per hour (per day for campaigns longer than four days).

    One scan: grouped by (hour sent, hour delivered), which are few pairs since a message
    is delivered soon after it is sent; the two histograms are summed from those pairs.
    """
    per_hour: dict[datetime, list[int]] = defaultdict(lambda: [0, 0])
    sent_hour = hour(Message.sent_at).label("sent_hour")
    delivered_hour = hour(Message.delivered_at).label("delivered_hour")
    rows = db.session.execute(
        select(sent_hour, delivered_hour, func.count())
        .where(
            Message.campaign_id == campaign.id,
            or_(Message.sent_at.is_not(None), Message.delivered_at.is_not(None)),
        )
        .group_by(sent_hour, delivered_hour)
    )
    for sent_start, delivered_start, n in rows:
        if sent_start is not None:
            per_hour[as_utc(sent_start)][0] += n
        if delivered_start is not None:
            per_hour[as_utc(delivered_start)][1] += n
    unit, filled = bucketed(per_hour, 2)
    return Series(unit, [Bucket(start, sent, delivered) for start, (sent, delivered) in filled])


def click_series(campaign: Campaign) -> ClickSeries:
    """People's clicks on the campaign's tracked links per hour (or day), scanners apart."""
    clicked_hour = hour(LinkClick.clicked_at).label("clicked_hour")
    rows = db.session.execute(
        select(clicked_hour, func.count())
        .where(LinkClick.campaign_id == campaign.id, LinkClick.human == true())
        .group_by(clicked_hour)
    )
    per_hour = {as_utc(start): (n,) for start, n in rows}
    unit, filled = bucketed(per_hour, 1)
    return ClickSeries(unit, [ClickBucket(start, n) for start, (n,) in filled])
