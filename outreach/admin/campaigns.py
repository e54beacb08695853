"""Campaign pages: list, create, the sequence editor (with each step's Spanish version),
preflight and lifecycle (the step editor: ``admin/step_editor.py``; previews and test sends:
``admin/previews.py``).

Views only parse forms and call the campaign services (``outreach.campaigns``); the rules
live there.
"""

from __future__ import annotations

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from outreach.admin import bp
from outreach.admin.auth import editor_required, recent_auth_required
from outreach.admin.common import confirmed, form_bool, form_int, form_str, get_or_404
from outreach.audiences import editing as audience_editing
from outreach.campaigns import editing as campaign_editing
from outreach.campaigns import lifecycle
from outreach.campaigns import timeline as campaign_timeline
from outreach.campaigns.editing import CampaignInput, EditError
from outreach.campaigns.preflight import check as preflight
from outreach.campaigns.preflight import findings as preflight_findings
from outreach.extensions import db
from outreach.models import Audience, Campaign, Step
from outreach.results import reports

LIFECYCLE = {
    "pause": ("Pause", "Pausing stops new sends at once. Queued messages wait until you resume."),
    "resume": (
        "Resume",
        "Resuming sends the messages that are due, each inside its recipient's delivery window.",
    ),
    "cancel": (
        "Cancel",
        "Cancelling is final: queued messages become cancelled and nothing more is sent. "
        "Messages already sent are not affected.",
    ),
}


def _audiences() -> list[Audience]:
    return list(db.session.scalars(select(Audience).order_by(Audience.name)))


def _campaign_form(data: CampaignInput, campaign: Campaign | None, errors: dict | None = None):  # noqa: ANN202
    """The campaign details form; 400 when it comes back with errors."""
    page = render_template(
        "admin/campaign_form.html",
        data=data,
        campaign=campaign,
        audiences=_audiences(),
        errors=errors or {},
    )
    return (page, 400) if errors else page


def _campaign_input() -> CampaignInput:
    return CampaignInput(
        name=form_str("name"),
        audience_id=form_int("audience_id"),
        anchor_kind=form_str("anchor_kind", "date"),
        anchor_date=form_str("anchor_date"),
        track_links=form_bool("track_links"),
    )


@bp.route("/campaigns/new", methods=["GET", "POST"])
@editor_required
def campaign_new():  # noqa: ANN201
    """Create a draft campaign: name, audience, anchor."""
    if request.method == "GET":
        return _campaign_form(
            CampaignInput(audience_id=request.args.get("audience_id", type=int)), None
        )
    data = _campaign_input()
    try:
        campaign = campaign_editing.create_campaign(data, current_user.id)
    except EditError as exc:
        db.session.rollback()
        return _campaign_form(data, None, exc.errors)
    db.session.commit()
    flash("Campaign created. Now add its steps.")
    return redirect(url_for("admin.campaign", campaign_id=campaign.id), 303)


@bp.route("/campaigns/<int:campaign_id>/edit", methods=["GET", "POST"])
@editor_required
def campaign_edit(campaign_id: int):  # noqa: ANN201
    """Rename a campaign; change audience and anchor while it is a draft."""
    campaign = get_or_404(Campaign, campaign_id)
    if request.method == "GET":
        data = CampaignInput(
            name=campaign.name,
            audience_id=campaign.audience_id,
            anchor_kind=campaign.anchor_kind,
            anchor_date=campaign.anchor_date.isoformat() if campaign.anchor_date else "",
            track_links=bool(campaign.track_links),
        )
        return _campaign_form(data, campaign)
    data = _campaign_input()
    try:
        campaign_editing.update_campaign(campaign, data, current_user.id)
    except EditError as exc:
        db.session.rollback()
        return _campaign_form(data, campaign, exc.errors)
    db.session.commit()
    flash("Saved.")
    return redirect(url_for("admin.campaign", campaign_id=campaign.id), 303)


@bp.get("/campaigns/<int:campaign_id>")
@login_required
def campaign(campaign_id: int):  # noqa: ANN201
    """The sequence: a timeline of steps, live counts by state, lifecycle buttons."""
    campaign = get_or_404(Campaign, campaign_id)
    counts = reports.step_counts(campaign)
    steps = sorted(campaign.steps, key=lambda s: s.position)
    timeline = campaign_timeline.timeline(campaign)
    return render_template(
        "admin/campaign.html",
        campaign=campaign,
        steps=steps,
        timeline=timeline,
        sequence=sorted(timeline, key=lambda entry: entry.number),
        counts=counts,
        states=reports.STATE_ORDER,
        rows={s.id: sum(counts.get(s.id, {}).values()) for s in steps},
        reach=audience_editing.reach(campaign.audience),
        first_sms=next((s for s in steps if s.channel == "sms"), None),
    )


@bp.get("/campaigns/<int:campaign_id>/counts.json")
@login_required
def campaign_counts(campaign_id: int):  # noqa: ANN201
    """Live counts by step and state (polled by the campaign page)."""
    campaign = get_or_404(Campaign, campaign_id)
    counts = reports.step_counts(campaign)
    totals = dict.fromkeys(reports.STATE_ORDER, 0)
    for row in counts.values():
        for state, n in row.items():
            totals[state] += n
    return jsonify(
        status=campaign.status,
        paused_reason=campaign.paused_reason,
        steps={str(step_id): row for step_id, row in counts.items()},
        totals=totals,
    )


# --------------------------------------------------------------------------- steps


@bp.route("/steps/<int:step_id>/delete", methods=["GET", "POST"])
@editor_required
def step_delete(step_id: int):  # noqa: ANN201
    """Delete a step that has nothing in the outbox, after a confirmation."""
    step = get_or_404(Step, step_id)
    campaign = step.campaign
    if request.method == "GET" or not confirmed():
        return render_template(
            "admin/confirm.html",
            title=f"Delete step {step.position + 1}?",
            message=f"The {step.channel} step '{(step.subject or step.body)[:80]}' will be removed "
            "from the sequence.",
            action=url_for("admin.step_delete", step_id=step.id),
            button="Delete step",
            danger=True,
            back=url_for("admin.campaign", campaign_id=campaign.id),
        )
    try:
        campaign_editing.delete_step(step, current_user.id)
    except EditError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("admin.campaign", campaign_id=campaign.id), 303)
    db.session.commit()
    flash("Step deleted.")
    return redirect(url_for("admin.campaign", campaign_id=campaign.id), 303)


@bp.post("/steps/<int:step_id>/move")
@editor_required
def step_move(step_id: int):  # noqa: ANN201
    """Move a step up or down the sequence (drafts only)."""
    step = get_or_404(Step, step_id)
    campaign = step.campaign
    offset = -1 if request.form.get("direction") == "up" else 1
    try:
        campaign_editing.move_step(step, offset, current_user.id)
    except EditError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
    return redirect(
        url_for("admin.campaign", campaign_id=campaign.id, _anchor=f"step-{step.id}"), 303
    )


# --------------------------------------------------------------------------- lifecycle


@bp.get("/campaigns/<int:campaign_id>/preflight")
@login_required
def campaign_preflight(campaign_id: int):  # noqa: ANN201
    """Errors and warnings; the schedule button (errors block it, warnings need a tick)."""
    campaign = get_or_404(Campaign, campaign_id)
    return _preflight_page(campaign, {})


def _preflight_page(campaign: Campaign, errors: dict, status: int = 200):  # noqa: ANN202
    findings = preflight.check_campaign(campaign)
    steps = sorted(campaign.steps, key=lambda s: s.position)
    return render_template(
        "admin/preflight.html",
        campaign=campaign,
        steps=steps,
        errors_found=preflight_findings.errors(findings),
        warnings_found=preflight_findings.warnings(findings),
        errors=errors,
        reach=audience_editing.reach(campaign.audience),
        timeline=campaign_timeline.timeline(campaign),
    ), status


@bp.post("/campaigns/<int:campaign_id>/schedule")
@editor_required
@recent_auth_required
def campaign_schedule(campaign_id: int):  # noqa: ANN201
    """Schedule a draft after preflight (POST with confirm=yes)."""
    campaign = get_or_404(Campaign, campaign_id)
    if not confirmed():
        return _preflight_page(campaign, {"": "Press the Schedule button to confirm."}, 400)
    try:
        lifecycle.schedule(
            campaign, acknowledged=form_bool("acknowledge"), actor_id=current_user.id
        )
    except lifecycle.LifecycleError as exc:
        db.session.rollback()
        campaign = db.session.get(Campaign, campaign_id)
        return _preflight_page(campaign, exc.errors, 400)
    db.session.commit()
    flash(f"'{campaign.name}' is {campaign.status}.")
    return redirect(url_for("admin.campaign", campaign_id=campaign.id), 303)


@bp.route(
    "/campaigns/<int:campaign_id>/<any(pause, resume, cancel):action>", methods=["GET", "POST"]
)
@editor_required
def campaign_lifecycle(campaign_id: int, action: str):  # noqa: ANN201
    """Pause, resume or cancel, each behind a confirmation page."""
    campaign = get_or_404(Campaign, campaign_id)
    title, explanation = LIFECYCLE[action]
    if request.method == "GET" or not confirmed():
        return render_template(
            "admin/confirm.html",
            title=f"{title} '{campaign.name}'?",
            message=explanation,
            action=url_for("admin.campaign_lifecycle", campaign_id=campaign.id, action=action),
            button=f"{title} campaign",
            danger=action == "cancel",
            reason=action == "pause",
            back=url_for("admin.campaign", campaign_id=campaign.id),
        )
    try:
        if action == "pause":
            lifecycle.pause(campaign, form_str("reason"), current_user.id)
            done = "paused"
        elif action == "resume":
            lifecycle.resume(campaign, current_user.id)
            done = "resumed"
        else:
            count = lifecycle.cancel(campaign, current_user.id)
            done = f"cancelled; {count} queued message(s) will not be sent"
    except lifecycle.LifecycleError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("admin.campaign", campaign_id=campaign_id), 303)
    db.session.commit()
    flash(f"Campaign {done}.")
    return redirect(url_for("admin.campaign", campaign_id=campaign.id), 303)
