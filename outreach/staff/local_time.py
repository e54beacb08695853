"""Times on staff pages: shown in the staff user's zone, with the zone named.

Until a staff user picks a zone of their own, the workspace's zone is the first audience's
default zone (the clinic's own), else UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select

from outreach.extensions import db
from outreach.models import Audience


def workspace_zone(user: object | None = None) -> ZoneInfo:
    """The zone staff times are shown in: the user's own, else the first audience's."""
    name = getattr(user, "timezone", None) or db.session.scalar(
        select(Audience.default_timezone).order_by(Audience.id).limit(1)
    )
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def valid_choice(name: str) -> bool:
    """Whether a staff user may pick ``name``: a zone the pickers offer (region/city names
    and UTC; no deprecated aliases such as US/Eastern)."""
    from outreach.campaigns.windows import common_zones

    return name in common_zones()


def parse_utc(value: datetime | str | None) -> datetime | None:
    """A UTC instant from a datetime (naive = UTC) or an ISO 8601 string; None if neither."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def format_local(value: datetime | str | None, zone: ZoneInfo, seconds: bool = False) -> str:
    """``"Mon 1 Jun 2026, 10:00 EDT"``: the instant in ``zone``, the zone named; "" if none.
    ``seconds``: ``10:00:07``."""
    instant = parse_utc(value)
    if instant is None:
        return ""
    local = instant.astimezone(zone)
    clock = f"{local:%H:%M:%S}" if seconds else f"{local:%H:%M}"
    return f"{local:%a} {local.day} {local:%b %Y}, {clock} {local.tzname()}"
