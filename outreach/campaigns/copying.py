"""Copies staff start from: a whole campaign as a new draft, a step as the next step.

A copy takes the content (every step with its Spanish version, timing, the click-tracking
switch) and none of the history: no outbox rows, no schedule, no zones materialised."""

from __future__ import annotations

from sqlalchemy import select

from outreach.campaigns.editing import ensure_open, renumber
from outreach.clock import now as clock_now
from outreach.extensions import db
from outreach.models import Campaign, Step, StepVariant
from outreach.staff import audit as staff_audit

#: Step columns a copy carries over (everything staff wrote; not ids, state or pauses).
STEP_FIELDS = (
    "channel", "day_offset", "send_time", "after_minutes", "include_late_joiners",
    "subject", "preheader", "html", "markdown", "text", "body",
)  # fmt: skip
VARIANT_FIELDS = ("language", "subject", "preheader", "html", "markdown", "text", "body")
NAME_LIMIT = 200


def copy_name(name: str) -> str:
    """A free campaign name for a copy: "Copy of X", then "Copy of X (2)", ..."""
    taken = set(db.session.scalars(select(Campaign.name).where(Campaign.name.like("Copy of %"))))
    base = f"Copy of {name}"[:NAME_LIMIT]
    candidate, number = base, 2
    while candidate in taken:
        suffix = f" ({number})"
        candidate = base[: NAME_LIMIT - len(suffix)] + suffix
        number += 1
    return candidate


def _copy_step(step: Step, position: int) -> Step:
    copy = Step(position=position, **{field: getattr(step, field) for field in STEP_FIELDS})
    copy.variants = [
        StepVariant(**{field: getattr(v, field) for field in VARIANT_FIELDS}) for v in step.variants
    ]
    copy.updated_at = clock_now()
    return copy


def duplicate_campaign(campaign: Campaign, actor_id: int | None) -> Campaign:
    """A new draft with the campaign's audience, start and steps (any status may be
    copied, a finished one included: that is how next June's campaign starts)."""
    at = clock_now()
    copy = Campaign(
        name=copy_name(campaign.name),
        audience_id=campaign.audience_id,
        status="draft",
        anchor_kind=campaign.anchor_kind,
        anchor_date=campaign.anchor_date,
        track_links=campaign.track_links,
        created_at=at,
        updated_at=at,
    )
    ordered = sorted(campaign.steps, key=lambda s: s.position)
    copy.steps = [_copy_step(step, index) for index, step in enumerate(ordered)]
    db.session.add(copy)
    db.session.flush()
    staff_audit.audit(
        actor_id, "campaign.duplicate", "campaign", copy.id, f"copy of campaign {campaign.id}"
    )
    return copy


def duplicate_step(step: Step, actor_id: int | None) -> Step:
    """A copy of a step placed right after it (same timing: change it before sending)."""
    campaign = step.campaign
    ensure_open(campaign)
    ordered = sorted(campaign.steps, key=lambda s: s.position)
    copy = _copy_step(step, len(ordered))  # parked at the end, then put in its place
    campaign.steps.append(copy)
    db.session.flush()
    ordered.insert(ordered.index(step) + 1, copy)
    renumber(campaign, ordered)
    campaign.updated_at = clock_now()
    db.session.flush()
    staff_audit.audit(
        actor_id, "step.duplicate", "step", copy.id, f"copy of step {step.position + 1}"
    )
    return copy
