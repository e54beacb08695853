"""How staff pages name campaigns and steps: by name, position and subject, never by id."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select

from outreach.extensions import db
from outreach.models import Campaign, Step

LABEL_CHARS = 60


@dataclass(frozen=True)
class StepName:
    """A step as staff know it: its campaign, its place in the sequence, its words."""

    campaign_id: int
    campaign_name: str
    label: str


def step_words(channel: str, subject: str | None, body: str | None) -> str:
    """What a step says, on one line: an email's subject or a text's words, at most
    ``LABEL_CHARS`` characters ("..." when cut)."""
    words = " ".join(((subject if channel == "email" else body) or "").split())
    return words if len(words) <= LABEL_CHARS else words[: LABEL_CHARS - 3] + "..."


def step_label(position: int, channel: str, subject: str | None, body: str | None) -> str:
    """``"Step 2 · text: June is Migraine..."`` (the subject of an email, a text's words)."""
    words = step_words(channel, subject, body)
    kind = "email" if channel == "email" else "text"
    return f"Step {position + 1} · {kind}" + (f": {words}" if words else "")


def step_names(step_ids: Iterable[int]) -> dict[int, StepName]:
    """Names for these steps (one query); deleted steps are absent."""
    wanted = sorted({int(i) for i in step_ids})
    if not wanted:
        return {}
    rows = db.session.execute(
        select(Step.id, Step.position, Step.channel, Step.subject, Step.body, Campaign.id,
               Campaign.name)
        .join(Campaign, Campaign.id == Step.campaign_id)
        .where(Step.id.in_(wanted))
    ).all()  # fmt: skip
    return {
        step_id: StepName(campaign_id, name, step_label(position, channel, subject, body))
        for step_id, position, channel, subject, body, campaign_id, name in rows
    }


def campaign_names(campaign_ids: Iterable[int]) -> dict[int, str]:
    """Campaign names by id (one query); deleted campaigns are absent."""
    wanted = sorted({int(i) for i in campaign_ids})
    if not wanted:
        return {}
    rows = db.session.execute(select(Campaign.id, Campaign.name).where(Campaign.id.in_(wanted)))
    return {campaign_id: name for campaign_id, name in rows}
