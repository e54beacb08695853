"""The sign-in rules in order: lockout first (the same for every address), then the
password (an unknown address costs the same hashing), then the second factor; every
failure counts towards the lockout, a completed sign-in clears the count."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from outreach.models import StaffUser
from outreach.staff import accounts, lockout, two_factor

Verdict = Literal["locked", "wrong", "code_needed", "ok"]


@dataclass(frozen=True)
class Attempt:
    """What a sign-in step decided, and for whom (None unless the password matched)."""

    verdict: Verdict
    user: StaffUser | None = None


def _failed(email: str | None, ip: str) -> Attempt:
    return Attempt("locked" if lockout.record_failure(email, ip) else "wrong")


def with_password(email: str | None, password: str | None, ip: str) -> Attempt:
    """Step one: ``ok`` (no second factor), ``code_needed``, ``wrong`` or ``locked``."""
    if lockout.locked(email, ip):
        return Attempt("locked")
    user = accounts.authenticate(email or "", password or "")
    if user is None:
        return _failed(email, ip)
    return Attempt("code_needed" if user.two_factor_enabled else "ok", user)


def with_code(user: StaffUser, code: str | None, ip: str) -> Attempt:
    """Step two: an authenticator code or a recovery code."""
    if lockout.locked(user.email, ip):
        return Attempt("locked")
    if two_factor.check_second_factor(user, code):
        return Attempt("ok", user)
    return _failed(user.email, ip)


def again(user: StaffUser, password: str | None, code: str | None, ip: str) -> Attempt:
    """Re-authentication before a sensitive action: the password, and the code when the
    account has a second factor."""
    if lockout.locked(user.email, ip):
        return Attempt("locked")
    good = accounts.password_matches(user, password or "")
    if good and user.two_factor_enabled:
        good = two_factor.check_second_factor(user, code)
    if not good:
        return _failed(user.email, ip)
    lockout.clear(user.email)
    return Attempt("ok", user)


def completed(user: StaffUser) -> None:
    """A full sign-in: forget the failures, note the time."""
    lockout.clear(user.email)
    accounts.signed_in(user)


def enrolment_code(user: StaffUser, code: str | None, ip: str) -> tuple[Attempt, list[str]]:
    """The first code of a new authenticator: turns it on and returns the recovery codes
    (shown once); a wrong code counts like a wrong sign-in code."""
    if lockout.locked(user.email, ip):
        return Attempt("locked"), []
    codes = two_factor.confirm_enrolment(user, code)
    if codes is None:
        return _failed(user.email, ip), []
    lockout.clear(user.email)
    return Attempt("ok", user), codes
