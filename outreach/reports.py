"""Campaign results: counts by step and state, computed by SQL aggregates."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import func, select

from outreach.extensions import db
from outreach.models import Campaign, DeliveryEvent, Message

STATE_ORDER = (
    "queued",
    "sending",
    "sent",
    "delivered",
    "failed",
    "bounced",
    "skipped",
    "unknown",
    "cancelled",
)


def step_counts(campaign: Campaign) -> dict[int, dict[str, int]]:
    """{step_id: {state: count}} for one campaign, one GROUP BY."""
    counts: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(STATE_ORDER, 0))
    rows = db.session.execute(
        select(Message.step_id, Message.state, func.count(Message.id))
        .where(Message.campaign_id == campaign.id)
        .group_by(Message.step_id, Message.state)
    )
    for step_id, state, n in rows:
        counts[step_id][state] = n
    return counts


def complaints(campaign: Campaign) -> dict[int, int]:
    """{step_id: spam complaints}."""
    rows = db.session.execute(
        select(Message.step_id, func.count(DeliveryEvent.id))
        .join(Message, Message.id == DeliveryEvent.message_id)
        .where(Message.campaign_id == campaign.id, DeliveryEvent.event_type == "spamreport")
        .group_by(Message.step_id)
    )
    return dict(rows.all())


def stats_lines(campaign: Campaign) -> list[str]:
    """Human-readable table of counts per step (the CLI's `stats`)."""
    counts = step_counts(campaign)
    spam = complaints(campaign)
    lines = [f"{campaign.name} [{campaign.status}]"]
    header = ["step", "channel", *STATE_ORDER, "complaints"]
    lines.append("  ".join(f"{h:>9}" for h in header))
    for index, step in enumerate(campaign.steps, start=1):
        row = counts.get(step.id, dict.fromkeys(STATE_ORDER, 0))
        cells = [
            str(index),
            step.channel,
            *(str(row[s]) for s in STATE_ORDER),
            str(spam.get(step.id, 0)),
        ]
        lines.append("  ".join(f"{c:>9}" for c in cells))
    return lines
