"""Login, logout and role checks for staff pages."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlparse

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from outreach.admin import bp
from outreach.admin.common import form_str, get_or_404
from outreach.extensions import db, limiter, login_manager
from outreach.models import AuditLog, StaffUser
from outreach.models.staff import ROLES
from outreach.staff import accounts
from outreach.staff import audit as staff_audit


@login_manager.user_loader
def load_user(user_id: str) -> StaffUser | None:
    """Flask-Login: the staff user for a session; a deactivated account's session ends."""
    user = db.session.get(StaffUser, int(user_id)) if user_id.isdigit() else None
    return user if user is not None and user.active else None


class LoginForm(FlaskForm):
    """Email and password."""

    email = StringField("Email", validators=[DataRequired(), Length(max=320)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


def editor_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Only admins and editors may change things; viewers get 403."""

    @wraps(view)
    @login_required
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_user.can_edit:
            abort(403)
        return view(*args, **kwargs)

    return wrapper


def admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Only admins."""

    @wraps(view)
    @login_required
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_user.role != "admin":
            abort(403)
        return view(*args, **kwargs)

    return wrapper


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/admin") and not urlparse(target).netloc:
        return target
    return url_for("admin.dashboard")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10 per minute; 50 per hour", methods=["POST"])
def login():  # noqa: ANN201
    """Staff login."""
    form = LoginForm()
    if form.validate_on_submit():
        user = accounts.authenticate(form.email.data, form.password.data)
        if user is not None:
            db.session.commit()
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
        flash("That email and password do not match.", "error")
        return render_template("admin/login.html", form=form), 401
    return render_template("admin/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():  # noqa: ANN201
    """End the session."""
    logout_user()
    flash("You are logged out.")
    return redirect(url_for("admin.login"))


# --------------------------------------------------------------------------- staff users


@bp.get("/staff")
@admin_required
def staff_list():  # noqa: ANN201
    """Staff accounts (admins only)."""
    users = db.session.scalars(select(StaffUser).order_by(StaffUser.email)).all()
    return render_template("admin/staff.html", users=users, roles=ROLES, errors={}, form={})


@bp.post("/staff")
@admin_required
def staff_create():  # noqa: ANN201
    """Create a staff account with a role."""
    email = form_str("email")
    role = form_str("role", "editor")
    try:
        user = accounts.create_staff(email, request.form.get("password") or "", role)
    except accounts.StaffError as exc:
        db.session.rollback()
        users = db.session.scalars(select(StaffUser).order_by(StaffUser.email)).all()
        return render_template(
            "admin/staff.html",
            users=users,
            roles=ROLES,
            errors={"create": str(exc)},
            form={"email": email, "role": role},
        ), 400
    staff_audit.audit(
        current_user.id, "staff.create", "staff_user", user.id, f"{user.email} as {role}"
    )
    db.session.commit()
    flash(f"{user.email} can now log in as {user.role}.")
    return redirect(url_for("admin.staff_list"))


@bp.post("/staff/<int:user_id>")
@admin_required
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


@bp.get("/audit")
@admin_required
def audit_log():  # noqa: ANN201
    """The latest staff actions (admins only)."""
    rows = db.session.execute(
        select(AuditLog, StaffUser.email)
        .outerjoin(StaffUser, StaffUser.id == AuditLog.actor_id)
        .order_by(AuditLog.id.desc())
        .limit(300)
    ).all()
    return render_template("admin/audit.html", rows=rows)
