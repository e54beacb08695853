"""Delivery windows in recipient local time: quiet hours, state rules, DST, zone lookups."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outreach.campaigns.windows import (
    AREA_CODE_STATE,
    SMS_DEFAULT,
    STATE_WINDOWS,
    Window,
    common_zones,
    is_open,
    is_valid_timezone,
    local_to_utc,
    next_open,
    sms_window_for,
    state_for_phone,
    timezone_for_phone,
)

NY = "America/New_York"
HONOLULU = "Pacific/Honolulu"
KOLKATA = "Asia/Kolkata"
LORD_HOWE = "Australia/Lord_Howe"
LA = "America/Los_Angeles"
CHICAGO = "America/Chicago"
FL_WINDOW = Window(time(8), time(20))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def wall(tz: str, *args: int, fold: int = 0) -> datetime:
    """A local wall-clock moment as aware UTC, computed with zoneinfo directly."""
    return datetime(*args, tzinfo=ZoneInfo(tz), fold=fold).astimezone(UTC)


# --- the zone facts the tables below rely on -----------------------------------------------------


@pytest.mark.parametrize(
    ("tz", "local", "offset_hours"),
    [
        (NY, datetime(2027, 3, 13, 12), -5),  # EST the day before spring-forward
        (NY, datetime(2027, 3, 14, 12), -4),  # EDT from 2027-03-14 02:00
        (NY, datetime(2027, 11, 6, 12), -4),
        (NY, datetime(2027, 11, 7, 12), -5),  # EST from 2027-11-07 02:00
        (HONOLULU, datetime(2027, 7, 1, 12), -10),
        (HONOLULU, datetime(2027, 1, 1, 12), -10),
        (KOLKATA, datetime(2027, 1, 1, 12), 5.5),
        (LORD_HOWE, datetime(2027, 4, 3, 12), 11),  # daylight time until 2027-04-04 02:00
        (LORD_HOWE, datetime(2027, 4, 4, 12), 10.5),
        (LORD_HOWE, datetime(2027, 10, 2, 12), 10.5),
        (LORD_HOWE, datetime(2027, 10, 3, 12), 11),  # 02:00 -> 02:30 on 2027-10-03
    ],
)
def test_tzdata_offsets_assumed_by_these_tests(tz, local, offset_hours):
    assert local.replace(tzinfo=ZoneInfo(tz)).utcoffset() == timedelta(hours=offset_hours)


# --- Window --------------------------------------------------------------------------------------


def test_sms_default_is_the_tcpa_window():
    assert Window(time(8), time(21)) == SMS_DEFAULT


@pytest.mark.parametrize(
    ("start", "end"),
    [(time(21), time(8)), (time(8), time(8)), (time(23, 59), time(0)), (time(9, 30), time(9))],
)
def test_window_start_must_precede_end(start, end):
    with pytest.raises(ValueError):
        Window(start, end)


def test_window_rejects_aware_times_and_non_times():
    with pytest.raises(ValueError):
        Window(time(8, tzinfo=UTC), time(21))
    with pytest.raises(TypeError):
        Window("08:00", time(21))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Window(time(8), datetime(2027, 1, 1, 21))  # type: ignore[arg-type]


def test_window_is_frozen_and_hashable():
    with pytest.raises(AttributeError):
        SMS_DEFAULT.start = time(7)  # type: ignore[misc]
    assert {SMS_DEFAULT, Window(time(8), time(21))} == {SMS_DEFAULT}


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        (time(0), False),
        (time(7, 59, 59, 999999), False),
        (time(8), True),
        (time(12), True),
        (time(20, 59, 59, 999999), True),
        (time(21), False),
        (time(23, 59), False),
        (time(8, fold=1), True),
    ],
)
def test_window_contains_is_half_open(local, expected):
    assert SMS_DEFAULT.contains(local) is expected


# --- is_open -------------------------------------------------------------------------------------

IS_OPEN = [
    # New York, an ordinary summer day (EDT, UTC-4).
    (NY, utc(2027, 6, 15, 11, 59), False),  # 07:59
    (NY, utc(2027, 6, 15, 12, 0), True),  # 08:00
    (NY, utc(2027, 6, 16, 0, 59), True),  # 20:59
    (NY, utc(2027, 6, 16, 1, 0), False),  # 21:00
    # The day before spring-forward (EST, UTC-5).
    (NY, utc(2027, 3, 13, 12, 59), False),  # 07:59 EST
    (NY, utc(2027, 3, 13, 13, 0), True),  # 08:00 EST
    (NY, utc(2027, 3, 14, 1, 59), True),  # 20:59 EST
    (NY, utc(2027, 3, 14, 2, 0), False),  # 21:00 EST
    # Spring-forward day 2027-03-14 (EDT from 02:00): 08:00 is an hour earlier in UTC.
    (NY, utc(2027, 3, 14, 11, 59), False),  # 07:59 EDT
    (NY, utc(2027, 3, 14, 12, 0), True),  # 08:00 EDT
    (NY, utc(2027, 3, 14, 12, 30), True),
    (NY, utc(2027, 3, 15, 0, 59), True),  # 20:59 EDT
    (NY, utc(2027, 3, 15, 1, 0), False),  # 21:00 EDT
    (NY, utc(2027, 3, 14, 7, 30), False),  # 03:30 EDT, just after the gap
    # Fall-back day 2027-11-07 (EST from 02:00): 08:00 is an hour later in UTC.
    (NY, utc(2027, 11, 7, 12, 0), False),  # 07:00 EST (would be 08:00 EDT)
    (NY, utc(2027, 11, 7, 12, 59), False),  # 07:59 EST
    (NY, utc(2027, 11, 7, 13, 0), True),  # 08:00 EST
    (NY, utc(2027, 11, 8, 1, 59), True),  # 20:59 EST
    (NY, utc(2027, 11, 8, 2, 0), False),  # 21:00 EST
    (NY, utc(2027, 11, 7, 5, 30), False),  # 01:30 EDT (first occurrence)
    (NY, utc(2027, 11, 7, 6, 30), False),  # 01:30 EST (second occurrence)
    # Honolulu, UTC-10 all year.
    (HONOLULU, utc(2027, 1, 15, 17, 59), False),  # 07:59
    (HONOLULU, utc(2027, 1, 15, 18, 0), True),  # 08:00
    (HONOLULU, utc(2027, 7, 16, 6, 59), True),  # 20:59
    (HONOLULU, utc(2027, 7, 16, 7, 0), False),  # 21:00
    # Kolkata, UTC+05:30.
    (KOLKATA, utc(2027, 1, 15, 2, 29), False),  # 07:59
    (KOLKATA, utc(2027, 1, 15, 2, 30), True),  # 08:00
    (KOLKATA, utc(2027, 1, 15, 15, 29), True),  # 20:59
    (KOLKATA, utc(2027, 1, 15, 15, 30), False),  # 21:00
    # Lord Howe: +10:30 standard, +11:00 daylight (a 30-minute shift).
    (LORD_HOWE, utc(2027, 10, 1, 21, 29), False),  # 2027-10-02 07:59 +10:30
    (LORD_HOWE, utc(2027, 10, 1, 21, 30), True),  # 2027-10-02 08:00 +10:30
    (LORD_HOWE, utc(2027, 10, 2, 20, 59), False),  # 2027-10-03 07:59 +11:00
    (LORD_HOWE, utc(2027, 10, 2, 21, 0), True),  # 2027-10-03 08:00 +11:00
    (LORD_HOWE, utc(2027, 10, 3, 9, 59), True),  # 2027-10-03 20:59 +11:00
    (LORD_HOWE, utc(2027, 10, 3, 10, 0), False),  # 2027-10-03 21:00 +11:00
    (LORD_HOWE, utc(2027, 4, 3, 20, 59), False),  # 2027-04-04 07:29 +10:30
    (LORD_HOWE, utc(2027, 4, 3, 21, 29), False),  # 2027-04-04 07:59 +10:30
    (LORD_HOWE, utc(2027, 4, 3, 21, 30), True),  # 2027-04-04 08:00 +10:30
]


@pytest.mark.parametrize(("tz", "now", "expected"), IS_OPEN)
def test_is_open_default_sms_window(tz, now, expected):
    assert is_open(now, tz, SMS_DEFAULT) is expected


def test_is_open_accepts_any_aware_datetime():
    in_new_york = datetime(2027, 6, 15, 8, 0, tzinfo=ZoneInfo(NY))
    in_kolkata = in_new_york.astimezone(ZoneInfo(KOLKATA))
    assert is_open(in_new_york, NY, SMS_DEFAULT)
    assert is_open(in_kolkata, NY, SMS_DEFAULT)
    # The same instant is 17:30 in Kolkata.
    assert is_open(in_new_york, KOLKATA, Window(time(17, 30), time(18)))
    assert not is_open(in_new_york, KOLKATA, Window(time(8), time(17, 30)))
    assert not is_open(in_kolkata, NY, Window(time(8, 1), time(9)))


@pytest.mark.parametrize("tz", ["Mars/Olympus_Mons", "", "new_york", "../../etc/passwd", "EST5"])
def test_unknown_zones_raise_value_error(tz):
    now = utc(2027, 6, 15, 12)
    with pytest.raises(ValueError):
        is_open(now, tz, SMS_DEFAULT)
    with pytest.raises(ValueError):
        next_open(now, tz, SMS_DEFAULT)
    with pytest.raises(ValueError):
        local_to_utc(date(2027, 6, 15), time(8), tz)


def test_naive_datetimes_raise_value_error():
    with pytest.raises(ValueError):
        is_open(datetime(2027, 6, 15, 12), NY, SMS_DEFAULT)
    with pytest.raises(ValueError):
        next_open(datetime(2027, 6, 15, 12), NY, SMS_DEFAULT)


# --- state windows -------------------------------------------------------------------------------


def test_state_tables():
    assert STATE_WINDOWS["FL"] == FL_WINDOW
    assert STATE_WINDOWS["WA"] == FL_WINDOW
    assert STATE_WINDOWS.get("OK", SMS_DEFAULT) == SMS_DEFAULT
    assert STATE_WINDOWS.get("MD", SMS_DEFAULT) == SMS_DEFAULT
    for code, state in AREA_CODE_STATE.items():
        assert len(code) == 3 and code.isdigit() and code[0] in "23456789"
        assert state in STATE_WINDOWS
    for code in ("305", "786", "407", "813", "904", "954", "850", "239"):
        assert AREA_CODE_STATE[code] == "FL"
    for code in ("206", "253", "360", "425", "509", "564"):
        assert AREA_CODE_STATE[code] == "WA"
    for code in ("212", "808", "213", "312", "514"):
        assert code not in AREA_CODE_STATE


@pytest.mark.parametrize(
    ("phone", "window"),
    [
        ("+13055550100", FL_WINDOW),  # Miami
        ("+1 305 555 0100", FL_WINDOW),
        ("+1 (786) 555-0100", FL_WINDOW),
        ("+14075550100", FL_WINDOW),  # Orlando
        ("+18135550100", FL_WINDOW),  # Tampa
        ("+18505550100", FL_WINDOW),  # Tallahassee (Central time in the west)
        ("+12065550100", FL_WINDOW),  # Seattle
        ("+15095550100", FL_WINDOW),  # Spokane
        ("+14055550100", SMS_DEFAULT),  # Oklahoma City
        ("+14105550100", SMS_DEFAULT),  # Baltimore
        ("+12125550100", SMS_DEFAULT),  # New York
        ("+18085550100", SMS_DEFAULT),  # Honolulu
        ("+15145550100", SMS_DEFAULT),  # Montreal, +1 but not US
        ("+447911123456", SMS_DEFAULT),
        ("+918041234567", SMS_DEFAULT),
        ("+3055550100", SMS_DEFAULT),  # +30 is Greece, not area code 305
        ("3055550100", SMS_DEFAULT),  # not E.164: no country, no state
        ("", SMS_DEFAULT),
        ("garbage", SMS_DEFAULT),
        (None, SMS_DEFAULT),
    ],
)
def test_sms_window_for(phone, window):
    assert sms_window_for(phone) == window


@pytest.mark.parametrize("code", sorted(c for c, s in AREA_CODE_STATE.items() if s in "FLWA"))
def test_every_florida_and_washington_area_code_gets_the_stricter_window(code):
    assert sms_window_for(f"+1{code}5550123") == FL_WINDOW


@pytest.mark.parametrize(
    ("phone", "tz", "now", "expected"),
    [
        # 20:30 local: closed in Florida and Washington, open under the federal default.
        ("+13055550100", NY, wall(NY, 2027, 7, 1, 20, 30), False),
        ("+13055550100", NY, wall(NY, 2027, 12, 1, 20, 30), False),
        ("+13055550100", NY, wall(NY, 2027, 7, 1, 19, 59), True),
        ("+13055550100", NY, wall(NY, 2027, 7, 1, 8, 0), True),
        ("+13055550100", NY, wall(NY, 2027, 7, 1, 7, 59), False),
        ("+12065550100", LA, wall(LA, 2027, 7, 1, 20, 30), False),
        ("+12065550100", LA, wall(LA, 2027, 12, 1, 20, 30), False),
        ("+12065550100", LA, wall(LA, 2027, 7, 1, 19, 59), True),
        ("+14055550100", CHICAGO, wall(CHICAGO, 2027, 7, 1, 20, 30), True),
        ("+14105550100", NY, wall(NY, 2027, 7, 1, 20, 30), True),
        ("+12125550100", NY, wall(NY, 2027, 7, 1, 20, 30), True),
        ("+12125550100", NY, wall(NY, 2027, 7, 1, 21, 0), False),
    ],
)  # fmt: skip
def test_state_window_at_local_time(phone, tz, now, expected):
    assert is_open(now, tz, sms_window_for(phone)) is expected


def test_florida_number_at_2030_local_waits_for_next_morning():
    now = wall(NY, 2027, 7, 1, 20, 30)
    assert next_open(now, NY, sms_window_for("+13055550100")) == wall(NY, 2027, 7, 2, 8, 0)
    assert next_open(now, NY, sms_window_for("+12125550100")) == now


# --- next_open -----------------------------------------------------------------------------------

NEXT_OPEN = [
    # Open: now itself.
    (NY, SMS_DEFAULT, utc(2027, 6, 15, 12, 0), utc(2027, 6, 15, 12, 0)),
    (NY, SMS_DEFAULT, utc(2027, 6, 15, 20, 17, 3, 5), utc(2027, 6, 15, 20, 17, 3, 5)),
    # Before the window: 08:00 the same day.
    (NY, SMS_DEFAULT, utc(2027, 6, 15, 11, 59), utc(2027, 6, 15, 12, 0)),
    (NY, SMS_DEFAULT, utc(2027, 6, 15, 4, 0), utc(2027, 6, 15, 12, 0)),
    # After the window: 08:00 the next day.
    (NY, SMS_DEFAULT, utc(2027, 6, 16, 1, 0), utc(2027, 6, 16, 12, 0)),
    (NY, SMS_DEFAULT, utc(2027, 6, 16, 3, 59), utc(2027, 6, 16, 12, 0)),
    # Over spring-forward: 21:00 EST -> 08:00 EDT is 10 wall hours but only 10 real hours...
    (NY, SMS_DEFAULT, utc(2027, 3, 14, 2, 0), utc(2027, 3, 14, 12, 0)),
    # ...and from 23:00 EST it is 8 real hours, not 9.
    (NY, SMS_DEFAULT, utc(2027, 3, 14, 4, 0), utc(2027, 3, 14, 12, 0)),
    # Over fall-back: 21:00 EDT -> 08:00 EST is 12 real hours.
    (NY, SMS_DEFAULT, utc(2027, 11, 7, 1, 0), utc(2027, 11, 7, 13, 0)),
    (NY, SMS_DEFAULT, utc(2027, 11, 7, 12, 0), utc(2027, 11, 7, 13, 0)),  # 07:00 EST
    # Honolulu and Kolkata.
    (HONOLULU, SMS_DEFAULT, utc(2027, 1, 15, 7, 0), utc(2027, 1, 15, 18, 0)),
    (HONOLULU, SMS_DEFAULT, utc(2027, 1, 15, 17, 59), utc(2027, 1, 15, 18, 0)),
    (KOLKATA, SMS_DEFAULT, utc(2027, 1, 15, 15, 30), utc(2027, 1, 16, 2, 30)),
    (KOLKATA, SMS_DEFAULT, utc(2027, 1, 15, 0, 0), utc(2027, 1, 15, 2, 30)),
    # Lord Howe, 30-minute shifts: into daylight time (+11:00) and out of it (+10:30).
    (LORD_HOWE, SMS_DEFAULT, utc(2027, 10, 2, 10, 30), utc(2027, 10, 2, 21, 0)),
    (LORD_HOWE, SMS_DEFAULT, utc(2027, 4, 3, 10, 0), utc(2027, 4, 3, 21, 30)),
    # Florida window.
    (NY, FL_WINDOW, utc(2027, 7, 2, 0, 0), utc(2027, 7, 2, 12, 0)),  # 20:00 EDT
]


@pytest.mark.parametrize(("tz", "window", "now", "expected"), NEXT_OPEN)
def test_next_open(tz, window, now, expected):
    got = next_open(now, tz, window)
    assert got == expected
    assert got.utcoffset() == timedelta(0)
    assert is_open(got, tz, window)


@pytest.mark.parametrize(
    ("tz", "window", "now", "expected"),
    [
        # Start 02:30 does not exist on 2027-03-14 in New York: it opens when the gap ends (03:00).
        (NY, Window(time(2, 30), time(4)), utc(2027, 3, 14, 6, 0), wall(NY, 2027, 3, 14, 3, 0)),
        # Lord Howe's 30-minute gap 02:00 -> 02:30 on 2027-10-03.
        (LORD_HOWE, Window(time(2, 15), time(3)), utc(2027, 10, 2, 12), utc(2027, 10, 2, 15, 30)),
        # Fall-back: 01:30-01:45 happens twice; after the first, the second occurrence counts.
        (NY, Window(time(1, 30), time(1, 45)), utc(2027, 11, 7, 5, 50), utc(2027, 11, 7, 6, 30)),
        # Fall-back landing inside the window: 01:59 EDT -> 01:00 EST, open at that instant.
        (NY, Window(time(0, 30), time(1, 30)), utc(2027, 11, 7, 5, 50), utc(2027, 11, 7, 6, 0)),
        # Lord Howe fall-back 02:00 -> 01:30 on 2027-04-04: 01:30-01:40 happens twice.
        (
            LORD_HOWE,
            Window(time(1, 30), time(1, 40)),
            utc(2027, 4, 3, 14, 45),
            utc(2027, 4, 3, 15, 0),
        ),
    ],
)
def test_next_open_across_clock_changes(tz, window, now, expected):
    assert not is_open(now, tz, window)
    got = next_open(now, tz, window)
    assert got == expected
    assert is_open(got, tz, window)
    assert not is_open(got - timedelta(seconds=1), tz, window)


def test_next_open_returns_utc_even_for_non_utc_input():
    now = datetime(2027, 6, 15, 22, 0, tzinfo=ZoneInfo(NY))
    got = next_open(now, NY, SMS_DEFAULT)
    assert got == wall(NY, 2027, 6, 16, 8, 0)
    assert got.tzinfo is not None and got.utcoffset() == timedelta(0)


# --- local_to_utc --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "at", "tz", "expected"),
    [
        (date(2027, 6, 15), time(8), NY, utc(2027, 6, 15, 12)),
        (date(2027, 1, 15), time(8), NY, utc(2027, 1, 15, 13)),
        (date(2027, 3, 14), time(1, 59), NY, utc(2027, 3, 14, 6, 59)),  # last EST minute
        (date(2027, 3, 14), time(3), NY, utc(2027, 3, 14, 7)),  # first EDT minute
        (date(2027, 3, 14), time(8), NY, utc(2027, 3, 14, 12)),
        (date(2027, 11, 7), time(8), NY, utc(2027, 11, 7, 13)),
        (date(2027, 1, 15), time(8), HONOLULU, utc(2027, 1, 15, 18)),
        (date(2027, 1, 15), time(8), KOLKATA, utc(2027, 1, 15, 2, 30)),
        (date(2027, 1, 1), time(0), KOLKATA, utc(2026, 12, 31, 18, 30)),
        (date(2027, 10, 3), time(8), LORD_HOWE, utc(2027, 10, 2, 21)),
        (date(2027, 10, 2), time(8), LORD_HOWE, utc(2027, 10, 1, 21, 30)),
        (date(2027, 1, 15), time(8), "UTC", utc(2027, 1, 15, 8)),
    ],
)
def test_local_to_utc(day, at, tz, expected):
    got = local_to_utc(day, at, tz)
    assert got == expected
    assert got.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("day", "at", "tz", "expected", "expected_wall"),
    [
        # Spring-forward gaps move forward by the gap's length.
        (date(2027, 3, 14), time(2, 0), NY, utc(2027, 3, 14, 7, 0), time(3, 0)),
        (date(2027, 3, 14), time(2, 30), NY, utc(2027, 3, 14, 7, 30), time(3, 30)),
        (date(2027, 3, 14), time(2, 59), NY, utc(2027, 3, 14, 7, 59), time(3, 59)),
        (date(2027, 10, 3), time(2, 0), LORD_HOWE, utc(2027, 10, 2, 15, 30), time(2, 30)),
        (date(2027, 10, 3), time(2, 15), LORD_HOWE, utc(2027, 10, 2, 15, 45), time(2, 45)),
        # Fall-back ambiguity takes the first occurrence.
        (date(2027, 11, 7), time(1, 0), NY, utc(2027, 11, 7, 5, 0), time(1, 0)),
        (date(2027, 11, 7), time(1, 30), NY, utc(2027, 11, 7, 5, 30), time(1, 30)),
        (date(2027, 4, 4), time(1, 45), LORD_HOWE, utc(2027, 4, 3, 14, 45), time(1, 45)),
    ],
)
def test_local_to_utc_across_clock_changes(day, at, tz, expected, expected_wall):
    got = local_to_utc(day, at, tz)
    assert got == expected
    local = got.astimezone(ZoneInfo(tz))
    assert local.date() == day and local.time() == expected_wall


def test_ambiguous_time_is_the_earlier_instant():
    first = local_to_utc(date(2027, 11, 7), time(1, 30), NY)
    second = wall(NY, 2027, 11, 7, 1, 30, fold=1)
    assert second - first == timedelta(hours=1)
    assert local_to_utc(date(2027, 11, 7), time(1, 30, fold=1), NY) == first


# --- phone -> zone, zone validity ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("phone", "tz"),
    [
        ("+12125550100", NY),
        ("+13055550100", NY),
        ("+18085550100", HONOLULU),
        ("+12065550100", "America/Los_Angeles"),
        ("+13125550100", "America/Chicago"),
        ("+918041234567", KOLKATA),  # libphonenumber says Asia/Calcutta; the current name wins
        ("+33612345678", "Europe/Paris"),
        ("+447911123456", None),  # four candidate zones (London, Jersey, Guernsey, Man)
        ("+79161234567", None),  # Russian mobile: many zones
        ("+15555555555", None),  # invalid: Etc/Unknown
        ("12125550100", None),  # not E.164
        ("", None),
        ("garbage", None),
        ("+", None),
        ("+1" + "9" * 60, None),
        (None, None),
    ],
)
def test_timezone_for_phone(phone, tz):
    got = timezone_for_phone(phone)
    assert got == tz
    if got is not None:
        assert is_valid_timezone(got)


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        (NY, True),
        (HONOLULU, True),
        (KOLKATA, True),
        ("Asia/Calcutta", True),
        (LORD_HOWE, True),
        ("UTC", True),
        ("Europe/London", True),
        ("Mars/Olympus_Mons", False),
        ("", False),
        (" UTC", False),
        ("America/New_York\x00", False),
        ("../../etc/passwd", False),
        ("/etc/localtime", False),
        ("America/", False),
        ("x" * 10_000, False),
        (None, False),
        (42, False),
        (b"UTC", False),
    ],
)
def test_is_valid_timezone(name, valid):
    assert is_valid_timezone(name) is valid


def test_common_zones():
    zones = common_zones()
    assert zones == sorted(zones)
    assert {NY, HONOLULU, KOLKATA, LORD_HOWE, "UTC", "Europe/London"} <= set(zones)
    assert all(is_valid_timezone(z) for z in zones)
    zones.append("mutated")
    assert "mutated" not in common_zones()


# --- properties ----------------------------------------------------------------------------------

ZONES = [
    HONOLULU, NY, KOLKATA, LORD_HOWE, "America/Los_Angeles", "Europe/London",
    "America/Santiago", "Pacific/Chatham", "Asia/Tehran", "UTC",
]  # fmt: skip

instants = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
)


@st.composite
def windows(draw) -> Window:
    start = draw(st.integers(0, 21 * 60))
    length = draw(st.integers(120, 24 * 60 - 1 - start))
    return Window(time(*divmod(start, 60)), time(*divmod(start + length, 60)))


@settings(max_examples=200, deadline=None)
@given(instants, st.sampled_from(ZONES), st.one_of(st.just(SMS_DEFAULT), windows()))
def test_next_open_is_open_not_before_now_and_within_a_day(now, tz, window):
    got = next_open(now, tz, window)
    assert got.utcoffset() == timedelta(0)
    assert got >= now
    assert is_open(got, tz, window)
    assert got - now <= timedelta(hours=25)
    if is_open(now, tz, window):
        assert got == now
    else:
        # Nothing earlier was open: not the second before, nor points on the way.
        assert not is_open(got - timedelta(seconds=1), tz, window)
        for k in range(1, 8):
            assert not is_open(now + (got - now) * k / 8, tz, window)


@settings(max_examples=200, deadline=None)
@given(
    st.dates(min_value=date(2026, 1, 1), max_value=date(2028, 12, 31)),
    st.times(),
    st.sampled_from(ZONES),
)
def test_local_to_utc_round_trips_outside_gaps(day, at, tz):
    zone = ZoneInfo(tz)
    naive = datetime.combine(day, at)
    in_gap = (
        naive.replace(tzinfo=zone).astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive
    )
    got = local_to_utc(day, at, tz)
    assert got.utcoffset() == timedelta(0)
    local = got.astimezone(zone)
    if in_gap:
        assert local.replace(tzinfo=None) > naive
        assert local.replace(tzinfo=None) - naive <= timedelta(hours=1)
    else:
        assert local.date() == day and local.time() == at
        assert got <= datetime.combine(day, at, tzinfo=zone).replace(fold=1).astimezone(UTC)


SPRING_FORWARD_DAYS = [
    (date(2027, 3, 14), NY),
    (date(2027, 10, 3), LORD_HOWE),
    (date(2027, 3, 28), "Europe/London"),
    (date(2027, 9, 5), "America/Santiago"),  # 00:00 -> 01:00
    (date(2027, 9, 26), "Pacific/Chatham"),  # 02:45 -> 03:45
]


@pytest.mark.parametrize(("day", "tz"), SPRING_FORWARD_DAYS)
def test_local_to_utc_every_minute_of_a_spring_forward_day(day, tz):
    zone = ZoneInfo(tz)
    gap_minutes = 0
    previous = None
    for minute in range(24 * 60):
        at = time(*divmod(minute, 60))
        naive = datetime.combine(day, at)
        got = local_to_utc(day, at, tz)
        local = got.astimezone(zone).replace(tzinfo=None)
        exists = (
            naive.replace(tzinfo=zone).astimezone(UTC).astimezone(zone).replace(tzinfo=None)
            == naive
        )
        if exists:
            assert local == naive
        else:
            gap_minutes += 1
            assert naive < local <= naive + timedelta(hours=1)
        if exists:
            # Existing wall times keep their order; gap times are shifted by the gap's length.
            assert previous is None or got > previous
            previous = got
    assert gap_minutes in (30, 60)  # the day really has a gap (Lord Howe's is 30 minutes)


@pytest.mark.parametrize(
    ("day", "at", "tz"),
    [
        (date(2027, 3, 14), time(2, 30), NY),
        (date(2027, 10, 3), time(2, 10), LORD_HOWE),
        (date(2027, 3, 28), time(1, 30), "Europe/London"),
    ],
)
def test_gap_times_are_nonexistent_and_land_after_the_gap(day, at, tz):
    zone = ZoneInfo(tz)
    naive = datetime.combine(day, at)
    assert naive.replace(tzinfo=zone).astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive
    got = local_to_utc(day, at, tz).astimezone(zone)
    assert got.replace(tzinfo=None) > naive


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_phone_and_zone_helpers_never_raise(text):
    assert isinstance(sms_window_for(text), Window)
    assert timezone_for_phone(text) is None or is_valid_timezone(timezone_for_phone(text))
    assert isinstance(is_valid_timezone(text), bool)


@settings(max_examples=200, deadline=None)
@given(st.from_regex(r"\+1[2-9][0-9]{2}[2-9][0-9]{6}", fullmatch=True))
def test_us_numbers_get_a_window_at_most_as_long_as_the_federal_one(phone):
    window = sms_window_for(phone)
    assert window.start >= SMS_DEFAULT.start and window.end <= SMS_DEFAULT.end
    expected = STATE_WINDOWS.get(AREA_CODE_STATE.get(phone[2:5], ""), SMS_DEFAULT)
    assert window == expected


@given(st.from_regex(r"\+1[0-9]{10}", fullmatch=True))
def test_state_from_a_stored_number_matches_a_full_parse(phone):
    """Stored numbers take a shortcut (the area code is characters 2-4); it must agree
    with what phonenumbers makes of the same string."""
    import phonenumbers

    number = phonenumbers.parse(phone, None)
    national = str(number.national_number)
    expected = AREA_CODE_STATE.get(national[:3]) if len(national) == 10 else None
    assert state_for_phone(phone) == expected
