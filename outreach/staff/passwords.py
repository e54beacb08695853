"""The password policy: a minimum length, no common password (the list ships as
``common_passwords.txt``), not the account's own address."""

from __future__ import annotations

import string
from functools import cache
from pathlib import Path

MIN_LENGTH = 12
MAX_LENGTH = 200
COMMON_FILE = Path(__file__).with_name("common_passwords.txt")
_PADDING = string.digits + string.punctuation + string.whitespace


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list, lower case (comments and blank lines skipped)."""
    lines = COMMON_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(
        line.strip().lower() for line in lines if line.strip() and not line.startswith("#")
    )


def _guessable_forms(password: str) -> set[str]:
    """The password as guessing tools try it: as typed, without padding, without spaces."""
    lowered = password.lower()
    squeezed = "".join(ch for ch in lowered if ch.isalnum())
    return {lowered, lowered.strip(_PADDING), squeezed, squeezed.strip(string.digits)}


def problem(password: str, email: str = "") -> str | None:
    """Why this password may not be used (one sentence), or None when it is fine."""
    if len(password) < MIN_LENGTH:
        return f"the password needs at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"the password may have at most {MAX_LENGTH} characters"
    forms = _guessable_forms(password)
    squeezed = "".join(ch for ch in password.lower() if ch.isalnum())
    periodic = len(squeezed) > 1 and squeezed in (squeezed + squeezed)[1:-1]  # "abcabc"
    if forms & common_passwords() or len(set(password.lower())) < 4 or periodic:
        return "that password is too common or too easy to guess; choose another"
    local = email.strip().lower().partition("@")[0]
    if len(local) >= 4 and any(local in form for form in forms):
        return "the password must not contain your email address"
    return None
