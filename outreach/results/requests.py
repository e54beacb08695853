"""Consultation requests attributed to each step of a campaign (last touch within 30 days:
see ``consultations.attribution``). One GROUP BY over the requests' (campaign, step) index."""

from __future__ import annotations

from sqlalchemy import func, select

from outreach.extensions import db
from outreach.models import Campaign, ConsultationRequest


def requests_by_step(campaign: Campaign) -> dict[int, int]:
    """{step_id: requests attributed to the step}; direct requests are not in any step."""
    rows = db.session.execute(
        select(ConsultationRequest.step_id, func.count())
        .where(
            ConsultationRequest.campaign_id == campaign.id,
            ConsultationRequest.step_id.is_not(None),
        )
        .group_by(ConsultationRequest.step_id)
    )
    return {step_id: n for step_id, n in rows}
