"""Staff accounts: creation, roles and sign-in checks."""

from __future__ import annotations

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from outreach.clock import now as clock_now
from outreach.extensions import db
from outreach.models import StaffUser
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
