"""The step editor: a new or existing step's form (Markdown or HTML body, Spanish version),
its checks as you type and its live preview. The rules live in ``outreach.campaigns``."""

from __future__ import annotations

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from outreach.admin import bp
from outreach.admin.auth import editor_required
from outreach.admin.common import form_bool, form_int, form_str, form_text, get_or_404
from outreach.campaigns import blocks as saved_blocks
from outreach.campaigns import editing as campaign_editing
from outreach.campaigns import preview
from outreach.campaigns.editing import EditError
from outreach.campaigns.preflight import step_checks
from outreach.campaigns.step_input import HTML, MARKDOWN, StepInput
from outreach.consent import wording
from outreach.extensions import db
from outreach.models import Campaign, Step
from outreach.rendering import markdown as markdown_rendering
from outreach.rendering import templates


def _step_input(channel: str) -> StepInput:
    parts = [form_int("after_days", 0), form_int("after_hours", 0), form_int("after_mins", 0)]
    after = None if None in parts else parts[0] * 1440 + parts[1] * 60 + parts[2]  # type: ignore[operator]
    return StepInput(
        channel=channel,
        day_offset=form_int("day_offset", 0),
        send_time=form_str("send_time", "10:00"),
        after_minutes=after,
        subject=form_str("subject"),
        preheader=form_str("preheader"),
        html=form_text("html"),
        text=form_text("text"),
        body=form_text("body").strip(),
        include_late_joiners=form_bool("include_late_joiners"),
        es_subject=form_str("es_subject"),
        es_preheader=form_str("es_preheader"),
        es_html=form_text("es_html"),
        es_text=form_text("es_text"),
        es_body=form_text("es_body").strip(),
        writing=form_str("writing", HTML) if channel == "email" else HTML,
        markdown=form_text("markdown"),
        es_markdown=form_text("es_markdown"),
    ).rendered()


def _editor(
    campaign: Campaign, step: Step | None, data: StepInput, errors: dict, status: int = 200
):  # noqa: ANN202
    audience = campaign.audience
    steps = sorted(campaign.steps, key=lambda s: s.position)
    sms_steps = [s for s in steps if s.channel == "sms"]
    will_be_first = data.channel == "sms" and (
        (step is not None and sms_steps and sms_steps[0].id == step.id)
        or (step is None and not sms_steps)
    )
    number = (steps.index(step) + 1) if step is not None else len(steps) + 1
    return render_template(
        "admin/step_form.html",
        campaign=campaign,
        step=step,
        data=data,
        errors=errors,
        checks=step_checks.editor_checks(campaign, data, number),
        variables=templates.DOCUMENTED_VARIABLES,
        first_sms=will_be_first,
        brand=wording.program(audience),
        rows=campaign_editing.row_count(step) if step is not None else 0,
        number=number,
        blocks=saved_blocks.all_blocks() if data.channel == "email" else [],
        as_html=saved_blocks.as_html,
        markdown_mode=data.in_markdown,
    ), status


def _flash_checks(campaign: Campaign, data: StepInput, number: int) -> None:
    """After a save: the editor's warnings for the saved copy, so they are seen once more."""
    for finding in step_checks.editor_checks(campaign, data, number):
        flash(f"Step {number} · {finding.field}: {finding.message}", "warning")


@bp.post("/campaigns/<int:campaign_id>/steps/check")
@editor_required
def step_check(campaign_id: int):  # noqa: ANN201
    """The editor's warnings for the copy as typed (JSON; the step form posts itself here)."""
    campaign = get_or_404(Campaign, campaign_id)
    channel = request.form.get("channel", "email")
    if channel not in ("email", "sms"):
        abort(404)
    number = form_int("number", 1) or 1
    found = step_checks.editor_checks(campaign, _step_input(channel), number)
    return jsonify(checks=[{"field": f.field, "message": f.message} for f in found])


@bp.post("/campaigns/<int:campaign_id>/steps/preview")
@editor_required
def step_live_preview(campaign_id: int):  # noqa: ANN201
    """The email as typed (saved or not), rendered by the sender's renderer for a sample
    person (JSON; the editor shows it beside the form on wide screens)."""
    campaign = get_or_404(Campaign, campaign_id)
    if request.form.get("channel") != "email":
        abort(404)
    step_id = form_int("step_id", 0) or None
    language = "es" if request.form.get("lang") == "es" else "en"
    data = _step_input("email")
    shown = preview.preview(preview.draft_step(campaign, data, step_id), None, language)
    return jsonify(
        subject=shown.subject,
        preheader=shown.preheader,
        html=shown.html,
        language=shown.language,
        error=shown.error,
        bodies={  # what the Markdown makes, for a switch to HTML
            "html": markdown_rendering.to_html(data.markdown),
            "es_html": markdown_rendering.to_html(data.es_markdown),
        },
    )


@bp.route("/campaigns/<int:campaign_id>/steps/new", methods=["GET", "POST"])
@editor_required
def step_new(campaign_id: int):  # noqa: ANN201
    """Add an email or SMS step."""
    campaign = get_or_404(Campaign, campaign_id)
    channel = request.values.get("channel", "email")
    if channel not in ("email", "sms"):
        abort(404)
    if request.method == "GET":
        data = StepInput(channel=channel, writing=MARKDOWN)
        last = max(campaign.steps, key=lambda s: s.position, default=None)
        if last is not None:
            data.day_offset = last.day_offset
            data.after_minutes = last.after_minutes
        if channel == "sms":
            data.body = ""
        return _editor(campaign, None, data, {})
    data = _step_input(channel)
    try:
        step = campaign_editing.add_step(campaign, data, current_user.id)
    except EditError as exc:
        db.session.rollback()
        return _editor(campaign, None, data, exc.errors, 400)
    db.session.commit()
    flash(f"Step {step.position + 1} added.")
    _flash_checks(campaign, data, step.position + 1)
    return redirect(
        url_for("admin.campaign", campaign_id=campaign.id, _anchor=f"step-{step.id}"), 303
    )


@bp.route("/steps/<int:step_id>/edit", methods=["GET", "POST"])
@editor_required
def step_edit(step_id: int):  # noqa: ANN201
    """Edit a step; the page says which messages an edit reaches."""
    step = get_or_404(Step, step_id)
    campaign = step.campaign
    if request.method == "GET":
        return _editor(campaign, step, StepInput.from_step(step), {})
    data = _step_input(step.channel)
    try:
        campaign_editing.update_step(step, data, current_user.id)
    except EditError as exc:
        db.session.rollback()
        step = db.session.get(Step, step_id)
        return _editor(step.campaign, step, data, exc.errors, 400)
    db.session.commit()
    flash(
        f"Step {step.position + 1} saved."
        + (" The change applies to messages not yet sent." if campaign.status != "draft" else "")
    )
    _flash_checks(campaign, data, step.position + 1)
    return redirect(
        url_for("admin.campaign", campaign_id=campaign.id, _anchor=f"step-{step.id}"), 303
    )
