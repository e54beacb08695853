"""TOTP second factor (RFC 6238, pyotp): enrolment with a QR code (segno), codes checked
with one step of clock drift and never accepted twice, one-time recovery codes."""

from __future__ import annotations

import hashlib
import hmac
import secrets

import pyotp
import segno
from sqlalchemy import delete, select

from outreach.clock import now as clock_now
from outreach.extensions import db
from outreach.models import StaffUser
from outreach.models.staff import RecoveryCode
from outreach.staff import audit

ISSUER = "Outreach"
RECOVERY_CODE_COUNT = 10
#: Codes one step (30 s) either side of the server's clock are accepted.
VALID_WINDOW = 1
_RECOVERY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I


def begin_enrolment(user: StaffUser) -> str:
    """A new pending secret for an account without a confirmed authenticator (reused
    while pending, so reloading the page keeps the scanned code valid)."""
    if user.totp_secret is None or user.totp_confirmed_at is not None:
        user.totp_secret = pyotp.random_base32()
        user.totp_confirmed_at = None
        user.totp_last_step = None
    return user.totp_secret


def provisioning_uri(user: StaffUser) -> str:
    """The otpauth:// URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(user.totp_secret or "").provisioning_uri(name=user.email, issuer_name=ISSUER)


def qr_data_uri(uri: str) -> str:
    """The QR code of ``uri`` as an SVG data URI (made here; no outside service)."""
    return segno.make(uri, error="m").svg_data_uri(scale=5, border=2)


def grouped_key(secret: str) -> str:
    """The manual entry key in groups of four, easier to type."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _digits(code: str | None) -> str:
    return "".join((code or "").split())


def _matching_step(secret: str, code: str) -> int | None:
    totp = pyotp.TOTP(secret)
    current = totp.timecode(clock_now())
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def verify_code(user: StaffUser, code: str | None) -> bool:
    """Check a 6-digit code; a step at or before the last one accepted is a replay."""
    code = _digits(code)
    if user.totp_secret is None or len(code) != 6 or not code.isdigit():
        return False
    step = _matching_step(user.totp_secret, code)
    if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
        return False
    user.totp_last_step = step
    return True


def confirm_enrolment(user: StaffUser, code: str | None) -> list[str] | None:
    """Turn the pending secret on with a first code; returns the recovery codes (shown
    once), or None when the code is wrong."""
    if user.totp_secret is None or user.totp_confirmed_at is not None:
        return None
    if not verify_code(user, code):
        return None
    user.totp_confirmed_at = clock_now()
    audit.audit(user.id, "staff.2fa_enrol", "staff_user", user.id, user.email)
    return new_recovery_codes(user)


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def _normalise_recovery(code: str) -> str:
    return "".join(ch for ch in (code or "").upper() if ch.isalnum())


def new_recovery_codes(user: StaffUser) -> list[str]:
    """Replace the account's recovery codes with ten new ones (80 bits each); only their
    hashes are stored."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.staff_user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(16))
        codes.append("-".join(raw[i : i + 4] for i in range(0, 16, 4)))
        db.session.add(RecoveryCode(staff_user_id=user.id, code_hash=_hash(raw)))
    db.session.flush()
    return codes


def unused_recovery_codes(user: StaffUser) -> int:
    """How many recovery codes the account has left."""
    rows = db.session.scalars(
        select(RecoveryCode.id).filter_by(staff_user_id=user.id, used_at=None)
    ).all()
    return len(rows)


def use_recovery_code(user: StaffUser, code: str | None) -> bool:
    """Spend one recovery code (each works once)."""
    normalised = _normalise_recovery(code or "")
    if len(normalised) != 16:
        return False
    row = db.session.scalar(
        select(RecoveryCode).filter_by(
            staff_user_id=user.id, code_hash=_hash(normalised), used_at=None
        )
    )
    if row is None:
        return False
    row.used_at = clock_now()
    audit.audit(user.id, "staff.2fa_recovery_code", "staff_user", user.id, "one code used")
    return True


def check_second_factor(user: StaffUser, code: str | None) -> bool:
    """A current authenticator code or an unused recovery code."""
    if not user.two_factor_enabled:
        return False
    return verify_code(user, code) or use_recovery_code(user, code)


def reset(user: StaffUser, actor_id: int | None) -> None:
    """An admin removes an account's second factor (lost phone): it enrols again at its
    next sign-in; its sessions end. Audit-logged."""
    user.totp_secret = None
    user.totp_confirmed_at = None
    user.totp_last_step = None
    user.session_version = (user.session_version or 0) + 1
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.staff_user_id == user.id))
    audit.audit(actor_id, "staff.2fa_reset", "staff_user", user.id, user.email)
    db.session.flush()
