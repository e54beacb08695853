"""The campaign list (search, status filter, archive) and copies of campaigns and steps.

Views only parse the request and call ``campaigns/listing.py`` and ``campaigns/copying.py``.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from outreach.admin import bp
from outreach.admin.auth import editor_required
from outreach.admin.common import get_or_404
from outreach.campaigns import copying, listing
from outreach.campaigns.editing import EditError
from outreach.extensions import db
from outreach.models import Campaign, Step
from outreach.models.campaigns import CAMPAIGN_STATUSES


@bp.get("/campaigns")
@login_required
def campaigns():  # noqa: ANN201
    """Campaigns by name and status, newest first; archived ones on their own list."""
    wanted = listing.CampaignFilter(
        query=(request.args.get("q") or "").strip()[:200],
        status=request.args.get("status", "") if request.args.get("status") in CAMPAIGN_STATUSES
        else "",
        archived=request.args.get("archived") == "1",
    )  # fmt: skip
    rows = listing.find(wanted)
    return render_template(
        "admin/campaigns.html",
        campaigns=rows,
        counts=listing.message_counts(rows),
        wanted=wanted,
        statuses=CAMPAIGN_STATUSES,
        archived_count=listing.archived_count(),
        archivable=listing.ARCHIVABLE,
    )


@bp.post("/campaigns/<int:campaign_id>/duplicate")
@editor_required
def campaign_duplicate(campaign_id: int):  # noqa: ANN201
    """Copy a campaign into a new draft and open it."""
    campaign = get_or_404(Campaign, campaign_id)
    copy = copying.duplicate_campaign(campaign, current_user.id)
    db.session.commit()
    flash(f"Copied into a new draft, “{copy.name}”. Check its start date before scheduling.")
    return redirect(url_for("admin.campaign", campaign_id=copy.id), 303)


@bp.post("/campaigns/<int:campaign_id>/archive")
@editor_required
def campaign_archive(campaign_id: int):  # noqa: ANN201
    """Archive (or, with ``undo``, restore) a draft or closed campaign."""
    campaign = get_or_404(Campaign, campaign_id)
    if request.form.get("undo") == "1":
        listing.unarchive(campaign, current_user.id)
        db.session.commit()
        flash(f"“{campaign.name}” is back in the campaign list.")
        return redirect(url_for("admin.campaigns"), 303)
    try:
        listing.archive(campaign, current_user.id)
    except ValueError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("admin.campaign", campaign_id=campaign.id), 303)
    db.session.commit()
    flash(f"“{campaign.name}” archived: find it under Archived; its results are kept.")
    return redirect(url_for("admin.campaigns"), 303)


@bp.post("/steps/<int:step_id>/duplicate")
@editor_required
def step_duplicate(step_id: int):  # noqa: ANN201
    """Copy a step right after itself."""
    step = get_or_404(Step, step_id)
    campaign = step.campaign
    try:
        copy = copying.duplicate_step(step, current_user.id)
    except EditError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("admin.campaign", campaign_id=campaign.id), 303)
    db.session.commit()
    flash(f"Step {step.position + 1} copied as step {copy.position + 1}; change its timing.")
    return redirect(url_for("admin.step_edit", step_id=copy.id), 303)
