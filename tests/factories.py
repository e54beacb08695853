"""Small builders for test data (through the services where consent is involved)."""

from __future__ import annotations

from datetime import date

from outreach.campaigns import lifecycle
from outreach.clock import now as clock_now
from outreach.consent import ledger as consent_ledger
from outreach.consent import signup as signups
from outreach.extensions import db
from outreach.models import Audience, Campaign, Step, Subscriber

AUDIENCE_DEFAULTS = {
    "slug": "migraine-awareness",
    "name": "Migraine & Headache Awareness",
    "channels": "email,sms",
    "default_timezone": "America/New_York",
    "organisation_name": "NeuroMedici",
    "postal_address": "100 Example Avenue, Springfield, IL 62701",
    "support_email": "care@neuromedici.example",
    "support_phone": "+1 555 010 2000",
    "from_email": "news@neuromedici.example",
    "sms_program_name": "NeuroMedici Migraine Awareness",
    "sms_frequency_text": "Up to 4 msgs/month",
}


def make_audience(**overrides: object) -> Audience:
    """An audience with a complete sender identity."""
    audience = Audience(**{**AUDIENCE_DEFAULTS, **overrides})
    db.session.add(audience)
    db.session.commit()
    return audience


def make_subscriber(
    audience: Audience,
    *,
    email: str | None = None,
    phone: str | None = None,
    first_name: str = "Ann",
    timezone: str = "America/New_York",
    channels: tuple[str, ...] = ("email", "sms"),
    confirmed: bool = True,
    language: str = "en",
) -> Subscriber:
    """A subscriber with (by default confirmed) consent on the given channels."""
    chosen = tuple(c for c in channels if (c == "email" and email) or (c == "sms" and phone))
    signup = signups.Signup(audience, email, phone, first_name, timezone, chosen, language)
    evidence = {c: consent_ledger.Evidence(source="import", note="test fixture") for c in chosen}
    subscriber, _ = signups.sign_up(signup, evidence, confirmed=confirmed)
    db.session.commit()
    return subscriber


def make_campaign(
    audience: Audience,
    steps: list[dict],
    *,
    name: str = "June awareness",
    anchor: date | None = date(2027, 6, 1),
    anchor_kind: str = "date",
    schedule: bool = True,
) -> Campaign:
    """A campaign with steps (dicts of Step fields), scheduled unless told otherwise."""
    campaign = Campaign(name=name, audience=audience, anchor_kind=anchor_kind, anchor_date=anchor)
    for position, fields in enumerate(steps):
        defaults = {
            "subject": "June news",
            "html": "<p>Hello {{ first_name }}</p>",
            "body": "Migraine awareness month: learn the triggers.",
        }
        campaign.steps.append(Step(position=position, **{**defaults, **fields}))
    db.session.add(campaign)
    db.session.flush()
    if schedule:
        start_campaign(campaign)
    db.session.commit()
    return campaign


def start_campaign(campaign: Campaign) -> None:
    """Start a campaign as if staff had scheduled it after preflight. Set-up only: these
    steps are built to exercise the engine (a text at 22:00, bare copy), not to pass
    preflight, which ``lifecycle.schedule`` applies to every real scheduling (tested in
    tests/admin and tests/campaigns)."""
    campaign.status = "scheduled"
    campaign.updated_at = clock_now()
    lifecycle.start_due(clock_now())
