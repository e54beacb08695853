"""Campaign lifecycle: draft -> scheduled -> running -> done, pause, resume, cancel;
due times of steps in each recipient's zone."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from outreach.campaigns import windows
from outreach.campaigns.preflight import check as preflight
from outreach.campaigns.preflight import findings as preflight_findings
from outreach.clock import now as clock_now
from outreach.extensions import db
from outreach.models import Campaign, Message, Step
from outreach.models.outbox import UNSETTLED_STATES
from outreach.staff import audit as staff_audit

#: Which transitions staff may ask for, from which states.
TRANSITIONS = {
    "schedule": ("draft",),
    "pause": ("scheduled", "running"),
    "resume": ("paused",),
    "cancel": ("draft", "scheduled", "running", "paused"),
}


class LifecycleError(ValueError):
    """A transition that is not allowed now; ``errors`` maps form fields to problems."""

    def __init__(self, errors: dict[str, str] | str) -> None:
        self.errors = errors if isinstance(errors, dict) else {"": errors}
        super().__init__("; ".join(self.errors.values()))


def step_due_at(campaign: Campaign, step: Step, tz: str) -> datetime | None:
    """When a calendar-anchored step is due for recipients in ``tz`` (None if not calendar)."""
    if campaign.anchor_kind != "date" or campaign.anchor_date is None:
        return None
    day = campaign.anchor_date + timedelta(days=step.day_offset)
    return windows.local_to_utc(day, windows.parse_hhmm(step.send_time), tz)


def first_due_at(campaign: Campaign) -> datetime | None:
    """The earliest instant any step of a calendar campaign can be due, anywhere on Earth."""
    dues = [step_due_at(campaign, s, "Pacific/Kiritimati") for s in campaign.steps]
    dues = [d for d in dues if d is not None]
    return min(dues) if dues else None


def _transition(campaign: Campaign, action: str) -> None:
    if campaign.status not in TRANSITIONS[action]:
        raise LifecycleError(f"cannot {action} a campaign that is {campaign.status}")


def schedule(
    campaign: Campaign, *, acknowledged: bool = False, actor_id: int | None = None
) -> None:
    """Draft -> scheduled (or running at once if its first step may already be due).

    The preflight gate: refused while preflight finds errors, and while it finds warnings
    nobody acknowledged. Audit-logged; flushes, the caller commits.
    """
    _transition(campaign, "schedule")
    if not campaign.steps:
        raise LifecycleError("a campaign needs at least one step before it can be scheduled")
    findings = preflight.check_campaign(campaign)
    if preflight_findings.has_errors(findings):
        raise LifecycleError("fix the errors preflight lists before scheduling")
    warnings = preflight_findings.warnings(findings)
    if warnings and not acknowledged:
        raise LifecycleError({"acknowledge": "tick the box to confirm you have read the warnings"})
    at = clock_now()
    campaign.status = "scheduled"
    campaign.updated_at = at
    detail = f"{len(warnings)} warning(s) acknowledged" if warnings else None
    staff_audit.audit(actor_id, "campaign.schedule", "campaign", campaign.id, detail)
    start_due(at)


def start_due(at: datetime | None = None) -> int:
    """Scheduled campaigns whose first step may be due within a day become running."""
    at = at or clock_now()
    started = 0
    for campaign in db.session.scalars(select(Campaign).where(Campaign.status == "scheduled")):
        first = first_due_at(campaign)
        if (
            campaign.anchor_kind == "confirmation"
            or first is None
            or first <= at + timedelta(days=1)
        ):
            campaign.status = "running"
            campaign.started_at = campaign.started_at or at
            campaign.updated_at = at
            started += 1
    db.session.flush()
    return started


def pause(campaign: Campaign, reason: str, actor_id: int | None = None) -> None:
    """Stop claiming this campaign's rows; queued rows stay queued. Audit-logged."""
    _transition(campaign, "pause")
    reason = " ".join((reason or "").split())[:300] or "paused by staff"
    campaign.status = "paused"
    campaign.paused_reason = reason
    campaign.updated_at = clock_now()
    staff_audit.audit(actor_id, "campaign.pause", "campaign", campaign.id, reason)
    db.session.flush()


def resume(campaign: Campaign, actor_id: int | None = None) -> None:
    """Paused -> running (or scheduled if it had not started yet); messages due meanwhile
    go out, inside their windows. Audit-logged."""
    _transition(campaign, "resume")
    staff_audit.audit(actor_id, "campaign.resume", "campaign", campaign.id)
    campaign.status = "running" if campaign.started_at else "scheduled"
    campaign.paused_reason = None
    for step in campaign.steps:
        step.paused_reason = None
    campaign.updated_at = clock_now()
    db.session.flush()


def cancel(campaign: Campaign, actor_id: int | None = None) -> int:
    """Cancel a campaign; its queued rows become cancelled. Returns how many. Audit-logged."""
    _transition(campaign, "cancel")
    at = clock_now()
    campaign.status = "cancelled"
    campaign.finished_at = at
    campaign.updated_at = at
    result = db.session.execute(
        update(Message)
        .where(Message.campaign_id == campaign.id, Message.state == "queued")
        .values(state="cancelled", skip_reason="campaign_cancelled", updated_at=at)
        .execution_options(synchronize_session=False)
    )
    count = result.rowcount or 0
    detail = f"{count} queued cancelled"
    staff_audit.audit(actor_id, "campaign.cancel", "campaign", campaign.id, detail)
    db.session.flush()
    return count


def pause_step(step: Step, reason: str) -> None:
    """Pause one step (its rows stay queued) and the campaign with it, saying why."""
    step.paused_reason = reason
    campaign = step.campaign
    if campaign.status in ("scheduled", "running"):
        pause(campaign, f"Step {step.position + 1}: {reason}")
    db.session.flush()


def finish_done(at: datetime | None = None) -> int:
    """Running calendar campaigns whose every step is past due everywhere and sent become done.

    A row still ``queued``, ``sending`` or ``unknown`` keeps its campaign running:
    reconciliation may re-queue an ``unknown`` row, and only a running campaign's rows are
    claimed.
    """
    at = at or clock_now()
    finished = 0
    for campaign in db.session.scalars(
        select(Campaign).where(Campaign.status == "running", Campaign.anchor_kind == "date")
    ):
        last = [step_due_at(campaign, s, "Etc/GMT+12") for s in campaign.steps]
        if not last or any(d is None or d > at for d in last):
            continue
        if any(s.include_late_joiners for s in campaign.steps):
            continue
        open_rows = db.session.scalar(
            select(func.count(Message.id)).where(
                Message.campaign_id == campaign.id, Message.state.in_(UNSETTLED_STATES)
            )
        )
        if not open_rows:
            campaign.status = "done"
            campaign.finished_at = at
            finished += 1
    db.session.flush()
    return finished
