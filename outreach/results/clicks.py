"""People's clicks on a campaign's tracked links, per step and per link.

Only ``link_clicks`` rows with ``human`` true count: a HEAD request, a known scanner's user
agent and a burst over several links of one message are recorded but marked not human
(``tracking/clicks.py``). "Unique" clicks are distinct messages (one per person and step);
"clicks" are every human click. Each figure is one GROUP BY over the clicks' campaign index.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import distinct, func, select, true

from outreach.extensions import db
from outreach.models import Campaign, LinkClick, Step, TrackedLink


@dataclass
class LinkResult:
    """One tracked link of a step (numbered as in ``tracking/links.py``) and its clicks."""

    position: int
    url: str
    clicks: int = 0
    unique_clicks: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "position": self.position,
            "url": self.url,
            "clicks": self.clicks,
            "unique_clicks": self.unique_clicks,
        }


def _human(campaign: Campaign) -> tuple:
    return (LinkClick.campaign_id == campaign.id, LinkClick.human == true())


def clicks_by_step(campaign: Campaign) -> dict[int, tuple[int, int]]:
    """{step_id: (human clicks, distinct messages clicked)}."""
    rows = db.session.execute(
        select(LinkClick.step_id, func.count(), func.count(distinct(LinkClick.message_id)))
        .where(*_human(campaign))
        .group_by(LinkClick.step_id)
    )
    return {step_id: (clicks, unique) for step_id, clicks, unique in rows}


def links_by_step(campaign: Campaign) -> dict[int, list[LinkResult]]:
    """{step_id: [every tracked link of the step, by number, with its clicks]}; a link
    nobody clicked shows zeros."""
    counts = {
        (step_id, position): (clicks, unique)
        for step_id, position, clicks, unique in db.session.execute(
            select(
                LinkClick.step_id,
                LinkClick.link_position,
                func.count(),
                func.count(distinct(LinkClick.message_id)),
            )
            .where(*_human(campaign))
            .group_by(LinkClick.step_id, LinkClick.link_position)
        )
    }
    links: dict[int, list[LinkResult]] = {}
    for step_id, position, url in db.session.execute(
        select(TrackedLink.step_id, TrackedLink.position, TrackedLink.url)
        .join(Step, Step.id == TrackedLink.step_id)
        .where(Step.campaign_id == campaign.id)
        .order_by(TrackedLink.step_id, TrackedLink.position)
    ):
        clicks, unique = counts.get((step_id, position), (0, 0))
        links.setdefault(step_id, []).append(LinkResult(position, url, clicks, unique))
    return links
