"""Parse a campaign file (YAML, schema) and build its campaign and steps, unsaved."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from outreach.campaigns import windows
from outreach.campaigns.files.problems import CampaignFileError, Problem, sorted_problems
from outreach.campaigns.files.schema import schema_problems, validator
from outreach.campaigns.files.yaml_lines import Map, read_yaml
from outreach.clock import now as clock_now
from outreach.extensions import db
from outreach.models import Audience, Campaign, Step, StepVariant
from outreach.rendering import markdown as markdown_rendering

#: The longest delay after confirmation a step may have: one year.
MAX_AFTER_MINUTES = 366 * 24 * 60


#: Model field (as preflight names it) -> key in the file.
FILE_KEYS = {
    "send_time": "at",
    "day_offset": "day",
    "after_minutes": "after",
    "include_late_joiners": "late_joiners",
    "anchor_date": "anchor",
    "anchor": "anchor",
    "organisation_name": "audience",
    "postal_address": "audience",
}


#: Keys under which a step carries its copy in another language (``es:``).
LANGUAGE_KEYS = ("es",)


#: The copy a channel cannot go without (in a step and in each of its languages).
REQUIRED_COPY = {"email": ("subject", "html", "markdown"), "sms": ("body",)}
#: An email body is written in one of these (never both).
BODY_KEYS = ("markdown", "html")


def _one_body(step: Map, index: int) -> list[Problem]:
    """An email step (and each of its languages) has a Markdown or an HTML body, not both."""
    if step.get("channel") != "email":
        return []
    problems = []
    copies = [("", step)] + [
        (f" {language}", step[language])
        for language in LANGUAGE_KEYS
        if isinstance(step.get(language), Map)
    ]
    for where, copy in copies:
        present = [key for key in BODY_KEYS if key in copy]
        if not present:
            problems.append(
                Problem(copy.line, f"step {index + 1}{where}: missing 'markdown' (or 'html')")
            )
        elif len(present) == 2:
            problems.append(
                Problem(
                    copy.key_lines.get("html", copy.line),
                    f"step {index + 1}{where}: write the body as 'markdown' or as 'html', not both",
                )
            )
    return problems


def _blank_copy(step: Map, index: int) -> list[Problem]:
    """A language's required copy that is only spaces (the schema refuses it empty)."""
    problems = []
    for language in LANGUAGE_KEYS:
        copy = step.get(language)
        if not isinstance(copy, Map):
            continue
        for key in REQUIRED_COPY.get(step["channel"], ()):
            value = copy.get(key)
            if isinstance(value, str) and value and not value.strip():
                line = copy.key_lines.get(key, copy.line)
                problems.append(
                    Problem(line, f"step {index + 1} {language} {key}: must not be empty")
                )
    return problems


def parse_after(value: int | str) -> int:
    """A confirmation delay in minutes: ``0``, ``"0"``, ``"90m"``, ``"3h"``, ``"2d"``.

    A bare number is minutes. Raises ValueError for anything else or more than a year.
    """
    if isinstance(value, bool):
        raise ValueError("after must be minutes, or a number with m, h or d")
    if isinstance(value, int | float):
        if value != int(value) or value < 0:
            raise ValueError("after must be a whole number of minutes, 0 or more")
        minutes = int(value)
    else:
        match = re.fullmatch(r"\s*([0-9]+)\s*([mhd]?)\s*", str(value))
        if not match:
            raise ValueError("after must be minutes, or a number with m, h or d (90m, 3h, 2d)")
        minutes = int(match.group(1)) * {"": 1, "m": 1, "h": 60, "d": 1440}[match.group(2)]
    if minutes > MAX_AFTER_MINUTES:
        raise ValueError("after is longer than a year")
    return minutes


def _normalise_keys(data: Any) -> None:
    """YAML 1.1 reads a bare ``on`` as True: give the anchor its key back; dates to text."""
    if not isinstance(data, Map):
        return
    anchor = data.get("anchor")
    if isinstance(anchor, Map):
        if True in anchor and "on" not in anchor:
            value = anchor.pop(True)
            anchor["on"] = value
            anchor.key_lines["on"] = anchor.key_lines.pop(True, anchor.line)
            anchor.value_nodes["on"] = anchor.value_nodes.pop(True, None)
        when = anchor.get("date")
        if isinstance(when, date) and not isinstance(when, datetime):
            anchor["date"] = when.isoformat()


def parse_document(text: str) -> Map:
    """YAML + schema + value checks; returns the data, normalised in place.

    Raises CampaignFileError listing every problem found.
    """
    data, duplicates = read_yaml(text)
    if data is None:
        raise CampaignFileError("the file is empty", 1)
    if not isinstance(data, Map):
        raise CampaignFileError(
            "a campaign file is a mapping with name, audience, anchor and steps",
            getattr(data, "line", 1),
        )
    _normalise_keys(data)
    problems = list(duplicates)
    errors = sorted(validator().iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    for error in errors:
        for problem in schema_problems(data, error):
            if problem not in problems:
                problems.append(problem)
    if problems:
        raise CampaignFileError(sorted_problems(problems))

    anchor = data["anchor"]
    if "date" in anchor:
        try:
            anchor["date"] = date.fromisoformat(anchor["date"])
        except ValueError:
            problems.append(Problem(data.key_lines["anchor"], "anchor: not a valid date"))
    for index, step in enumerate(data["steps"]):
        if "at" in step:
            step["at"] = windows.parse_hhmm(step["at"]).strftime("%H:%M")
        if "day" in step:
            step["day"] = int(step["day"])
        if "after" in step:
            try:
                step["after"] = parse_after(step["after"])
            except ValueError as exc:
                problems.append(Problem(step.key_lines.get("after"), f"step {index + 1}: {exc}"))
        problems += _blank_copy(step, index) + _one_body(step, index)
    if problems:
        raise CampaignFileError(sorted_problems(problems))
    return data


def parse(text: str) -> dict:
    """Parse and check the structure of a campaign file (no database access).

    Returns the file's data, normalised: ``anchor`` is ``{"date": datetime.date}`` or
    ``{"on": "confirmation"}``; steps have ``at`` as ``"HH:MM"`` and ``after`` in minutes,
    and may carry ``es``: their Spanish copy, with the keys of their channel.
    Raises CampaignFileError with file line numbers for YAML and schema problems.
    """
    return parse_document(text)


def build_steps(data: dict, calendar: bool) -> list[Step]:
    at = clock_now()
    steps = []
    for position, item in enumerate(data["steps"]):
        channel = item["channel"]
        email = channel == "email"
        steps.append(
            Step(
                position=position,
                channel=channel,
                day_offset=item.get("day", 0) if calendar else 0,
                send_time=item.get("at", "10:00") if calendar else "10:00",
                after_minutes=0 if calendar else item.get("after", 0),
                include_late_joiners=bool(item.get("late_joiners", False)),
                subject=item.get("subject", "") if email else "",
                preheader=item.get("preheader", "") if email else "",
                **_body(item, email),
                text=item.get("text") if email else None,
                body=item.get("body", "") if not email else "",
                paused_reason=None,
                updated_at=at,
                variants=[
                    _variant(language, item[language], email)
                    for language in LANGUAGE_KEYS
                    if language in item
                ],
            )
        )
    return steps


def _body(copy: dict, email: bool) -> dict[str, str | None]:
    """``html`` (and ``markdown`` when the body is written in Markdown) of a step's copy."""
    if not email:
        return {"html": "", "markdown": None}
    if "markdown" in copy:
        return {"html": markdown_rendering.to_html(copy["markdown"]), "markdown": copy["markdown"]}
    return {"html": copy.get("html", ""), "markdown": None}


def _variant(language: str, copy: dict, email: bool) -> StepVariant:
    """A step's copy in ``language`` from its mapping in the file."""
    return StepVariant(
        language=language,
        subject=copy.get("subject", "") if email else "",
        preheader=copy.get("preheader", "") if email else "",
        **_body(copy, email),
        text=copy.get("text") if email else None,
        body=copy.get("body", "") if not email else "",
    )


def anchor_of(data: dict) -> tuple[str, date | None]:
    anchor = data["anchor"]
    return ("date", anchor["date"]) if "date" in anchor else ("confirmation", None)


def transient(data: dict, audience: Audience | None) -> Campaign:
    """An unsaved Campaign for the file (never added to the session)."""
    kind, anchor_date = anchor_of(data)
    campaign = Campaign(
        name=data["name"], status="draft", anchor_kind=kind, anchor_date=anchor_date
    )
    campaign.audience = audience
    campaign.steps = build_steps(data, kind == "date")
    return campaign


def find_audience(slug: str) -> Audience | None:
    return db.session.scalar(select(Audience).where(Audience.slug == slug))


def find_campaign(name: str) -> Campaign | None:
    return db.session.scalar(select(Campaign).where(Campaign.name == name))
