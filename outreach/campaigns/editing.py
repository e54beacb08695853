"""Staff edits to campaigns and steps (with a step's optional Spanish version): checked
input, audit-logged, refused once a campaign is closed or a step's rows exist."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select

from outreach.campaigns import windows
from outreach.campaigns.step_input import SPANISH, StepInput, check_step, copy_values
from outreach.clock import now as clock_now
from outreach.extensions import db
from outreach.models import Audience, Campaign, Message, Step, StepVariant, StepZone
from outreach.models.campaigns import ANCHORS
from outreach.staff import audit as staff_audit

#: Campaign states in which nothing can be edited any more.
CLOSED = ("done", "cancelled")


class EditError(ValueError):
    """A change that is not allowed or not valid; ``errors`` maps fields to problems."""

    def __init__(self, errors: dict[str, str] | str) -> None:
        self.errors = errors if isinstance(errors, dict) else {"": errors}
        super().__init__("; ".join(self.errors.values()))


@dataclass
class CampaignInput:
    """What the campaign form holds."""

    name: str = ""
    audience_id: int | None = None
    anchor_kind: str = "date"
    anchor_date: str = ""
    track_links: bool = True


def _check_campaign(data: CampaignInput, campaign: Campaign | None) -> tuple[Audience, date | None]:
    errors: dict[str, str] = {}
    name = data.name.strip()
    if not name:
        errors["name"] = "give the campaign a name"
    elif len(name) > 200:
        errors["name"] = "at most 200 characters"
    else:
        clash = db.session.scalar(select(Campaign.id).filter_by(name=name))
        if clash is not None and (campaign is None or clash != campaign.id):
            errors["name"] = "another campaign already has this name"
    audience = db.session.get(Audience, data.audience_id) if data.audience_id else None
    if audience is None:
        errors["audience_id"] = "choose an audience"
    anchor_date = None
    if data.anchor_kind not in ANCHORS:
        errors["anchor_kind"] = "choose a calendar date or each subscriber's confirmation"
    elif data.anchor_kind == "date":
        try:
            anchor_date = date.fromisoformat(data.anchor_date.strip())
        except ValueError:
            errors["anchor_date"] = "a date like 2027-06-01"
    if errors:
        raise EditError(errors)
    return audience, anchor_date  # type: ignore[return-value]


def create_campaign(data: CampaignInput, actor_id: int | None) -> Campaign:
    """Create a draft campaign; raises EditError."""
    audience, anchor_date = _check_campaign(data, None)
    at = clock_now()
    campaign = Campaign(
        name=data.name.strip(),
        audience=audience,
        status="draft",
        anchor_kind=data.anchor_kind,
        anchor_date=anchor_date,
        track_links=data.track_links,
        created_at=at,
        updated_at=at,
    )
    db.session.add(campaign)
    db.session.flush()
    staff_audit.audit(actor_id, "campaign.create", "campaign", campaign.id, campaign.name)
    return campaign


def update_campaign(campaign: Campaign, data: CampaignInput, actor_id: int | None) -> None:
    """Rename a campaign or switch its click tracking; audience and anchor change only
    while it is a draft."""
    ensure_open(campaign)
    audience, anchor_date = _check_campaign(data, campaign)
    structural = (
        audience.id != campaign.audience_id
        or data.anchor_kind != campaign.anchor_kind
        or (data.anchor_kind == "date" and anchor_date != campaign.anchor_date)
    )
    if structural and campaign.status != "draft":
        raise EditError(
            "audience and anchor can only change while the campaign is a draft; "
            "cancel it and make a new one instead"
        )
    changed = []
    if campaign.name != data.name.strip():
        campaign.name = data.name.strip()
        changed.append("name")
    if structural:
        campaign.audience = audience
        campaign.anchor_kind = data.anchor_kind
        campaign.anchor_date = anchor_date
        changed.append("audience/anchor")
    if bool(campaign.track_links) != data.track_links:
        # Takes effect for messages composed from now on; links already sent keep working.
        campaign.track_links = data.track_links
        changed.append("click tracking " + ("on" if data.track_links else "off"))
    if changed:
        campaign.updated_at = clock_now()
        staff_audit.audit(actor_id, "campaign.update", "campaign", campaign.id, ", ".join(changed))
    db.session.flush()


def ensure_open(campaign: Campaign) -> None:
    """Refuse any edit of a done or cancelled campaign (EditError)."""
    if campaign.status in CLOSED:
        raise EditError(f"this campaign is {campaign.status}; it can no longer change")


def row_count(step: Step) -> int:
    """How many outbox rows a step has (queued, sent, anything)."""
    if step.id is None:
        return 0
    return db.session.scalar(select(func.count(Message.id)).where(Message.step_id == step.id)) or 0


def _materialised(step: Step) -> bool:
    """Has the outbox already fanned this step out for some time zone (even to no one)?"""
    return (
        db.session.scalar(select(StepZone.id).where(StepZone.step_id == step.id).limit(1))
        is not None
    )


def _hhmm(value: str) -> str:
    """ "9:05" -> "09:05" (the value has been checked with parse_hhmm)."""
    return windows.parse_hhmm(value).strftime("%H:%M")


def _apply_step(step: Step, data: StepInput, calendar: bool) -> None:
    step.channel = data.channel
    if calendar:
        step.day_offset = int(data.day_offset or 0)
        step.send_time = _hhmm(data.send_time)
        step.after_minutes = 0
    else:
        step.day_offset = 0
        step.after_minutes = int(data.after_minutes or 0)
    step.include_late_joiners = data.include_late_joiners
    for name, value in copy_values(data).items():
        setattr(step, name, value)
    step.updated_at = clock_now()


def _apply_spanish(step: Step, data: StepInput) -> str | None:
    """Save the Spanish fields as the step's ``es`` variant, or delete it when they are all
    empty; returns what happened ("saved", "removed") or None when nothing changed."""
    variant = step.variant(SPANISH)
    if not data.has_spanish():
        if variant is None:
            return None
        step.variants.remove(variant)
        return "removed"
    values = copy_values(data, SPANISH)
    if variant is None:
        step.variants.append(StepVariant(language=SPANISH, **values))
        return "saved"
    if all(getattr(variant, name) == value for name, value in values.items()):
        return None
    for name, value in values.items():
        setattr(variant, name, value)
    return "saved"


def _audit_spanish(step: Step, change: str | None, actor_id: int | None) -> None:
    if change is not None:
        action = "step.variant.delete" if change == "removed" else "step.variant.save"
        staff_audit.audit(
            actor_id, action, "step", step.id, f"{SPANISH}, campaign {step.campaign_id}"
        )


def add_step(campaign: Campaign, data: StepInput, actor_id: int | None) -> Step:
    """Append a step; raises EditError."""
    ensure_open(campaign)
    data = data.rendered()
    errors = check_step(campaign.anchor_kind, data)
    if errors:
        raise EditError(errors)
    position = max((s.position for s in campaign.steps), default=-1) + 1
    step = Step(position=position)
    _apply_step(step, data, campaign.anchor_kind == "date")
    spanish = _apply_spanish(step, data)
    campaign.steps.append(step)
    campaign.updated_at = clock_now()
    db.session.flush()
    staff_audit.audit(
        actor_id, "step.create", "step", step.id, f"campaign {campaign.id} {step.channel}"
    )
    _audit_spanish(step, spanish, actor_id)
    return step


def update_step(step: Step, data: StepInput, actor_id: int | None) -> None:
    """Change a step. Content edits reach every message not yet sent; raises EditError."""
    campaign = step.campaign
    ensure_open(campaign)
    data = data.rendered()
    errors = check_step(campaign.anchor_kind, data)
    if errors:
        raise EditError(errors)
    calendar = campaign.anchor_kind == "date"
    if calendar:
        timing = (int(data.day_offset or 0), _hhmm(data.send_time))
        timing_changed = timing != (step.day_offset, _hhmm(step.send_time))
    else:
        timing_changed = int(data.after_minutes or 0) != step.after_minutes
    timing_changed = timing_changed or data.channel != step.channel
    if timing_changed:
        rows = row_count(step)
        if rows or _materialised(step):
            raise EditError(
                f"this step has gone to the outbox already ({rows} message(s)), so its channel "
                "and timing are fixed; its content can still change (it reaches messages not "
                "yet sent)"
            )
    _apply_step(step, data, calendar)
    spanish = _apply_spanish(step, data)
    campaign.updated_at = clock_now()
    db.session.flush()
    staff_audit.audit(actor_id, "step.update", "step", step.id, f"campaign {campaign.id}")
    _audit_spanish(step, spanish, actor_id)


def renumber(campaign: Campaign, ordered: list[Step]) -> None:
    """Give the steps positions 0, 1, ... in the order given."""
    # Two passes: (campaign_id, position) is unique, so park every step out of the way first.
    for index, step in enumerate(ordered):
        step.position = -1 - index
    db.session.flush()
    for index, step in enumerate(ordered):
        step.position = index
    db.session.flush()


def delete_step(step: Step, actor_id: int | None) -> None:
    """Remove a step that has no outbox rows yet; raises EditError."""
    campaign = step.campaign
    ensure_open(campaign)
    # Locked, then counted: a dispatch tick creating this step's rows holds it FOR KEY
    # SHARE until they are committed (outbox.hold_step), so the count cannot go stale.
    db.session.get(Step, step.id, with_for_update=True)
    rows = row_count(step)
    if rows:
        raise EditError(
            f"this step already has {rows} message(s) in the outbox; they are the record of "
            "what was sent, so the step stays (pause or cancel the campaign instead)"
        )
    remaining = [s for s in campaign.steps if s.id != step.id]
    staff_audit.audit(actor_id, "step.delete", "step", step.id, f"campaign {campaign.id}")
    campaign.steps.remove(step)
    db.session.delete(step)
    db.session.flush()
    renumber(campaign, remaining)
    campaign.updated_at = clock_now()


def move_step(step: Step, offset: int, actor_id: int | None) -> None:
    """Move a step up (-1) or down (+1) in the sequence; drafts only."""
    campaign = step.campaign
    if campaign.status != "draft":
        raise EditError("the order of steps can only change while the campaign is a draft")
    ordered = sorted(campaign.steps, key=lambda s: s.position)
    index = ordered.index(step)
    target = index + offset
    if not 0 <= target < len(ordered):
        return
    ordered[index], ordered[target] = ordered[target], ordered[index]
    renumber(campaign, ordered)
    campaign.updated_at = clock_now()
    staff_audit.audit(actor_id, "step.move", "step", step.id, f"to position {target + 1}")
