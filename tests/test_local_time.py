"""Staff-facing times: shown in a zone, the zone named; naive values are UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from outreach.staff.local_time import format_local, parse_utc

NEW_YORK = ZoneInfo("America/New_York")


def test_summer_and_winter_name_their_zone():
    assert format_local(datetime(2027, 6, 1, 14, 0), NEW_YORK) == "Tue 1 Jun 2027, 10:00 EDT"
    assert format_local("2027-01-05T14:00:00+00:00", NEW_YORK) == "Tue 5 Jan 2027, 09:00 EST"


def test_missing_or_unreadable_values_show_nothing():
    assert format_local(None, NEW_YORK) == "" and format_local("June", NEW_YORK) == ""


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1)))
def test_a_naive_value_is_the_same_instant_as_its_utc_twin(value):
    assert parse_utc(value) == value.replace(tzinfo=UTC)
    assert parse_utc(value.isoformat()) == value.replace(tzinfo=UTC)
    shown = format_local(value, NEW_YORK)
    assert shown.endswith((" EDT", " EST"))
    local = value.replace(tzinfo=UTC).astimezone(NEW_YORK)
    assert f"{local:%H:%M}" in shown and str(local.year) in shown
    assert abs(local.utcoffset()) <= timedelta(hours=5)
