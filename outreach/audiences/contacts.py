"""Normalising and validating contact details (email-validator, phonenumbers)."""

from __future__ import annotations

import hashlib
import re

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from phonenumbers import NumberParseException, PhoneNumberType

#: What a typed phone number may contain: digits, spaces, "+", "-", "(", ")", "." and "/".
_PHONE_CHARS = re.compile(r"[\d\s+\-().\/]+")


class InvalidContact(ValueError):
    """A contact detail that cannot be used; the message is shown to the person who typed it."""


def normalise_email(raw: str) -> str:
    """Return the normalised form of an email address, or raise InvalidContact."""
    raw = (raw or "").strip()
    if not raw:
        raise InvalidContact("Enter an email address.")
    if len(raw) > 320:
        raise InvalidContact("That email address is too long.")
    try:
        result = validate_email(raw, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidContact(f"That email address is not valid: {exc}") from None
    local, _, domain = result.normalized.rpartition("@")
    return f"{local}@{domain.lower()}".lower()


def normalise_phone(raw: str, region: str = "US") -> str:
    """Return a mobile number in E.164, or raise InvalidContact (invalid or landline)."""
    raw = (raw or "").strip()
    if not raw:
        raise InvalidContact("Enter a mobile phone number.")
    if len(raw) > 32:
        raise InvalidContact("That phone number is too long.")
    if not _PHONE_CHARS.fullmatch(raw):
        raise InvalidContact("Use only digits, spaces, +, - and brackets in the phone number.")
    try:
        number = phonenumbers.parse(raw, region)
    except NumberParseException:
        raise InvalidContact("That does not look like a phone number.") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidContact("That phone number is not valid.")
    kind = phonenumbers.number_type(number)
    if kind == PhoneNumberType.FIXED_LINE:
        raise InvalidContact("That looks like a landline; texts need a mobile number.")
    if kind not in (
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
        PhoneNumberType.UNKNOWN,
    ):
        raise InvalidContact("That number cannot receive text messages.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def address_hash(channel: str, address: str) -> str:
    """A stable hash of a normalised address, used to suppress without keeping the address."""
    return hashlib.sha256(f"{channel}:{address.strip().lower()}".encode()).hexdigest()


def clean_name(raw: str | None) -> str:
    """A first name safe to put in any message part: no markup characters, one line, short."""
    text = "".join(ch for ch in (raw or "") if ch not in '<>&"\\{}%' and ch.isprintable())
    return " ".join(text.split())[:100]
