"""Your own account (two-factor set-up, recovery codes, sign out everywhere) and the
pages reached from an email: forgotten password, reset link, invitation link."""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, logout_user
from flask_wtf import FlaskForm

from outreach.admin import bp
from outreach.admin.auth import client_ip, recent_auth_required
from outreach.admin.common import form_str
from outreach.campaigns import windows
from outreach.clock import now as clock_now
from outreach.extensions import db, limiter
from outreach.staff import accounts, links, local_time, sessions, sign_in, two_factor
from outreach.staff import audit as staff_audit

FORGOT_ANSWER = (
    "If that address belongs to a staff account, a link to reset its password is on its "
    "way. It works once, within an hour."
)


def _no_store(body: str, status: int = 200) -> Response:
    response = Response(body, status=status)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/account")
@login_required
def account():  # noqa: ANN201
    """Your account: second factor, recovery codes left, sign out everywhere."""
    left = two_factor.unused_recovery_codes(current_user) if current_user.two_factor_enabled else 0
    return render_template(
        "admin/account.html",
        recovery_left=left,
        zones=windows.common_zones(),
        clinic_zone=local_time.workspace_zone(None),
        now=clock_now(),
    )


@bp.post("/account/time-zone")
@login_required
def time_zone_change():  # noqa: ANN201
    """Choose the zone your staff pages show times in."""
    try:
        accounts.set_timezone(current_user._get_current_object(), form_str("timezone"))
    except accounts.StaffError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        chosen = current_user.timezone
        flash(
            f"Times are now shown in {chosen}."
            if chosen
            else "Times are now shown in the clinic's zone."
        )
    return redirect(url_for("admin.account"), 303)


@bp.route("/account/two-factor", methods=["GET", "POST"])
@login_required
@limiter.limit("10 per minute; 50 per hour", methods=["POST"])
def two_factor_setup():  # noqa: ANN201
    """Set up an authenticator: QR code and manual key, confirmed with a first code."""
    user = current_user._get_current_object()
    if user.two_factor_enabled:
        return redirect(url_for("admin.account"))
    form = FlaskForm()
    error = None
    if request.method == "POST" and form.validate():
        attempt, codes = sign_in.enrolment_code(user, request.form.get("code"), client_ip())
        db.session.commit()
        if attempt.verdict == "ok":
            session["auth_at"] = sessions.now()
            return _no_store(render_template("admin/recovery_codes.html", codes=codes))
        if attempt.verdict == "locked":
            logout_user()
            session.clear()
            flash("Too many wrong codes. Try again later.", "error")
            return redirect(url_for("admin.login"))
        error = "That code did not work. Check the time on your phone and enter the new code."
    secret = two_factor.begin_enrolment(user)
    db.session.commit()
    uri = two_factor.provisioning_uri(user)
    body = render_template(
        "admin/two_factor_setup.html",
        form=form,
        qr=two_factor.qr_data_uri(uri),
        key=two_factor.grouped_key(secret),
        error=error,
    )
    return _no_store(body, 400 if error else 200)


@bp.post("/account/recovery-codes")
@login_required
@recent_auth_required
def recovery_codes_renew():  # noqa: ANN201
    """Ten new recovery codes (the old ones stop working), shown once."""
    if not current_user.two_factor_enabled:
        return redirect(url_for("admin.account"), 303)
    codes = two_factor.new_recovery_codes(current_user)
    staff_audit.audit(
        current_user.id, "staff.2fa_recovery_renew", "staff_user", current_user.id, None
    )
    db.session.commit()
    return _no_store(render_template("admin/recovery_codes.html", codes=codes))


@bp.post("/account/password")
@login_required
@recent_auth_required
def password_change():  # noqa: ANN201
    """Choose a new password (policy checked); this session stays, every other one ends."""
    user = current_user._get_current_object()
    password = request.form.get("password") or ""
    if password != (request.form.get("password_again") or ""):
        error = "The two passwords are not the same."
    else:
        try:
            accounts.set_password(user, password)
        except accounts.StaffError as exc:
            error = str(exc)
        else:
            staff_audit.audit(user.id, "staff.password_change", "staff_user", user.id, None)
            db.session.commit()
            session["sv"] = user.session_version
            flash("Your password is changed; your other sessions have ended.")
            return redirect(url_for("admin.account"), 303)
    db.session.rollback()
    flash(error, "error")
    return redirect(url_for("admin.account"), 303)


@bp.post("/account/sign-out-everywhere")
@login_required
def sign_out_everywhere():  # noqa: ANN201
    """End every session of this account, on every device, this one included."""
    user = current_user._get_current_object()
    user.session_version = (user.session_version or 0) + 1
    staff_audit.audit(user.id, "staff.sign_out_everywhere", "staff_user", user.id, None)
    db.session.commit()
    logout_user()
    session.clear()
    flash("You are signed out on every device.")
    return redirect(url_for("admin.login"), 303)


@bp.route("/forgot", methods=["GET", "POST"])
@limiter.limit("5 per minute; 20 per hour", methods=["POST"])
def forgot_password():  # noqa: ANN201
    """Ask for a reset link; the answer is the same for every address."""
    form = FlaskForm()
    if request.method == "POST" and form.validate():
        links.request_reset(form_str("email")[:320])
        db.session.commit()
        return render_template("admin/forgot.html", form=form, sent=FORGOT_ANSWER)
    return render_template("admin/forgot.html", form=form, sent=None)


def _choose_password(purpose: str, token: str):  # noqa: ANN202
    """The shared page behind a reset or invitation link: choose a password, twice."""
    form = FlaskForm()
    try:
        link = links.open_link(token, purpose)
    except links.LinkError as exc:
        return render_template("admin/link_error.html", message=str(exc)), 400
    error = None
    if request.method == "POST" and form.validate():
        password = request.form.get("password") or ""
        if password != (request.form.get("password_again") or ""):
            error = "The two passwords are not the same."
        else:
            try:
                if purpose == "reset":
                    links.reset_password(link, password)
                else:
                    links.accept_invite(link, password)
            except (accounts.StaffError, links.LinkError) as exc:
                db.session.rollback()
                error = str(exc)
            else:
                db.session.commit()
                flash("Your password is set. Sign in with it now.")
                return redirect(url_for("admin.login"), 303)
    body = render_template(
        "admin/choose_password.html",
        form=form,
        purpose=purpose,
        email=link.email,
        error=error,
        min_length=accounts.MIN_PASSWORD,
    )
    return _no_store(body, 400 if error else 200)


@bp.route("/reset/<token>", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])
def password_reset(token: str):  # noqa: ANN201
    """A password-reset link (one hour, once)."""
    return _choose_password("reset", token)


@bp.route("/invite/<token>", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])
def invite_accept(token: str):  # noqa: ANN201
    """An invitation link (24 hours, once)."""
    return _choose_password("invite", token)
