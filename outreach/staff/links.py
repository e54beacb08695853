"""Invitations and password resets by email: signed links (itsdangerous) that name a
``staff_links`` row, expire (24 h / 1 h) and work once.

Both requests answer the same for known and unknown addresses: the caller shows one
message whatever happened here.
"""

from __future__ import annotations

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import update

from outreach.clock import now as clock_now
from outreach.extensions import db
from outreach.models import StaffUser
from outreach.models.staff import ROLES, StaffLink
from outreach.staff import accounts, audit, emails

MAX_AGE = {"invite": 24 * 3600, "reset": 3600}
PATHS = {"invite": "/admin/invite/", "reset": "/admin/reset/"}


class LinkError(ValueError):
    """A link that is forged, expired or already used (the message says which)."""


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        current_app.config["SECRET_KEY"], salt=f"outreach.staff.{purpose}"
    )


def _url(link: StaffLink) -> str:
    token = _serializer(link.purpose).dumps([link.id, link.email])
    return current_app.config["OUTREACH_BASE_URL"] + PATHS[link.purpose] + token


def invite(email: str, role: str, actor_id: int | None) -> None:
    """Email an invitation to join as ``role``; an address that already has an account
    gets nothing (the admin sees the same message). Raises StaffError for bad input."""
    if role not in ROLES:
        raise accounts.StaffError(f"role must be one of {', '.join(ROLES)}")
    email = accounts.check_email(email)
    if accounts.by_email(email) is not None:
        audit.audit(actor_id, "staff.invite_skipped", "staff_user", None, "address has an account")
        return
    link = StaffLink(purpose="invite", email=email, role=role, created_by=actor_id)
    db.session.add(link)
    db.session.flush()
    audit.audit(actor_id, "staff.invite", "staff_link", link.id, f"{email} as {role}")
    emails.send_staff_email(
        email,
        "You're invited to the Outreach staff workspace",
        f"You have been invited to the Outreach staff workspace as {role}.\n\n"
        "Open the link below to choose your password. It works once, within 24 hours.",
        _url(link),
    )


def request_reset(email: str | None) -> None:
    """Email a password-reset link if an active account has this address; nothing
    otherwise (the page says the same either way)."""
    user = accounts.by_email(email)
    if user is None or not user.active:
        return
    link = StaffLink(purpose="reset", email=user.email, staff_user_id=user.id)
    db.session.add(link)
    db.session.flush()
    audit.audit(None, "staff.reset_request", "staff_user", user.id, user.email)
    emails.send_staff_email(
        user.email,
        "Reset your Outreach password",
        "Someone (hopefully you) asked to reset the password of your Outreach staff "
        "account.\n\nOpen the link below to choose a new one. It works once, within an "
        "hour. If you did not ask, ignore this email: your password stays as it is.",
        _url(link),
    )


def open_link(token: str, purpose: str) -> StaffLink:
    """The live link a token names, or LinkError."""
    try:
        link_id, email = _serializer(purpose).loads(token, max_age=MAX_AGE[purpose])
    except SignatureExpired:
        raise LinkError("This link has expired. Ask for a new one.") from None
    except (BadSignature, ValueError, TypeError, UnicodeError):
        raise LinkError("This link is not valid.") from None
    link = db.session.get(StaffLink, link_id) if isinstance(link_id, int) else None
    if link is None or link.purpose != purpose or link.email != email:
        raise LinkError("This link is not valid.")
    if link.used_at is not None:
        raise LinkError("This link was already used. Ask for a new one.")
    return link


def _spend(link: StaffLink) -> None:
    """Mark the link used, guarded: of two requests racing, one wins."""
    spent = db.session.execute(
        update(StaffLink)
        .where(StaffLink.id == link.id, StaffLink.used_at.is_(None))
        .values(used_at=clock_now())
    )
    if spent.rowcount != 1:
        raise LinkError("This link was already used. Ask for a new one.")


def accept_invite(link: StaffLink, password: str) -> StaffUser:
    """Create the invited account with the chosen password; spends the link."""
    if accounts.by_email(link.email) is not None:
        raise LinkError("An account with this address already exists; sign in instead.")
    user = accounts.create_staff(link.email, password, link.role or "viewer")
    _spend(link)
    audit.audit(user.id, "staff.invite_accept", "staff_user", user.id, f"as {user.role}")
    return user


def reset_password(link: StaffLink, password: str) -> StaffUser:
    """Set a new password from a reset link; spends it (and any other open reset link of
    the account) and ends the account's other sessions."""
    user = db.session.get(StaffUser, link.staff_user_id) if link.staff_user_id else None
    if user is None or not user.active:
        raise LinkError("This link is not valid.")
    accounts.set_password(user, password)
    _spend(link)
    db.session.execute(
        update(StaffLink)
        .where(StaffLink.staff_user_id == user.id, StaffLink.purpose == "reset")
        .where(StaffLink.used_at.is_(None))
        .values(used_at=clock_now())
    )
    audit.audit(user.id, "staff.password_reset", "staff_user", user.id, user.email)
    return user
