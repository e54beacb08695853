"""Audience pages: list, create, edit (the rules live in outreach.audiences.editing)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from outreach.admin import bp
from outreach.admin.auth import editor_required
from outreach.admin.common import form_bool, form_str, form_text, get_or_404
from outreach.audiences import editing as audience_editing
from outreach.audiences.editing import AudienceError, AudienceInput
from outreach.campaigns import windows
from outreach.consent import tokens
from outreach.extensions import db
from outreach.models import Audience


def public_form_url(audience: Audience) -> str:
    """The absolute address of an audience's public sign-up form."""
    return tokens.public_url(url_for("public.subscribe", slug=audience.slug))


def _input() -> AudienceInput:
    return AudienceInput(
        name=form_str("name"),
        slug=form_str("slug").lower(),
        channels=tuple(request.form.getlist("channels")),
        double_opt_in=form_bool("double_opt_in"),
        single_opt_in_for_imports=form_bool("single_opt_in_for_imports"),
        default_timezone=form_str("default_timezone"),
        organisation_name=form_str("organisation_name"),
        postal_address=form_text("postal_address").strip(),
        support_email=form_str("support_email"),
        support_phone=form_str("support_phone"),
        from_email=form_str("from_email"),
        sms_program_name=form_str("sms_program_name"),
        sms_frequency_text=form_str("sms_frequency_text"),
        email_window_start=form_str("email_window_start"),
        email_window_end=form_str("email_window_end"),
        track_opens=form_bool("track_opens"),
    )


def _form(
    data: AudienceInput, audience: Audience | None, errors: dict[str, str], status: int = 200
):  # noqa: ANN202
    return render_template(
        "admin/audience_form.html",
        data=data,
        audience=audience,
        errors=errors,
        zones=windows.common_zones(),
    ), status


@bp.get("/audiences")
@login_required
def audiences():  # noqa: ANN201
    """Every audience with its channels, subscriber counts and public form link."""
    rows = db.session.scalars(select(Audience).order_by(Audience.name)).all()
    return render_template(
        "admin/audiences.html",
        audiences=rows,
        counts=audience_editing.subscriber_counts(),
        form_url=public_form_url,
    )


@bp.route("/audiences/new", methods=["GET", "POST"])
@editor_required
def audience_new():  # noqa: ANN201
    """Create an audience."""
    if request.method == "GET":
        return _form(AudienceInput(), None, {})
    data = _input()
    try:
        audience = audience_editing.create_audience(data, current_user.id)
    except AudienceError as exc:
        db.session.rollback()
        return _form(data, None, exc.errors, 400)
    db.session.commit()
    flash(f"Audience '{audience.name}' created. Its public form: {public_form_url(audience)}")
    return redirect(url_for("admin.audiences"), 303)


@bp.route("/audiences/<int:audience_id>/edit", methods=["GET", "POST"])
@editor_required
def audience_edit(audience_id: int):  # noqa: ANN201
    """Edit an audience (not its slug: it is inside every unsubscribe link)."""
    audience = get_or_404(Audience, audience_id)
    if request.method == "GET":
        return _form(AudienceInput.from_audience(audience), audience, {})
    data = _input()
    data.slug = audience.slug
    try:
        changed = audience_editing.update_audience(audience, data, current_user.id)
    except AudienceError as exc:
        db.session.rollback()
        return _form(data, audience, exc.errors, 400)
    db.session.commit()
    flash(f"Saved '{audience.name}'." if changed else "Nothing changed.")
    return redirect(url_for("admin.audiences"), 303)
