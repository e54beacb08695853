"""A campaign's steps in order: a timeline staff can read ("June 3, 10:00", "2 days after"),
and which step is the campaign's first text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from outreach.models import Campaign, Step


@dataclass(frozen=True)
class TimelineEntry:
    """One step placed in time."""

    step: Step
    number: int
    when: str
    day: date | None
    sort_key: tuple[int, int]


def describe_delay(minutes: int) -> str:
    """``0`` -> "right after confirming"; 90 -> "1 h 30 min after confirming"."""
    if not minutes:
        return "right after confirming"
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = [f"{days} day{'s' if days != 1 else ''}"] if days else []
    parts += [f"{hours} h"] if hours else []
    parts += [f"{mins} min"] if mins else []
    return " ".join(parts) + " after confirming"


def timeline(campaign: Campaign) -> list[TimelineEntry]:
    """The steps in the order they go out, each with a human description of when."""
    entries = []
    for number, step in enumerate(sorted(campaign.steps, key=lambda s: s.position), start=1):
        if campaign.anchor_kind == "date" and campaign.anchor_date is not None:
            day = campaign.anchor_date + timedelta(days=step.day_offset)
            when = f"{day:%a %d %b %Y}, {step.send_time} local time (day {step.day_offset})"
            hours, _, minutes = step.send_time.partition(":")
            key = (step.day_offset, int(hours) * 60 + int(minutes or 0))
        else:
            day = None
            when = describe_delay(step.after_minutes)
            key = (step.after_minutes, 0)
        entries.append(TimelineEntry(step, number, when, day, key))
    return sorted(entries, key=lambda e: (e.sort_key, e.number))


def first_text_step(steps: list[Step]) -> Step | None:
    """The campaign's first text: the first SMS step in position order (it must carry the
    brand and the STOP wording)."""
    ordered = sorted(steps, key=lambda s: s.position or 0)
    return next((s for s in ordered if s.channel == "sms"), None)


def is_first_text(step: Step) -> bool:
    """Is this step its campaign's first text?"""
    return first_text_step(list(step.campaign.steps)) is step
