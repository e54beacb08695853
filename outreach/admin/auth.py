"""Sign-in (password, then the TOTP code), sign-out, the session rules every staff page
passes (idle timeout, absolute lifetime, sign-out everywhere, enrolment when 2FA is
required), re-authentication before sensitive actions, and the role checks."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlparse

from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import confirm_login, current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from outreach.admin import bp
from outreach.extensions import db, limiter, login_manager
from outreach.models import StaffUser
from outreach.staff import sessions, sign_in

#: How long the step between the password and the code may take.
PENDING_SECONDS = 300
#: Pages a signed-in account without a second factor may open when 2FA is required.
ENROLMENT_ENDPOINTS = frozenset(
    {"admin.two_factor_setup", "admin.logout", "admin.login", "admin.login_code"}
)
LOCKED = (
    "Too many failed sign-in attempts. Sign-in is paused for {minutes} minutes; try again "
    "later, or reset your password."
)
MISMATCH = "That email and password do not match."


@login_manager.user_loader
def load_user(user_id: str) -> StaffUser | None:
    """Flask-Login: the staff user for a session; a deactivated account's session ends, and
    so does one made before the account's last "sign out everywhere" or password reset."""
    user = db.session.get(StaffUser, int(user_id)) if user_id.isdigit() else None
    if user is None or not user.active or session.get("sv") != user.session_version:
        return None
    return user


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


def _same_site_path(url: str | None) -> str | None:
    """The path (and query) of a URL on this site under /admin, else None."""
    if not url:
        return None
    parts = urlparse(url)
    if parts.netloc and parts.netloc != request.host:
        return None
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return path if path.startswith("/admin") and not path.startswith("//") else None


def recent_auth_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Sensitive actions (erasure, exports, role changes, API tokens, scheduling) need the
    password (and code) entered within OUTREACH_REAUTH_MINUTES; otherwise the person
    confirms it is them and comes back to the page (a POST changes nothing)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if sessions.recently_authenticated(session.get("auth_at"), sessions.now()):
            return view(*args, **kwargs)
        if request.method == "GET":
            back = request.full_path.rstrip("?")
        else:
            back = _same_site_path(request.referrer) or url_for("admin.dashboard")
        flash("Please confirm it's you to continue.")
        return redirect(url_for("admin.reauth", next=back), 303)

    return wrapper


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/admin") and not urlparse(target).netloc:
        return target
    return url_for("admin.dashboard")


def client_ip() -> str:
    """The address counted for the per-IP lockout (ProxyFix sets it behind a proxy)."""
    return request.remote_addr or "unknown"


def _locked_page(form: FlaskForm, template: str = "admin/login.html", **context: Any):  # noqa: ANN202
    minutes = round(current_app.config["OUTREACH_LOCKOUT_MINUTES"])
    flash(LOCKED.format(minutes=minutes), "error")
    return render_template(template, form=form, **context), 429


def complete_sign_in(user: StaffUser) -> None:
    """A fresh session for the user: the old session is dropped before login_user (no
    fixation), and its clocks start now."""
    sign_in.completed(user)
    db.session.commit()
    session.clear()
    login_user(user)
    at = sessions.now()
    session.update(started_at=at, seen_at=at, auth_at=at, sv=user.session_version)
    session.permanent = True


@bp.before_request
def session_rules():  # noqa: ANN201
    """Idle timeout, absolute lifetime and forced enrolment, on every staff request."""
    if not current_user.is_authenticated:
        return None
    at = sessions.now()
    reason = sessions.expiry_reason(session.get("started_at"), session.get("seen_at"), at)
    if reason is not None:
        logout_user()
        session.clear()
        if reason == "idle":
            minutes = round(current_app.config["OUTREACH_IDLE_TIMEOUT_MINUTES"])
            flash(f"You were signed out after {minutes} minutes without activity.")
        else:
            flash("Your session has ended; please sign in again.")
        back = request.full_path.rstrip("?") if request.method == "GET" else None
        return redirect(url_for("admin.login", next=back))
    if not request.path.endswith(".json"):  # pages polling in the background are not activity
        session["seen_at"] = at
    if (
        current_app.config["OUTREACH_REQUIRE_2FA"]
        and not current_user.two_factor_enabled
        and request.endpoint not in ENROLMENT_ENDPOINTS
    ):
        return redirect(url_for("admin.two_factor_setup"))
    return None


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10 per minute; 50 per hour", methods=["POST"])
def login():  # noqa: ANN201
    """Staff login, step one: email and password (the same answer for unknown addresses)."""
    form = LoginForm()
    if form.validate_on_submit():
        attempt = sign_in.with_password(form.email.data, form.password.data, client_ip())
        db.session.commit()
        if attempt.verdict == "locked":
            return _locked_page(form)
        if attempt.verdict == "wrong":
            flash(MISMATCH, "error")
            return render_template("admin/login.html", form=form), 401
        user = attempt.user
        if attempt.verdict == "code_needed":
            session.clear()
            session["pending"] = {"uid": user.id, "sv": user.session_version, "at": sessions.now()}
            return redirect(url_for("admin.login_code", next=request.args.get("next")))
        complete_sign_in(user)
        return redirect(_safe_next(request.args.get("next")))
    return render_template("admin/login.html", form=form)


def _pending_user() -> StaffUser | None:
    pending = session.get("pending")
    if not isinstance(pending, dict) or not isinstance(pending.get("at"), int | float):
        return None
    if sessions.now() - pending["at"] > PENDING_SECONDS:
        return None
    user = (
        db.session.get(StaffUser, pending.get("uid"))
        if isinstance(pending.get("uid"), int)
        else None
    )
    if user is None or not user.active or user.session_version != pending.get("sv"):
        return None
    return user


@bp.route("/login/code", methods=["GET", "POST"])
@limiter.limit("10 per minute; 50 per hour", methods=["POST"])
def login_code():  # noqa: ANN201
    """Staff login, step two: the authenticator code (or a recovery code)."""
    user = _pending_user()
    if user is None or not user.two_factor_enabled:
        session.pop("pending", None)
        flash("Please sign in again.")
        return redirect(url_for("admin.login"))
    form = FlaskForm()
    if request.method == "POST" and form.validate():
        attempt = sign_in.with_code(user, request.form.get("code"), client_ip())
        if attempt.verdict == "ok":
            complete_sign_in(user)
            return redirect(_safe_next(request.args.get("next")))
        db.session.commit()
        if attempt.verdict == "locked":
            session.pop("pending", None)
            return _locked_page(LoginForm(formdata=None))
        flash(
            "That code did not work. Enter the current 6-digit code, or a recovery code.", "error"
        )
        return render_template("admin/login_code.html", form=form), 401
    return render_template("admin/login_code.html", form=form)


@bp.route("/reauth", methods=["GET", "POST"])
@login_required
@limiter.limit("10 per minute; 50 per hour", methods=["POST"])
def reauth():  # noqa: ANN201
    """Confirm it's you (password, and code when enrolled) before a sensitive action."""
    form = FlaskForm()
    back = _safe_next(request.args.get("next"))
    if request.method == "POST" and form.validate():
        attempt = sign_in.again(
            current_user._get_current_object(),
            request.form.get("password"),
            request.form.get("code"),
            client_ip(),
        )
        db.session.commit()
        if attempt.verdict == "ok":
            session["auth_at"] = sessions.now()
            confirm_login()
            return redirect(back, 303)
        if attempt.verdict == "locked":
            logout_user()
            session.clear()
            return _locked_page(LoginForm(formdata=None))
        flash("That did not match. Try again.", "error")
        return render_template("admin/reauth.html", form=form, back=back), 401
    return render_template("admin/reauth.html", form=form, back=back)


@bp.post("/logout")
@login_required
def logout():  # noqa: ANN201
    """End the session."""
    logout_user()
    session.clear()
    flash("You are logged out.")
    return redirect(url_for("admin.login"))
