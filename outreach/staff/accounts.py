"""Staff accounts: creation, roles, passwords and the sign-in check."""

from __future__ import annotations

from functools import cache

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from outreach.clock import now as clock_now
from outreach.extensions import db
from outreach.models import StaffUser
from outreach.models.staff import ROLES
from outreach.staff import passwords

MIN_PASSWORD = passwords.MIN_LENGTH
#: werkzeug's scrypt (n=2**15, r=8, p=1). Hashes made with an older method (pbkdf2) still
#: verify and are re-hashed with this one at the next successful sign-in.
HASH_METHOD = "scrypt"


class StaffError(ValueError):
    """Bad input for a staff account."""


def normalise_email(email: str | None) -> str:
    """Addresses are stored and compared trimmed and in lower case."""
    return (email or "").strip().lower()


def check_email(email: str) -> str:
    """A normalised staff address, or StaffError."""
    email = normalise_email(email)
    local, at, domain = email.partition("@")
    if not at or not local or "." not in domain or len(email) > 320 or " " in email:
        raise StaffError("enter an email address")
    return email


def hash_password(password: str) -> str:
    """The stored form of a password."""
    return generate_password_hash(password, method=HASH_METHOD)


def check_password_policy(password: str, email: str = "") -> None:
    """StaffError when the password breaks the policy (length, common list, own address)."""
    why = passwords.problem(password, email)
    if why is not None:
        raise StaffError(why)


def by_email(email: str | None) -> StaffUser | None:
    """The staff user with this address (any state), or None."""
    return db.session.scalar(select(StaffUser).filter_by(email=normalise_email(email)))


def create_staff(email: str, password: str, role: str = "admin") -> StaffUser:
    """Create a staff user with a hashed password."""
    if role not in ROLES:
        raise StaffError(f"role must be one of {', '.join(ROLES)}")
    email = check_email(email)
    check_password_policy(password, email)
    if by_email(email) is not None:
        raise StaffError("a staff user with that email already exists")
    user = StaffUser(email=email, password_hash=hash_password(password), role=role)
    db.session.add(user)
    db.session.flush()
    return user


def set_password(user: StaffUser, password: str) -> None:
    """Replace a password (policy checked); every other session of the account ends."""
    check_password_policy(password, user.email)
    user.password_hash = hash_password(password)
    user.session_version = (user.session_version or 0) + 1


@cache
def set_timezone(user: StaffUser, zone: str) -> None:
    """The zone the user's staff pages show times in ("" = the clinic's, the first
    audience's); ``StaffError`` for a zone the pickers do not offer. Audited."""
    from outreach.staff import audit, local_time

    zone = zone.strip()
    if zone and not local_time.valid_choice(zone):
        raise StaffError("Choose a time zone from the list, such as America/Chicago.")
    user.timezone = zone or None
    audit.audit(user.id, "staff.timezone", "staff_user", user.id, zone or "clinic default")


def _decoy_hash(method: str) -> str:
    return generate_password_hash("no account has this password", method=method)


def password_matches(user: StaffUser | None, password: str) -> bool:
    """Check a password; an unknown account costs the same hashing time as a known one."""
    if user is None:
        check_password_hash(_decoy_hash(HASH_METHOD), password)
        return False
    return check_password_hash(user.password_hash, password)


def authenticate(email: str, password: str) -> StaffUser | None:
    """The active staff user with these credentials, or None (the same work either way).
    Does not mark a sign-in: ``signed_in`` does, once any second factor is through."""
    user = by_email(email)
    if not password_matches(user, password or "") or user is None or not user.active:
        return None
    if not user.password_hash.startswith(HASH_METHOD.partition(":")[0] + ":"):
        user.password_hash = hash_password(password)  # an old method: upgrade in place
    return user


def signed_in(user: StaffUser) -> None:
    """Record a completed sign-in."""
    user.last_login_at = clock_now()
