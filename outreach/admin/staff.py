"""Staff management (admins only): the list, invitations, direct creation, role and
status changes, second-factor resets, the audit log page."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from outreach.admin import bp
from outreach.admin.auth import admin_required, recent_auth_required
from outreach.admin.common import confirmed, form_str, get_or_404
from outreach.admin.times import staff_zone
from outreach.extensions import db, limiter
from outreach.models import StaffUser
from outreach.models.staff import ROLES
from outreach.staff import accounts, links, two_factor
from outreach.staff import audit as staff_audit
from outreach.staff import audit_log as audit_log_service


def _staff_page(errors: dict[str, str] | None = None, form: dict[str, str] | None = None):  # noqa: ANN202
    users = db.session.scalars(select(StaffUser).order_by(StaffUser.email)).all()
    status = 400 if errors else 200
    return render_template(
        "admin/staff.html", users=users, roles=ROLES, errors=errors or {}, form=form or {}
    ), status


@bp.get("/staff")
@admin_required
def staff_list():  # noqa: ANN201
    """Staff accounts (admins only)."""
    return _staff_page()


@bp.post("/staff")
@admin_required
@recent_auth_required
def staff_create():  # noqa: ANN201
    """Create a staff account with a role and a first password."""
    email = form_str("email")
    role = form_str("role", "editor")
    try:
        user = accounts.create_staff(email, request.form.get("password") or "", role)
    except accounts.StaffError as exc:
        db.session.rollback()
        return _staff_page({"create": str(exc)}, {"email": email, "role": role})
    staff_audit.audit(
        current_user.id, "staff.create", "staff_user", user.id, f"{user.email} as {role}"
    )
    db.session.commit()
    flash(f"{user.email} can now log in as {user.role}.")
    return redirect(url_for("admin.staff_list"))


@bp.post("/staff/invite")
@admin_required
@recent_auth_required
@limiter.limit("30 per hour")
def staff_invite():  # noqa: ANN201
    """Invite by email and role; the answer is the same whether the address has an account."""
    email = form_str("email")[:320]
    role = form_str("role", "editor")
    try:
        links.invite(email, role, current_user.id)
    except accounts.StaffError as exc:
        db.session.rollback()
        return _staff_page({"invite": str(exc)}, {"invite_email": email, "invite_role": role})
    db.session.commit()
    flash(
        f"If {accounts.normalise_email(email)} has no account yet, an invitation to join as "
        f"{role} is on its way. The link works once, within 24 hours."
    )
    return redirect(url_for("admin.staff_list"), 303)


@bp.post("/staff/<int:user_id>")
@admin_required
@recent_auth_required
def staff_update(user_id: int):  # noqa: ANN201
    """Change a staff member's role, or deactivate / reactivate the account."""
    user = get_or_404(StaffUser, user_id)
    if user.id == current_user.id:
        flash("You cannot change your own account here; ask another admin.", "error")
        return redirect(url_for("admin.staff_list"), 303)
    role = form_str("role", user.role)
    active = form_str("active", "yes" if user.active else "no") == "yes"
    if role not in ROLES:
        abort(400)
    changes = []
    if role != user.role:
        changes.append(f"role {user.role} -> {role}")
        user.role = role
    if active != user.active:
        changes.append("reactivated" if active else "deactivated")
        user.active = active
    if changes:
        staff_audit.audit(
            current_user.id, "staff.update", "staff_user", user.id, "; ".join(changes)
        )
        db.session.commit()
        flash(f"{user.email}: {'; '.join(changes)}.")
    return redirect(url_for("admin.staff_list"), 303)


@bp.route("/staff/<int:user_id>/two-factor/reset", methods=["GET", "POST"])
@admin_required
@recent_auth_required
def staff_two_factor_reset(user_id: int):  # noqa: ANN201
    """Remove another account's second factor (a lost phone), behind a confirmation."""
    user = get_or_404(StaffUser, user_id)
    if user.id == current_user.id:
        flash("You cannot reset your own second factor; ask another admin.", "error")
        return redirect(url_for("admin.staff_list"), 303)
    if request.method == "GET" or not confirmed():
        return render_template(
            "admin/confirm.html",
            title=f"Reset two-factor sign-in for {user.email}?",
            message=(
                "Their authenticator and recovery codes stop working and their sessions end; "
                "they set up a new authenticator at their next sign-in."
            ),
            action=url_for("admin.staff_two_factor_reset", user_id=user.id),
            button="Reset two-factor sign-in",
            danger=True,
            back=url_for("admin.staff_list"),
        )
    two_factor.reset(user, current_user.id)
    db.session.commit()
    flash(f"{user.email}: two-factor sign-in reset; they enrol again at their next sign-in.")
    return redirect(url_for("admin.staff_list"), 303)


@bp.get("/audit")
@admin_required
def audit_log():  # noqa: ANN201
    """Staff actions, newest first, filtered by who, kind and days (admins only)."""
    filters = audit_log_service.parse_filters(request.args)
    return render_template(
        "admin/audit.html",
        entries=audit_log_service.find(filters, staff_zone()),
        filters=filters,
        kinds=audit_log_service.kinds(),
        actors=audit_log_service.actors(),
        limit=audit_log_service.PAGE_ROWS,
        link_for=_audit_link,
    )


def _audit_link(link: tuple[str, int] | None) -> str | None:
    """The staff page of an audit row's target."""
    if link is None:
        return None
    kind, target_id = link
    endpoints = {
        "campaign": ("admin.campaign", "campaign_id"),
        "audience": ("admin.audience_edit", "audience_id"),
        "subscriber": ("admin.subscriber", "subscriber_id"),
    }
    if kind in endpoints:
        endpoint, argument = endpoints[kind]
        return url_for(endpoint, **{argument: target_id})
    if kind == "staff":
        return url_for("admin.staff_list")
    if kind == "requests":
        return url_for("admin.requests")
    return None
