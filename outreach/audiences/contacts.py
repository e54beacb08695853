"""Normalising and validating contact details (email-validator, phonenumbers)."""

from __future__ import annotations

import hashlib
import re

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from phonenumbers import NumberParseException, PhoneNumberType

from outreach.i18n import N_

#: What a typed phone number may contain: digits, spaces, "+", "-", "(", ")", "." and "/".
_PHONE_CHARS = re.compile(r"[\d\s+\-().\/]+")


class InvalidContact(ValueError):
    """A contact detail that cannot be used; the message is shown to the person who typed it.

    ``reason`` is the catalogue's sentence (translated on a page); ``detail`` is the
    validator's own English explanation, shown after it."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason} {detail}".strip() if detail else reason)
        self.reason = reason
        self.detail = detail


def normalise_email(raw: str) -> str:
    """Return the normalised form of an email address, or raise InvalidContact."""
    raw = (raw or "").strip()
    if not raw:
        raise InvalidContact(N_("Enter an email address."))
    if len(raw) > 320:
        raise InvalidContact(N_("That email address is too long."))
    try:
        result = validate_email(raw, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidContact(N_("That email address is not valid:"), str(exc)) from None
    local, _, domain = result.normalized.rpartition("@")
    return f"{local}@{domain.lower()}".lower()


def normalise_phone(raw: str, region: str = "US", *, mobile_only: bool = True) -> str:
    """Return a mobile number in E.164, or raise InvalidContact (invalid or landline).

    ``mobile_only=False`` accepts any valid number we can call back (a landline too): the
    consultation request form asks for a number to phone, not to text."""
    raw = (raw or "").strip()
    if not raw:
        raise InvalidContact(N_("Enter a mobile phone number."))
    if len(raw) > 32:
        raise InvalidContact(N_("That phone number is too long."))
    if not _PHONE_CHARS.fullmatch(raw):
        raise InvalidContact(N_("Use only digits, spaces, +, - and brackets in the phone number."))
    try:
        number = phonenumbers.parse(raw, region)
    except NumberParseException:
        raise InvalidContact(N_("That does not look like a phone number.")) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidContact(N_("That phone number is not valid."))
    if not mobile_only:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    kind = phonenumbers.number_type(number)
    if kind == PhoneNumberType.FIXED_LINE:
        raise InvalidContact(N_("That looks like a landline; texts need a mobile number."))
    if kind not in (
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
        PhoneNumberType.UNKNOWN,
    ):
        raise InvalidContact(N_("That number cannot receive text messages."))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def address_hash(channel: str, address: str) -> str:
    """A stable hash of a normalised address, used to suppress without keeping the address."""
    return hashlib.sha256(f"{channel}:{address.strip().lower()}".encode()).hexdigest()


def clean_name(raw: str | None) -> str:
    """A first name safe to put in any message part: no markup characters, one line, short."""
    text = "".join(ch for ch in (raw or "") if ch not in '<>&"\\{}%' and ch.isprintable())
    return " ".join(text.split())[:100]
