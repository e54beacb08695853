"""Creating and editing audiences (the lists people opt in to) with the rules they need.

The sender identity is checked here so a campaign cannot reach preflight without what
CAN-SPAM and CTIA ask for: an organisation name and postal address for email, a program
description (frequency) and a support contact for texts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

from sqlalchemy import func, select

from outreach.audiences.contacts import InvalidContact, normalise_email
from outreach.campaigns import windows
from outreach.extensions import db
from outreach.models import Audience, Subscription
from outreach.models.contacts import CHANNELS
from outreach.staff import audit as staff_audit

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class AudienceError(ValueError):
    """Invalid audience settings; ``errors`` maps each field to what is wrong with it."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass
class AudienceInput:
    """What the audience form holds (already stripped strings and booleans)."""

    name: str = ""
    slug: str = ""
    channels: tuple[str, ...] = ("email", "sms")
    double_opt_in: bool = True
    single_opt_in_for_imports: bool = False
    default_timezone: str = "America/New_York"
    organisation_name: str = ""
    postal_address: str = ""
    support_email: str = ""
    support_phone: str = ""
    from_email: str = ""
    sms_program_name: str = ""
    sms_frequency_text: str = ""
    email_window_start: str = "08:00"
    email_window_end: str = "21:00"
    #: SendGrid's open pixel (and its click tracking where our own is off): off by default.
    track_opens: bool = False

    @classmethod
    def from_audience(cls, audience: Audience) -> AudienceInput:
        """The form's values for an existing audience."""
        values = {f.name: getattr(audience, f.name) for f in fields(cls) if f.name != "channels"}
        return cls(channels=tuple(audience.channel_list), **values)


_LIMITS = {
    "name": 200,
    "organisation_name": 200,
    "postal_address": 400,
    "support_email": 320,
    "support_phone": 32,
    "from_email": 320,
    "sms_program_name": 120,
    "sms_frequency_text": 120,
}


def validate(data: AudienceInput, audience: Audience | None = None) -> dict[str, str]:
    """Field -> problem for an audience form; empty when the input can be saved."""
    errors: dict[str, str] = {}
    for name, limit in _LIMITS.items():
        if len(getattr(data, name)) > limit:
            errors[name] = f"at most {limit} characters"
    if not data.name:
        errors["name"] = "give the audience a name"
    if audience is None:
        if not SLUG.fullmatch(data.slug) or len(data.slug) > 80:
            errors["slug"] = "lower-case letters, digits and single hyphens, like migraine-2027"
        elif db.session.scalar(select(Audience.id).filter_by(slug=data.slug)) is not None:
            errors["slug"] = "another audience already uses this slug"
    chosen = [c for c in CHANNELS if c in data.channels]
    if not chosen:
        errors["channels"] = "offer at least one channel"
    if not windows.is_valid_timezone(data.default_timezone):
        errors["default_timezone"] = "choose a time zone such as America/New_York"
    if not data.organisation_name:
        errors["organisation_name"] = "every message names its sender"
    if "email" in chosen and not data.postal_address:
        errors["postal_address"] = "every marketing email shows a postal address (CAN-SPAM)"
    for name in ("support_email", "from_email"):
        value = getattr(data, name)
        if value and name not in errors:
            try:
                normalise_email(value)
            except InvalidContact:
                errors[name] = "that is not an email address"
    if "sms" in chosen:
        if not data.sms_frequency_text:
            errors["sms_frequency_text"] = (
                "texts need a frequency line, like 'Up to 4 msgs/month' (CTIA)"
            )
        if not (data.support_phone or data.support_email):
            errors["support_phone"] = "the HELP reply needs a support phone or email"
    try:
        start = windows.parse_hhmm(data.email_window_start)
        end = windows.parse_hhmm(data.email_window_end)
    except ValueError:
        errors["email_window_start"] = "times look like 08:00"
    else:
        if not start < end:
            errors["email_window_end"] = "the window must end after it starts"
    return errors


def _apply(audience: Audience, data: AudienceInput) -> list[str]:
    changed = []
    values = {
        f.name: getattr(data, f.name) for f in fields(data) if f.name not in ("slug", "channels")
    }
    values["channels"] = ",".join(c for c in CHANNELS if c in data.channels)
    for name, value in values.items():
        if getattr(audience, name) != value:
            setattr(audience, name, value)
            changed.append(name)
    return changed


def create_audience(data: AudienceInput, actor_id: int | None) -> Audience:
    """Create an audience; raises AudienceError. The caller commits."""
    errors = validate(data)
    if errors:
        raise AudienceError(errors)
    audience = Audience(slug=data.slug)
    _apply(audience, data)
    db.session.add(audience)
    db.session.flush()
    staff_audit.audit(actor_id, "audience.create", "audience", audience.id, f"slug {audience.slug}")
    return audience


def update_audience(audience: Audience, data: AudienceInput, actor_id: int | None) -> list[str]:
    """Change an audience (its slug never changes: it is inside every unsubscribe link).

    Returns the fields that changed; raises AudienceError. The caller commits.
    """
    errors = validate(data, audience)
    if errors:
        raise AudienceError(errors)
    changed = _apply(audience, data)
    if changed:
        staff_audit.audit(actor_id, "audience.update", "audience", audience.id, ", ".join(changed))
    db.session.flush()
    return changed


def subscriber_counts() -> dict[int, dict[str, int]]:
    """{audience_id: {state: count}} over all subscriptions, one GROUP BY."""
    counts: dict[int, dict[str, int]] = {}
    rows = db.session.execute(
        select(Subscription.audience_id, Subscription.state, func.count(Subscription.id)).group_by(
            Subscription.audience_id, Subscription.state
        )
    )
    for audience_id, state, n in rows:
        counts.setdefault(audience_id, {})[state] = n
    return counts


def reach(audience: Audience) -> dict[str, int]:
    """{channel: active subscriptions} for one audience."""
    rows = db.session.execute(
        select(Subscription.channel, func.count(Subscription.id))
        .where(Subscription.audience_id == audience.id, Subscription.state == "active")
        .group_by(Subscription.channel)
    )
    found = dict(rows.all())
    return {c: found.get(c, 0) for c in audience.channel_list}
