"""Staff pages' times: ``{{ value|staff_time }}`` shows an instant in the signed-in staff
user's zone (else the clinic's), with the zone named; ``staff_zone()`` names that zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import g
from flask_login import current_user

from outreach.admin import bp
from outreach.staff import local_time


def staff_zone() -> ZoneInfo:
    """The zone of this request's staff pages (looked up once per request)."""
    zone = g.get("staff_zone")
    if zone is None:
        user = current_user if current_user and current_user.is_authenticated else None
        zone = g.staff_zone = local_time.workspace_zone(user)
    return zone


@bp.app_template_filter("staff_time")
def staff_time(value: datetime | str | None, seconds: bool = False) -> str:
    """An instant in the staff user's zone, the zone named ("" for none)."""
    return local_time.format_local(value, staff_zone(), seconds)


@bp.app_context_processor
def _zone_name() -> dict[str, object]:
    return {"staff_zone": staff_zone}
