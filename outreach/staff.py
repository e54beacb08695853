"""Staff accounts and API tokens: creation, password checks, token lookup."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from outreach.clock import now as clock_now
from outreach.extensions import db
from outreach.models import ApiToken, AuditLog, StaffUser
from outreach.models.staff import ROLES

MIN_PASSWORD = 10


class StaffError(ValueError):
    """Bad input for a staff account."""


def create_staff(email: str, password: str, role: str = "admin") -> StaffUser:
    """Create a staff user with a hashed password."""
    email = email.strip().lower()
    if role not in ROLES:
        raise StaffError(f"role must be one of {', '.join(ROLES)}")
    if "@" not in email:
        raise StaffError("enter an email address")
    if len(password) < MIN_PASSWORD:
        raise StaffError(f"the password needs at least {MIN_PASSWORD} characters")
    if db.session.scalar(select(StaffUser).filter_by(email=email)) is not None:
        raise StaffError("a staff user with that email already exists")
    user = StaffUser(email=email, password_hash=generate_password_hash(password), role=role)
    db.session.add(user)
    db.session.flush()
    return user


def authenticate(email: str, password: str) -> StaffUser | None:
    """The active staff user with these credentials, or None."""
    user = db.session.scalar(select(StaffUser).filter_by(email=(email or "").strip().lower()))
    if user is None or not user.active or not check_password_hash(user.password_hash, password):
        return None
    user.last_login_at = clock_now()
    return user


def hash_token(token: str) -> str:
    """SHA-256 of an API token (tokens are random, so no salt is needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_token(name: str, staff_user_id: int | None = None) -> tuple[ApiToken, str]:
    """Create an API token; the plain token is returned once and never stored."""
    plain = "ort_" + secrets.token_urlsafe(32)
    row = ApiToken(
        name=name[:100],
        token_hash=hash_token(plain),
        prefix=plain[:12],
        staff_user_id=staff_user_id,
    )
    db.session.add(row)
    db.session.flush()
    return row, plain


def token_owner(plain: str) -> ApiToken | None:
    """The live token row for a presented bearer token, or None."""
    row = db.session.scalar(select(ApiToken).filter_by(token_hash=hash_token(plain)))
    if row is None or row.revoked_at is not None:
        return None
    row.last_used_at = clock_now()
    return row


def audit(
    actor_id: int | None,
    action: str,
    target_type: str,
    target_id: object = None,
    detail: str | None = None,
) -> None:
    """Append a row to the audit log of staff actions."""
    db.session.add(
        AuditLog(
            actor_id=actor_id,
            action=action,
            target_type=target_type,
            target_id=None if target_id is None else str(target_id),
            detail=detail,
            created_at=clock_now(),
        )
    )
