"""Opens and clicks per step, for the results page's engagement card.

* **Opens** come from SendGrid's open events, only for audiences that turned open tracking
  on (``Audience.track_opens``); each message counts once (``opened_at``, its first open),
  and every open event stored (``delivery_events``) makes the total. Apple Mail Privacy
  Protection and image blocking make them unreliable: a trend, never a person's reading.
* **Clicks** are messages with a person's click (``clicked_at``): our own ``/r/`` clicks
  less link scanners, or SendGrid's click events where our tracking was off
  (``feedback/provider_clicks.py``): never both for one message. Scanner hits are the
  first-party requests recognised as a scanner's.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from outreach.extensions import db
from outreach.models import Campaign, DeliveryEvent, LinkClick, Message


@dataclass(frozen=True)
class StepEngagement:
    """One step's opens and clicks (opens None: the audience does not track them)."""

    step_id: int
    unique_opens: int | None
    total_opens: int | None
    clicks: int
    scanner_hits: int


def opens_tracked(campaign: Campaign) -> bool:
    """Whether the campaign's audience counts opens."""
    return bool(campaign.audience is not None and campaign.audience.track_opens)


def opens_by_step(campaign: Campaign) -> dict[int, int]:
    """{step_id: messages opened at least once}; empty when the audience tracks no opens."""
    if not opens_tracked(campaign):
        return {}
    rows = db.session.execute(
        select(Message.step_id, func.count())
        .where(Message.campaign_id == campaign.id, Message.opened_at.is_not(None))
        .group_by(Message.step_id)
    )
    return {step_id: n for step_id, n in rows}


def total_opens_by_step(campaign: Campaign) -> dict[int, int]:
    """{step_id: open events stored} (a message opened three times counts three)."""
    if not opens_tracked(campaign):
        return {}
    rows = db.session.execute(
        select(Message.step_id, func.count())
        .select_from(DeliveryEvent)
        .join(Message, Message.id == DeliveryEvent.message_id)
        .where(Message.campaign_id == campaign.id, DeliveryEvent.event_type == "open")
        .group_by(Message.step_id)
    )
    return {step_id: n for step_id, n in rows}


def clicks_by_step(campaign: Campaign) -> dict[int, int]:
    """{step_id: messages with a person's click}."""
    rows = db.session.execute(
        select(Message.step_id, func.count())
        .where(Message.campaign_id == campaign.id, Message.clicked_at.is_not(None))
        .group_by(Message.step_id)
    )
    return {step_id: n for step_id, n in rows}


def scanner_hits_by_step(campaign: Campaign) -> dict[int, int]:
    """{step_id: requests for our links recognised as a scanner's}."""
    rows = db.session.execute(
        select(LinkClick.step_id, func.count())
        .where(LinkClick.campaign_id == campaign.id, LinkClick.human.is_(False))
        .group_by(LinkClick.step_id)
    )
    return {step_id: n for step_id, n in rows}


def engagement(campaign: Campaign) -> list[StepEngagement]:
    """Every step's opens and clicks, in step order (four GROUP BYs)."""
    tracked = opens_tracked(campaign)
    unique, total = opens_by_step(campaign), total_opens_by_step(campaign)
    clicks, scanners = clicks_by_step(campaign), scanner_hits_by_step(campaign)
    return [
        StepEngagement(
            step.id,
            unique.get(step.id, 0) if tracked and step.channel == "email" else None,
            total.get(step.id, 0) if tracked and step.channel == "email" else None,
            clicks.get(step.id, 0),
            scanners.get(step.id, 0),
        )
        for step in sorted(campaign.steps, key=lambda s: s.position)
    ]


def engagement_dicts(campaign: Campaign) -> list[dict[str, int | None]]:
    """JSON form (``stats --json`` and the API's ``engagement``): opens are null where the
    audience does not track them (and for texts)."""
    return [
        {
            "step_id": e.step_id,
            "opens": e.unique_opens,
            "total_opens": e.total_opens,
            "clicks": e.clicks,
            "scanner_hits": e.scanner_hits,
        }
        for e in engagement(campaign)
    ]
