"""Delivery windows in the recipient's local time, correct across DST changes.

Pure functions: no Flask, no database. A :class:`Window` is a wall-clock range in the
recipient's zone; a send is allowed when ``start <= local time < end``.

* SMS quiet hours: 08:00-21:00 local (TCPA, 47 CFR 64.1200(c)(1)), stricter in some states
  (Florida Telephone Solicitation Act and Washington RCW 80.36.390: 08:00-20:00). The state is
  decided from the US area code; Oklahoma and Maryland keep the federal hours.
* Times are ``zoneinfo`` (IANA, ``tzdata``) zones; every instant in and out is aware UTC.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import phonenumbers
from phonenumbers.timezone import time_zones_for_number

__all__ = [
    "AREA_CODE_STATE",
    "SMS_DEFAULT",
    "STATE_WINDOWS",
    "Window",
    "common_zones",
    "is_open",
    "is_valid_timezone",
    "local_to_utc",
    "next_open",
    "sms_window_for",
    "state_for_phone",
    "timezone_for_phone",
    "GENERIC_ZONES",
    "choose_timezone",
    "is_specific_timezone",
    "sms_open_at",
    "zone_or",
    "parse_hhmm",
]


def _wall(value: time) -> time:
    """The wall-clock part of a time (drops tzinfo and fold) for comparisons."""
    return value.replace(tzinfo=None, fold=0)


@dataclass(frozen=True)
class Window:
    """Allowed local wall-clock range: open when ``start <= local time < end``.

    Both ends are naive ``datetime.time`` values and ``start < end`` (a window never wraps
    past midnight).
    """

    start: time
    end: time

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if not isinstance(value, time):
                raise TypeError(f"Window.{name} must be a datetime.time, not {type(value)!r}")
            if value.tzinfo is not None:
                raise ValueError(f"Window.{name} must be a naive wall-clock time")
        if not _wall(self.start) < _wall(self.end):
            raise ValueError(f"Window start {self.start} must be before end {self.end}")

    def contains(self, local: time) -> bool:
        """Whether the local wall-clock time ``local`` falls inside the window."""
        return _wall(self.start) <= _wall(local) < _wall(self.end)


#: Federal SMS hours: 08:00-21:00 at the recipient's location. 47 CFR 64.1200(c)(1).
SMS_DEFAULT = Window(time(8), time(21))

#: Stricter state hours (USPS code -> window). States not listed use ``SMS_DEFAULT``.
STATE_WINDOWS: dict[str, Window] = {
    "FL": Window(time(8), time(20)),  # Florida Telephone Solicitation Act, Fla. Stat. 501.059
    "WA": Window(time(8), time(20)),  # RCW 80.36.390
    "OK": SMS_DEFAULT,  # Oklahoma Telephone Solicitation Act: 08:00-21:00
    "MD": SMS_DEFAULT,  # Maryland Stop the Spam Calls Act: 08:00-21:00
}

#: NANP area code -> state, for the states in ``STATE_WINDOWS`` (overlays included).
AREA_CODE_STATE: dict[str, str] = {
    **dict.fromkeys(
        (
            "239", "305", "321", "324", "352", "386", "407", "448", "561", "645", "656",
            "689", "727", "728", "754", "772", "786", "813", "850", "863", "904", "941",
            "954",
        ),
        "FL",
    ),
    **dict.fromkeys(("206", "253", "360", "425", "509", "564"), "WA"),
    **dict.fromkeys(("405", "539", "572", "580", "918"), "OK"),
    **dict.fromkeys(("227", "240", "301", "410", "443", "667"), "MD"),
}  # fmt: skip

#: Old spellings that libphonenumber still returns -> current IANA names.
_RENAMED = {
    "Africa/Asmera": "Africa/Asmara",
    "America/Buenos_Aires": "America/Argentina/Buenos_Aires",
    "America/Godthab": "America/Nuuk",
    "Asia/Calcutta": "Asia/Kolkata",
    "Asia/Katmandu": "Asia/Kathmandu",
    "Asia/Rangoon": "Asia/Yangon",
    "Asia/Saigon": "Asia/Ho_Chi_Minh",
    "Atlantic/Faeroe": "Atlantic/Faroe",
    "Pacific/Enderbury": "Pacific/Kanton",
    "Pacific/Ponape": "Pacific/Pohnpei",
    "Pacific/Truk": "Pacific/Chuuk",
}

# How far ahead next_open looks; any window is open at least once in this span.
_HORIZON_DAYS = 4
# Sampling step when looking for UTC-offset transitions (tzdata never has two within this).
_TRANSITION_STEP = timedelta(minutes=30)


@functools.lru_cache(maxsize=512)
def _zone_or_none(name: str) -> ZoneInfo | None:
    if not name or name != name.strip() or "\x00" in name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError, TypeError):
        return None


def _zone(tz: str) -> ZoneInfo:
    zone = _zone_or_none(tz) if isinstance(tz, str) else None
    if zone is None:
        raise ValueError(f"unknown time zone {tz!r}")
    return zone


def _utc(instant: datetime, name: str = "now_utc") -> datetime:
    if not isinstance(instant, datetime):
        raise TypeError(f"{name} must be a datetime, not {type(instant)!r}")
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return instant.astimezone(UTC)


def is_valid_timezone(name: str | None) -> bool:
    """Whether ``name`` is an IANA zone that ``zoneinfo`` can load. Never raises."""
    try:
        return isinstance(name, str) and _zone_or_none(name) is not None
    except Exception:  # noqa: BLE001 - a validity check must never raise
        return False


def is_open(now_utc: datetime, tz: str, window: Window) -> bool:
    """Whether ``window`` is open at the aware instant ``now_utc`` in zone ``tz``.

    Raises ValueError for an unknown zone or a naive datetime.
    """
    local = _utc(now_utc).astimezone(_zone(tz))
    return window.contains(local.time())


def local_to_utc(day: date, at: time, tz: str) -> datetime:
    """The aware UTC instant of wall-clock ``at`` on ``day`` in zone ``tz``.

    A time that does not exist (spring-forward gap) moves forward by the length of the gap
    (02:30 on a 02:00->03:00 day is 03:30); an ambiguous time (fall-back) takes the first
    occurrence (``fold=0``). Raises ValueError for an unknown zone.
    """
    zone = _zone(tz)
    if isinstance(day, datetime):
        day = day.date()
    naive = datetime.combine(day, _wall(at))
    # PEP 495: with fold=0 a gap time is read with the offset from before the transition,
    # which lands after the gap; an ambiguous time with the earlier (first) offset.
    return naive.replace(tzinfo=zone, fold=0).astimezone(UTC)


def _offset_at(zone: ZoneInfo, seconds: int) -> timedelta | None:
    return datetime.fromtimestamp(seconds, UTC).astimezone(zone).utcoffset()


def _transitions(zone: ZoneInfo, start: datetime, stop: datetime) -> list[datetime]:
    """UTC instants in ``(start, stop]`` where the zone's UTC offset changes, in order.

    Transitions in tzdata fall on whole seconds; each is found by bisection to the second.
    """
    found = []
    left = start
    left_offset = left.astimezone(zone).utcoffset()
    while left < stop:
        right = min(left + _TRANSITION_STEP, stop)
        right_offset = right.astimezone(zone).utcoffset()
        if right_offset != left_offset:
            lo, hi = math.floor(left.timestamp()), math.ceil(right.timestamp())
            while hi - lo > 1:  # offset(lo) == left_offset != offset(hi)
                mid = (lo + hi) // 2
                if _offset_at(zone, mid) == left_offset:
                    lo = mid
                else:
                    hi = mid
            found.append(datetime.fromtimestamp(hi, UTC))
        left, left_offset = right, right_offset
    return found


def next_open(now_utc: datetime, tz: str, window: Window) -> datetime:
    """The earliest aware UTC instant at or after ``now_utc`` when ``window`` is open in ``tz``.

    ``now_utc`` itself (in UTC) when the window is open; otherwise the next window start in
    that zone. If the start falls in a spring-forward gap the window opens at the end of the
    gap; on a fall-back day an ambiguous start counts from its first occurrence (and a second
    occurrence still counts when the first has passed). Raises ValueError for an unknown
    zone or a naive datetime.
    """
    now = _utc(now_utc)
    zone = _zone(tz)
    if window.contains(now.astimezone(zone).time()):
        return now
    today = now.astimezone(zone).date()
    candidates = []
    for offset in range(-1, _HORIZON_DAYS + 1):
        naive = datetime.combine(today + timedelta(days=offset), _wall(window.start))
        for fold in (0, 1):
            candidates.append(naive.replace(tzinfo=zone, fold=fold).astimezone(UTC))
    best = min(
        (c for c in candidates if c > now and window.contains(c.astimezone(zone).time())),
        default=None,
    )
    # A clock change can also jump straight into the window (the end of a gap, or a fall-back
    # landing inside it) before the next wall-clock start.
    limit = best or now + timedelta(days=_HORIZON_DAYS)
    for moment in _transitions(zone, now, limit):
        if window.contains(moment.astimezone(zone).time()):
            best = moment if best is None else min(best, moment)
            break
    if best is None:  # pragma: no cover - a non-empty window always opens within the horizon
        raise RuntimeError(f"window {window} never opens in {tz!r}")
    return best


def _parse(phone_e164: str | None) -> phonenumbers.PhoneNumber | None:
    if not isinstance(phone_e164, str) or not phone_e164.strip() or len(phone_e164) > 64:
        return None
    try:
        return phonenumbers.parse(phone_e164, None)
    except Exception:  # noqa: BLE001 - phonenumbers raises NumberParseException and others
        return None


#: A stored (normalised) North American number: the area code is characters 2-4.
_NANP_E164 = re.compile(r"\+1[0-9]{10}")


def state_for_phone(phone_e164: str | None) -> str | None:
    """The state (USPS code) in ``AREA_CODE_STATE`` for a +1 number's area code, else None."""
    if isinstance(phone_e164, str) and _NANP_E164.fullmatch(phone_e164):
        return AREA_CODE_STATE.get(phone_e164[2:5])  # every texted number: no full parse
    number = _parse(phone_e164)
    if number is None or number.country_code != 1:
        return None
    national = str(number.national_number or "")
    if len(national) != 10:
        return None
    return AREA_CODE_STATE.get(national[:3])


def sms_window_for(phone_e164: str | None) -> Window:
    """The SMS window for a recipient: the state's stricter hours, else ``SMS_DEFAULT``.

    Decided from the US area code (Florida and Washington 08:00-20:00); non-US, unparsable
    or missing numbers get the federal default.
    """
    state = state_for_phone(phone_e164)
    return STATE_WINDOWS.get(state, SMS_DEFAULT) if state else SMS_DEFAULT


def timezone_for_phone(phone_e164: str) -> str | None:
    """The one IANA zone a phone number's prefix maps to, or None.

    Uses ``phonenumbers.timezone.time_zones_for_number`` (old spellings such as
    "Asia/Calcutta" become current names, "Asia/Kolkata"); None when the number does not
    parse, is unknown, or maps to several different zones. Never raises.
    """
    number = _parse(phone_e164)
    if number is None:
        return None
    try:
        found = time_zones_for_number(number)
    except Exception:  # noqa: BLE001
        return None
    zones = set()
    for name in found:
        if name and name != "Etc/Unknown":
            renamed = _RENAMED.get(name, name)
            zones.add(renamed if is_valid_timezone(renamed) else name)
    if len(zones) != 1:
        return None
    (zone,) = zones
    return zone if is_valid_timezone(zone) else None


@functools.lru_cache(maxsize=1)
def _common_zones() -> tuple[str, ...]:
    areas = (
        "Africa/", "America/", "Antarctica/", "Asia/", "Atlantic/", "Australia/", "Europe/",
        "Indian/", "Pacific/",
    )  # fmt: skip
    zones = {z for z in available_timezones() if z.startswith(areas)}
    return tuple(sorted(zones | {"UTC"}))


def common_zones() -> list[str]:
    """Sorted IANA zone names to offer in a picker (region/city names plus "UTC")."""
    return list(_common_zones())


#: Zones a browser (or a spreadsheet) reports when the real one is hidden or unknown.
GENERIC_ZONES = frozenset({"UTC", "UCT", "GMT", "Greenwich", "Universal", "Zulu"})


def is_specific_timezone(name: str | None) -> bool:
    """A valid zone that names a place (not UTC, GMT or an ``Etc/`` offset)."""
    if not name or len(name) > 64 or not is_valid_timezone(name):
        return False
    return name not in GENERIC_ZONES and not name.startswith("Etc/")


def choose_timezone(given: str | None, phone: str | None, default: str) -> str:
    """A new subscriber's zone: the one given (form, file or API) when it names a place,
    else the zone of their mobile number's area code, else the audience's default.

    A generic zone (UTC, Etc/...) usually means the real one is unknown, so it counts as
    missing: a text at 08:00 UTC is 03:00 in New York.
    """
    if is_specific_timezone(given):
        return given  # type: ignore[return-value]
    return (timezone_for_phone(phone) if phone else None) or default


def zone_or(tz: str | None, default: str) -> str:
    """The zone to send in: the subscriber's if valid, else the audience's default."""
    return tz if is_valid_timezone(tz) else default  # type: ignore[return-value]


def sms_open_at(
    start: datetime,
    tz: str,
    phone: str | None,
    window: Window | None = None,
    *,
    span: timedelta = timedelta(0),
    opening: Callable[[datetime, str, Window], datetime] | None = None,
) -> datetime:
    """The first instant from ``start`` when a text may go out (and ``span`` later still be
    inside the window), in the subscriber's zone and, where a state's stricter hours apply
    to the number, in the zone of its area code too (a Miami number stays inside Florida's
    hours even if its owner picked another zone). ``opening`` may be a cached ``next_open``."""
    window = window or sms_window_for(phone)
    opening = opening or next_open
    zones = [tz]
    if phone and window != SMS_DEFAULT:  # a state rule is tied to the number
        phone_zone = timezone_for_phone(phone)
        if phone_zone and phone_zone != tz:
            zones.append(phone_zone)
    when = start
    for _ in range(6):  # converges in one or two rounds; bounded all the same
        moved = when
        for zone in zones:
            moved = max(moved, opening(moved, zone, window))
            if span and not is_open(moved + span, zone, window):
                moved = max(moved, next_open(moved + span, zone, window))
        if moved == when:
            break
        when = moved
    return when


def parse_hhmm(value: str) -> time:
    """Parse "HH:MM" (24-hour) into a time, or raise ValueError."""
    hours, _, minutes = (value or "").strip().partition(":")
    if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        raise ValueError(f"{value!r} is not a time like 10:00")
    return time(int(hours), int(minutes))
