"""Preview pages: a step as a chosen subscriber (or a sample) would get it, in English or
in its Spanish version, and test sends to staff. The rules live in
``outreach.campaigns.preview``."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from outreach.admin import bp
from outreach.admin.auth import editor_required
from outreach.admin.common import form_str, get_or_404
from outreach.campaigns import preview
from outreach.campaigns.editing import EditError
from outreach.extensions import db
from outreach.models import Step


@bp.get("/steps/<int:step_id>/preview")
@login_required
def step_preview(step_id: int):  # noqa: ANN201
    """A step as a chosen subscriber (or a sample person) would get it; test sends."""
    step = get_or_404(Step, step_id)
    campaign = step.campaign
    who = (request.args.get("who") or "").strip()[:200]
    lang = (request.args.get("lang") or "").strip()[:5] or None
    person = preview.find_audience_subscriber(campaign.audience, who) if who else None
    if who and person is None:
        flash("No subscriber of this audience matches that; showing a sample person.", "error")
    steps = sorted(campaign.steps, key=lambda s: s.position)
    shown = preview.preview(step, person, lang)
    return render_template(
        "admin/preview.html",
        campaign=campaign,
        step=step,
        number=steps.index(step) + 1,
        steps=steps,
        who=who,
        lang=lang,
        person=person,
        preview=shown,
        labels=preview.LANGUAGE_LABELS,
        staff_emails=preview.staff_emails(),
    )


@bp.post("/steps/<int:step_id>/test-send")
@editor_required
def step_test_send(step_id: int):  # noqa: ANN201
    """Send one [Test] copy of a step, in the language shown, to a staff address or phone."""
    step = get_or_404(Step, step_id)
    who = form_str("who")
    lang = form_str("lang")[:5] or None
    person = preview.find_audience_subscriber(step.campaign.audience, who) if who else None
    try:
        message = preview.send_test(
            step, to=form_str("to"), subscriber=person, actor_id=current_user.id, language=lang
        )
    except EditError as exc:
        db.session.commit()  # keep the audit row of a refused attempt
        flash(f"Not sent: {exc}", "error")
    else:
        db.session.commit()
        flash(message)
    return redirect(url_for("admin.step_preview", step_id=step.id, who=who or None, lang=lang), 303)
