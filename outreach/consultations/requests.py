"""A new consultation request from the public page: what it must contain, and storing it.

Rules:

* a name, and an email or a phone number (at least one), checked with email-validator
  and phonenumbers (any number we can call back, a landline too);
* a preferred contact time from :data:`CONTACT_TIMES`;
* a note of at most :data:`NOTE_LIMIT` characters (the page warns against medical details);
* a request never creates marketing consent. Only the separate, unticked box asks for the
  audience's emails, through the subscribe form's own sign-up (double opt-in, the same
  wording and ledger evidence).
"""

from __future__ import annotations

from dataclasses import dataclass

from outreach.audiences.contacts import InvalidContact, clean_name, normalise_email, normalise_phone
from outreach.clock import now as clock_now
from outreach.consent import signup as signups
from outreach.consent.ledger import Evidence
from outreach.consultations.attribution import Attribution
from outreach.extensions import db
from outreach.i18n import N_
from outreach.models import Audience, ConsultationRequest
from outreach.models.consultations import CONTACT_TIMES

NOTE_LIMIT = 300
NAME_LIMIT = 100


@dataclass(frozen=True)
class Typed:
    """What the person typed, as strings (nothing checked yet)."""

    name: str = ""
    email: str = ""
    phone: str = ""
    contact_time: str = "any"
    note: str = ""
    also_emails: bool = False


@dataclass(frozen=True)
class Checked:
    """A valid request, normalised."""

    name: str
    email: str | None
    phone: str | None
    contact_time: str
    note: str
    also_emails: bool


def _note(raw: str) -> str:
    """The note with line endings normalised, control characters dropped, ends trimmed."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(ch for ch in text if ch == "\n" or ch.isprintable()).strip()


def check(typed: Typed, audience: Audience) -> tuple[Checked | None, dict[str, InvalidContact]]:
    """The normalised request, or the problems by field (sentences from the catalogue)."""
    problems: dict[str, InvalidContact] = {}
    name = clean_name(typed.name)
    if not name:
        problems["name"] = InvalidContact(N_("Enter your name."))
    elif len(" ".join(typed.name.split())) > NAME_LIMIT:
        problems["name"] = InvalidContact(N_("That name is too long."))
    email = phone = None
    if typed.email.strip():
        try:
            email = normalise_email(typed.email)
        except InvalidContact as exc:
            problems["email"] = exc
    if typed.phone.strip():
        try:
            phone = normalise_phone(typed.phone, mobile_only=False)
        except InvalidContact as exc:
            problems["phone"] = exc
    if not typed.email.strip() and not typed.phone.strip():
        problems["contact"] = InvalidContact(
            N_("Enter an email address or a phone number so we can reach you.")
        )
    if typed.contact_time not in CONTACT_TIMES:
        problems["contact_time"] = InvalidContact(N_("Choose when we should contact you."))
    note = _note(typed.note)
    if len(note) > NOTE_LIMIT:
        problems["note"] = InvalidContact(
            N_("Please keep the note to 300 characters or fewer."), f"({len(note)}/300)"
        )
    if typed.also_emails and "email" not in audience.channel_list:
        problems["also_emails"] = InvalidContact(N_("This list does not send emails."))
    elif typed.also_emails and not typed.email.strip():
        problems["email"] = InvalidContact(N_("Enter your email address to get emails."))
    if problems:
        return None, problems
    return Checked(name, email, phone, typed.contact_time, note, typed.also_emails), {}


def submit(
    audience: Audience,
    request: Checked,
    *,
    language: str,
    attribution: Attribution | None,
    email_evidence: Evidence | None = None,
    browser_timezone: str | None = None,
) -> ConsultationRequest:
    """Store the request (attributed, or direct when ``attribution`` is None); commits.

    When the person ticked the emails box (``email_evidence`` is the subscribe form's
    evidence: the wording they read, the form URL, IP, user agent), their email address
    goes through the public form's sign-up: a pending subscription and a confirmation
    email. Nothing else about consent changes, and the answer to the visitor is the same
    whoever they are.
    """
    at = clock_now()
    row = ConsultationRequest(
        audience_id=audience.id,
        name=request.name,
        email=request.email,
        phone=request.phone,
        contact_time=request.contact_time,
        note=request.note,
        language=language,
        status="new",
        created_at=at,
        updated_at=at,
    )
    if attribution is not None:
        row.message_id = attribution.message_id
        row.campaign_id = attribution.campaign_id
        row.step_id = attribution.step_id
        row.channel = attribution.channel
    db.session.add(row)
    db.session.commit()
    if request.also_emails and request.email and email_evidence is not None:
        signups.sign_up_from_form(
            audience,
            email=request.email,
            phone=None,
            chosen=["email"],
            first_name=first_name(request.name),
            browser_timezone=browser_timezone,
            evidence={"email": email_evidence},
            language=language,
        )
    return row


def first_name(name: str) -> str:
    """The first word of a full name (the emails greet people by their first name)."""
    return clean_name(name.split()[0]) if name.split() else ""
