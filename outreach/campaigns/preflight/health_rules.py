"""Health details about the reader, wherever a provider keeps what we send it.

The terms are data (``health_terms.yaml``, shipped with the package). Without a Business
Associate Agreement for a channel (``OUTREACH_EMAIL_BAA``, ``OUTREACH_SMS_BAA``) a hit is
an error (scheduling is blocked); with one it is a warning with the same words. What each
provider keeps: the email provider the subject, preheader, sender name, categories and
custom_args; the SMS provider the whole text (with the brand added to a first text).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml
from flask import current_app, has_app_context

from outreach.campaigns.preflight.findings import Finding, error, rendered, text, warning
from outreach.consent import wording
from outreach.models import Audience, Campaign, Step
from outreach.sending import compose

TERMS_FILE = "health_terms.yaml"

#: Where each field's words end up, as a reader of the finding would say it.
WHERE = {
    "subject": "subject lines",
    "preheader": "preheaders",
    "body": "SMS bodies",
    "sender": "the sender name",
    "sms_program_name": "the SMS program name",
    "categories": "categories",
    "custom_args": "custom_args",
}
#: The template fields each provider keeps, per channel.
PROVIDER_FIELDS = {"email": ("subject", "preheader"), "sms": ("body",)}
SETTING = {"email": "OUTREACH_EMAIL_BAA", "sms": "OUTREACH_SMS_BAA"}
PROVIDER = {"email": "the email provider", "sms": "the SMS provider"}


@dataclass(frozen=True)
class Terms:
    """The compiled terms per language and the reviewed phrases masked before matching."""

    patterns: dict[str, tuple[re.Pattern[str], ...]]
    allowed: tuple[re.Pattern[str], ...]


@dataclass(frozen=True)
class Agreements:
    """Which channels' providers have signed a BAA."""

    email: bool = False
    sms: bool = False

    def covers(self, channel: str) -> bool:
        return bool(getattr(self, channel, False))


@cache
def terms() -> Terms:
    """The shipped terms list, compiled once."""
    raw = yaml.safe_load(
        resources.files("outreach.campaigns.preflight").joinpath(TERMS_FILE).read_text("utf-8")
    )
    patterns = {
        language: tuple(re.compile(entry["pattern"], re.IGNORECASE) for entry in entries)
        for language, entries in raw["terms"].items()
    }
    allowed = tuple(re.compile(p, re.IGNORECASE) for p in raw.get("allowed", ()))
    return Terms(patterns, allowed)


def agreements() -> Agreements:
    """The BAA settings of the running app (none outside one)."""
    if not has_app_context():
        return Agreements()
    config = current_app.config
    return Agreements(
        email=bool(config.get("OUTREACH_EMAIL_BAA")), sms=bool(config.get("OUTREACH_SMS_BAA"))
    )


def health_hits(value: str, languages: tuple[str, ...] = ("en",)) -> list[str]:
    """The health details ``value`` gives away (lower-case, each once, in term order)."""
    if not value:
        return []
    found = terms()
    for pattern in found.allowed:
        value = pattern.sub(" ", value)
    hits: list[str] = []
    for language in dict.fromkeys(("en", *languages)):
        for pattern in found.patterns.get(language, ()):
            match = pattern.search(value)
            if match:
                hit = " ".join(match.group(0).lower().split())
                if hit not in hits:
                    hits.append(hit)
    return hits


def message(hits: list[str], field: str, channel: str, covered: bool) -> str:
    """The one wording of a health finding, used by preflight and the step editor."""
    words = ", ".join(f"'{h}'" for h in hits)
    where = WHERE.get(field.rsplit(".", 1)[-1], field)
    if covered:
        return (
            f"health details ({words}) in {where}: {PROVIDER[channel]} keeps them; "
            f"{SETTING[channel]} says you have a BAA with it, but inbox lists and lock "
            "screens show them to anyone nearby"
        )
    return (
        f"health details ({words}) must not appear in {where}: {PROVIDER[channel]} keeps "
        f"them and is not covered by a BAA (set {SETTING[channel]}=1 once it is)"
    )


def health_finding(
    no: int | None, field: str, hits: list[str], channel: str, signed: Agreements
) -> Finding:
    """An error without an agreement for the channel, a warning with one."""
    covered = signed.covers(channel)
    return (warning if covered else error)(no, field, message(hits, field, channel, covered))


def rule_health_details(
    no: int,
    step: Step,
    audience: Audience | None,
    languages: tuple[str, ...] = ("en",),
    signed: Agreements | None = None,
) -> list[Finding]:
    """Health details in the step's fields its provider keeps (subject, preheader; a text)."""
    signed = signed if signed is not None else agreements()
    found = []
    for field in PROVIDER_FIELDS.get(step.channel, ()):
        source = text(getattr(step, field, None))
        if not source:
            continue
        hits = health_hits(f"{source}\n{rendered(source, audience)}", languages)
        if hits:
            found.append(health_finding(no, field, hits, step.channel, signed))
    return found


def rule_provider_metadata(
    campaign: Campaign, steps: list[Step], signed: Agreements | None = None
) -> list[Finding]:
    """What the providers get besides the copy: the sender name and categories of each
    email, the brand of the first text (names of lists and campaigns never go out: the
    categories carry ids)."""
    signed = signed if signed is not None else agreements()
    audience = campaign.audience
    channels = {s.channel for s in steps}
    found = []
    if audience is not None and "email" in channels:
        hits = health_hits(compose.sender_name(audience), ("en", "es"))
        if hits:
            found.append(health_finding(None, "sender", hits, "email", signed))
    if audience is not None and "sms" in channels:
        hits = health_hits(wording.program(audience) or "", ("en", "es"))
        if hits:
            found.append(health_finding(None, "sms_program_name", hits, "sms", signed))
    for no, step in enumerate(steps, start=1):
        if step.channel != "email":
            continue
        hits = health_hits(" ".join(compose.email_categories(step)), ("en", "es"))
        if hits:
            found.append(health_finding(no, "categories", hits, "email", signed))
    return found
