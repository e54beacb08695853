"""The time-zone picker on public pages: the common zones of the subscriber's country first,
by friendly name, then every other zone (region/city names only: no deprecated aliases such
as US/Eastern). The country comes from the zone they have, by tzdata's zone.tab."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources

from outreach.campaigns import windows

#: A clinic's US subscribers mostly live in these; tzdata lists 29 US zones (Indiana ...).
US_COMMON: tuple[tuple[str, str], ...] = (
    ("America/New_York", "Eastern time (New York)"),
    ("America/Chicago", "Central time (Chicago)"),
    ("America/Denver", "Mountain time (Denver)"),
    ("America/Phoenix", "Arizona (Phoenix, no daylight saving)"),
    ("America/Los_Angeles", "Pacific time (Los Angeles)"),
    ("America/Anchorage", "Alaska (Anchorage)"),
    ("Pacific/Honolulu", "Hawaii (Honolulu)"),
    ("America/Puerto_Rico", "Atlantic time (Puerto Rico)"),
)


@dataclass(frozen=True)
class ZoneGroup:
    """One ``<optgroup>``: a label and (zone, friendly name) pairs."""

    label: str
    zones: list[tuple[str, str]]


@functools.lru_cache(maxsize=1)
def _zone_countries() -> dict[str, str]:
    """zone -> ISO country code, from tzdata's zone.tab."""
    text = resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text("utf-8")
    found: dict[str, str] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            country, _, zone, *_ = line.split("\t")
            found[zone] = country
    return found


def country_of(zone: str | None) -> str | None:
    """The ISO country code of a zone (None for UTC, offsets and unknown names)."""
    return _zone_countries().get(zone or "")


def friendly(zone: str) -> str:
    """``America/Argentina/Buenos_Aires`` -> ``Buenos Aires (America/Argentina)``."""
    region, _, city = zone.rpartition("/")
    return f"{city.replace('_', ' ')} ({region.replace('_', ' ')})" if region else zone


def zone_groups(current: str | None, fallback_country: str = "US") -> list[ZoneGroup]:
    """The picker's groups: the common zones of ``current``'s country (else
    ``fallback_country``'s), then all the others. ``current`` is always offered."""
    every = windows.common_zones()
    country = country_of(current) or fallback_country
    if country == "US":
        first = list(US_COMMON)
    else:
        zones = sorted(z for z, c in _zone_countries().items() if c == country and z in every)
        first = [(z, friendly(z)) for z in zones]
    shown = {z for z, _ in first}
    if current and current not in shown and windows.is_valid_timezone(current):
        first.insert(0, (current, friendly(current)))
        shown.add(current)
    rest = [(z, friendly(z) if "/" in z else z) for z in every if z not in shown]
    return [ZoneGroup("common", first), ZoneGroup("all", rest)]
