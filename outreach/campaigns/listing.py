"""Finding campaigns: search by name, filter by status, archived ones apart."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from outreach.clock import now as clock_now
from outreach.extensions import db
from outreach.models import Campaign, Message
from outreach.models.campaigns import CAMPAIGN_STATUSES
from outreach.staff import audit as staff_audit

#: Campaigns that can be archived: nothing will be sent for them.
ARCHIVABLE = ("draft", "done", "cancelled")


@dataclass(frozen=True)
class CampaignFilter:
    """What the campaign list is asked for."""

    query: str = ""
    status: str = ""
    archived: bool = False


def find(wanted: CampaignFilter) -> list[Campaign]:
    """Campaigns matching a filter, newest first."""
    stmt = select(Campaign).order_by(Campaign.created_at.desc(), Campaign.id.desc())
    if wanted.query:
        stmt = stmt.where(func.lower(Campaign.name).contains(wanted.query.lower(), autoescape=True))
    if wanted.status in CAMPAIGN_STATUSES:
        stmt = stmt.where(Campaign.status == wanted.status)
    if wanted.archived:
        stmt = stmt.where(Campaign.archived_at.is_not(None))
    else:
        stmt = stmt.where(Campaign.archived_at.is_(None))
    return list(db.session.scalars(stmt))


def message_counts(campaigns: list[Campaign]) -> dict[int, int]:
    """Outbox rows per campaign, for the listed campaigns only."""
    ids = [c.id for c in campaigns]
    if not ids:
        return {}
    return dict(
        db.session.execute(
            select(Message.campaign_id, func.count(Message.id))
            .where(Message.campaign_id.in_(ids))
            .group_by(Message.campaign_id)
        ).all()
    )


def archived_count() -> int:
    """How many campaigns are archived (the list's link to them)."""
    return (
        db.session.scalar(select(func.count(Campaign.id)).where(Campaign.archived_at.is_not(None)))
        or 0
    )


def archive(campaign: Campaign, actor_id: int | None) -> None:
    """Hide a campaign from the list (kept with its results); ValueError while it sends."""
    if campaign.status not in ARCHIVABLE:
        raise ValueError(
            f"this campaign is {campaign.status}; cancel it or let it finish before archiving"
        )
    if campaign.archived_at is None:
        campaign.archived_at = clock_now()
        staff_audit.audit(actor_id, "campaign.archive", "campaign", campaign.id, campaign.name)


def unarchive(campaign: Campaign, actor_id: int | None) -> None:
    """Put an archived campaign back in the list."""
    if campaign.archived_at is not None:
        campaign.archived_at = None
        staff_audit.audit(actor_id, "campaign.unarchive", "campaign", campaign.id, campaign.name)
