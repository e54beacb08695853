"""What an import is asked to do: column mapping, consent source and date, and which
mode (confirmed or double opt-in) follows from them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

from outreach.clock import now as clock_now
from outreach.consent import signup
from outreach.models import Audience


class ImportProblem(ValueError):
    """Bad import settings or an unreadable file; the message is shown to staff."""


@dataclass(frozen=True)
class ColumnMapping:
    """Which CSV column holds which field (None: not in the file)."""

    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    timezone: str | None = None
    language: str | None = None


@dataclass(frozen=True)
class CsvInfo:
    """What a first look at a file found."""

    encoding: str
    delimiter: str
    header: list[str]
    sample: list[list[str]]


@dataclass(frozen=True)
class ImportSettings:
    """Everything one import needs besides the file."""

    audience_id: int
    mapping: ColumnMapping
    channels: tuple[str, ...]
    consent_source: str | None = None
    consent_date: date | None = None
    actor_id: int | None = None
    filename: str = "import.csv"
    region: str = "US"
    encoding: str = "utf-8-sig"
    delimiter: str = ","


def import_mode(audience: Audience, consent_source: str | None, consent_date: date | None) -> str:
    """``"active"`` when rows may come in confirmed, else ``"pending"`` (double opt-in)."""
    allowed = signup.single_opt_in_allowed(audience)
    return "active" if (consent_source and consent_date and allowed) else "pending"


def mode_explanation(
    audience: Audience, consent_source: str | None, consent_date: date | None
) -> str:
    """One sentence telling staff what will happen to the rows."""
    if import_mode(audience, consent_source, consent_date) == "active":
        return (
            "Rows come in subscribed (single opt-in with evidence): the consent source and "
            "date are recorded in each person's consent ledger."
        )
    if consent_source and consent_date:
        return (
            f"'{audience.name}' requires double opt-in for imports, so rows come in pending "
            "and each person gets a confirmation message; only those who confirm are sent to."
        )
    return (
        "Without a consent source and date, rows come in pending and each person gets a "
        "confirmation message; only those who confirm are sent to."
    )


def parse_consent_date(raw: str | None, today: date) -> date | None:
    """``YYYY-MM-DD`` -> date (None for empty); raises ImportProblem if invalid or future."""
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        raise ImportProblem(f"consent date {raw!r} is not a date like 2026-03-31") from None
    if value > today:
        raise ImportProblem("the consent date is in the future")
    return value


def build_settings(
    audience: Audience,
    info: CsvInfo,
    mapping: ColumnMapping,
    channels: Iterable[str],
    *,
    consent_source: str | None,
    consent_date: str | date | None,
    actor_id: int | None,
    filename: str,
    region: str = "US",
) -> ImportSettings:
    """Check a mapping against a file and an audience; raises ImportProblem with the reason."""
    header = set(info.header)
    for name, column in asdict(mapping).items():
        if column and column not in header:
            raise ImportProblem(f"the file has no column {column!r} (for {name})")
    chosen = tuple(c for c in ("email", "sms") if c in set(channels))
    if not chosen:
        raise ImportProblem("choose at least one channel to import consent for")
    for channel in chosen:
        if channel not in audience.channel_list:
            raise ImportProblem(f"the audience '{audience.slug}' does not offer {channel}")
    if "email" in chosen and not mapping.email:
        raise ImportProblem("choose the column that holds email addresses")
    if "sms" in chosen and not mapping.phone:
        raise ImportProblem("choose the column that holds mobile numbers")
    source = " ".join((consent_source or "").split())[:200] or None
    when = (
        consent_date
        if isinstance(consent_date, date)
        else parse_consent_date(consent_date, clock_now().date())
    )
    if isinstance(when, date) and when > clock_now().date():
        raise ImportProblem("the consent date is in the future")
    if bool(source) != bool(when):
        raise ImportProblem(
            "give both the consent source and the consent date, or neither "
            "(then rows come in pending and get a confirmation message)"
        )
    if len(region) != 2 or not region.isalpha():
        raise ImportProblem("the phone region must be a two-letter country code like US")
    return ImportSettings(
        audience_id=audience.id,
        mapping=mapping,
        channels=chosen,
        consent_source=source,
        consent_date=when,
        actor_id=actor_id,
        filename=Path(filename).name[:120] or "import.csv",
        region=region.upper(),
        encoding=info.encoding,
        delimiter=info.delimiter,
    )


def settings_to_json(settings: ImportSettings) -> dict[str, Any]:
    """ImportSettings as a JSON-able dict."""
    data = asdict(settings)
    data["consent_date"] = settings.consent_date.isoformat() if settings.consent_date else None
    data["channels"] = list(settings.channels)
    return data


def settings_from_json(data: dict[str, Any]) -> ImportSettings:
    """The inverse of settings_to_json."""
    data = dict(data)
    data["mapping"] = ColumnMapping(**data["mapping"])
    data["channels"] = tuple(data["channels"])
    data["consent_date"] = (
        date.fromisoformat(data["consent_date"]) if data["consent_date"] else None
    )
    return ImportSettings(**data)
