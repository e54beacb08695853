"""Rules about the whole campaign: steps, anchor date, audience, first text's wording."""

from __future__ import annotations

from datetime import date, time, timedelta

from outreach.campaigns.preflight.findings import Finding, as_time, error, numbered, text, warning
from outreach.models import Campaign, Step


def rule_has_steps(campaign: Campaign, steps: list[Step]) -> list[Finding]:
    """A campaign needs at least one step."""
    if not steps:
        return [error(None, "steps", "the campaign has no steps")]
    return []


def rule_anchor(campaign: Campaign, steps: list[Step], today: date) -> list[Finding]:
    """Calendar campaigns need an anchor date; one in the past sends overdue steps at once."""
    kind = campaign.anchor_kind or "date"
    if kind not in ("date", "confirmation"):
        return [error(None, "anchor", f"unknown anchor {kind!r}: use a date or confirmation")]
    if kind != "date":
        return []
    if campaign.anchor_date is None:
        return [error(None, "anchor_date", "a calendar campaign needs an anchor date")]
    if campaign.anchor_date < today:
        overdue = sum(
            1
            for s in steps
            if isinstance(s.day_offset, int)
            and campaign.anchor_date + timedelta(days=s.day_offset) < today
        )
        return [
            warning(
                None,
                "anchor_date",
                f"the anchor date {campaign.anchor_date.isoformat()} is in the past: "
                f"{overdue} step(s) already overdue would go out as soon as it is scheduled",
            )
        ]
    return []


def rule_audience(campaign: Campaign, steps: list[Step]) -> list[Finding]:
    """CAN-SPAM: every marketing email names the sender and carries a postal address."""
    audience = campaign.audience
    if audience is None:
        return [error(None, "audience", "the campaign has no audience")]
    if not any(s.channel == "email" for s in steps):
        return []
    found = []
    if not text(audience.organisation_name).strip():
        found.append(
            error(
                None,
                "organisation_name",
                f"audience '{audience.slug}' has no organisation name; every marketing email "
                "must name its sender (CAN-SPAM)",
            )
        )
    if not text(audience.postal_address).strip():
        found.append(
            error(
                None,
                "postal_address",
                f"audience '{audience.slug}' has no postal address; every marketing email "
                "must show one (CAN-SPAM)",
            )
        )
    return found


def rule_first_sms_order(campaign: Campaign, steps: list[Step]) -> list[Finding]:
    """The first SMS in the list gets brand and STOP wording, so it should be sent first."""
    sms = [(n, s) for n, s in numbered(steps) if s.channel == "sms"]
    if len(sms) < 2:
        return []

    def when(step: Step) -> tuple[int, int]:
        if campaign.anchor_kind == "confirmation":
            return (step.after_minutes or 0, 0)
        at = as_time(step.send_time) or time(0)
        return (step.day_offset or 0, at.hour * 60 + at.minute)

    first_no, first = sms[0]
    earlier = [n for n, s in sms[1:] if when(s) < when(first)]
    if earlier:
        return [
            warning(
                earlier[0],
                None,
                f"this text goes out before step {first_no}, the first text in the list "
                "(which is the one that gets the brand and STOP wording); "
                "put the steps in time order",
            )
        ]
    return []
