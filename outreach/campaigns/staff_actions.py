"""Lifecycle actions staff take: preflight, schedule, pause, resume, cancel (audited)."""

from __future__ import annotations

from outreach.campaigns import lifecycle
from outreach.campaigns.editing import EditError
from outreach.campaigns.preflight import check as preflight
from outreach.campaigns.preflight import findings as preflight_findings
from outreach.models import Campaign
from outreach.staff import audit as staff_audit


def check(campaign: Campaign) -> list[preflight_findings.Finding]:
    """Preflight findings for a campaign."""
    return preflight.check_campaign(campaign)


def schedule(campaign: Campaign, *, acknowledged: bool, actor_id: int | None) -> None:
    """Schedule a draft: no preflight errors, and warnings acknowledged; raises EditError."""
    findings = check(campaign)
    if preflight_findings.has_errors(findings):
        raise EditError("fix the errors preflight lists before scheduling")
    if preflight_findings.warnings(findings) and not acknowledged:
        raise EditError({"acknowledge": "tick the box to confirm you have read the warnings"})
    try:
        lifecycle.schedule(campaign)
    except lifecycle.LifecycleError as exc:
        raise EditError(str(exc)) from None
    detail = (
        f"{len(preflight_findings.warnings(findings))} warning(s) acknowledged"
        if findings
        else None
    )
    staff_audit.audit(actor_id, "campaign.schedule", "campaign", campaign.id, detail)


def pause(campaign: Campaign, reason: str, actor_id: int | None) -> None:
    """Pause a scheduled or running campaign; queued messages wait."""
    reason = " ".join((reason or "").split())[:300] or "paused by staff"
    try:
        lifecycle.pause(campaign, reason)
    except lifecycle.LifecycleError as exc:
        raise EditError(str(exc)) from None
    staff_audit.audit(actor_id, "campaign.pause", "campaign", campaign.id, reason)


def resume(campaign: Campaign, actor_id: int | None) -> None:
    """Resume a paused campaign (messages due meanwhile go out, inside their windows)."""
    try:
        lifecycle.resume(campaign)
    except lifecycle.LifecycleError as exc:
        raise EditError(str(exc)) from None
    staff_audit.audit(actor_id, "campaign.resume", "campaign", campaign.id)


def cancel(campaign: Campaign, actor_id: int | None) -> int:
    """Cancel a campaign; its queued messages become cancelled. Returns how many."""
    try:
        count = lifecycle.cancel(campaign)
    except lifecycle.LifecycleError as exc:
        raise EditError(str(exc)) from None
    staff_audit.audit(
        actor_id, "campaign.cancel", "campaign", campaign.id, f"{count} queued cancelled"
    )
    return count
