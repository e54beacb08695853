"""Preflight: every rule over a campaign, findings in step order."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from outreach.campaigns.preflight.accessibility_rules import rule_accessibility
from outreach.campaigns.preflight.campaign_rules import (
    rule_anchor,
    rule_audience,
    rule_first_sms_order,
    rule_has_steps,
)
from outreach.campaigns.preflight.content_rules import (
    rule_clinician,
    rule_promises,
    rule_required_content,
    rule_statistics,
    rule_templates,
)
from outreach.campaigns.preflight.delivery_rules import (
    rule_channel,
    rule_send_time,
    rule_sms_length,
)
from outreach.campaigns.preflight.findings import Finding, numbered, step_copy
from outreach.campaigns.preflight.health_rules import (
    agreements,
    rule_health_details,
    rule_provider_metadata,
)
from outreach.campaigns.preflight.language_rules import rule_missing_variants, variant_findings
from outreach.campaigns.timeline import first_text_step
from outreach.clock import now as clock_now
from outreach.models import Campaign, Step


def check_campaign(
    campaign: Campaign, *, today: date | None = None, templates: bool = True
) -> list[Finding]:
    """All findings for a campaign, campaign-level first, then step by step.

    ``today`` defaults to the service clock's UTC date. ``templates=False`` leaves out the
    template checks (the campaign file validator reports those with file line numbers).
    """
    today = today or clock_now().date()
    signed = agreements()
    steps = list(campaign.steps or [])
    audience = campaign.audience
    found: list[Finding] = []
    found += rule_has_steps(campaign, steps)
    found += rule_anchor(campaign, steps, today)
    found += rule_audience(campaign, steps)
    found += rule_first_sms_order(campaign, steps)
    found += rule_missing_variants(campaign, steps)
    found += rule_provider_metadata(campaign, steps, signed)
    first_sms = first_text_step(steps)
    step_rules: list[Callable[[int, Step], list[Finding]]] = [
        lambda n, s: rule_channel(n, s, campaign),
        rule_required_content,
        *([rule_templates] if templates else []),
        lambda n, s: rule_health_details(n, s, audience, signed=signed),
        lambda n, s: rule_sms_length(n, s, audience, s is first_sms),
        lambda n, s: rule_send_time(n, s, campaign),
        lambda n, s: rule_accessibility(n, s, audience),
    ]
    copy_rules = (rule_statistics, rule_clinician, rule_promises)
    for no, step in numbered(steps):
        for rule in step_rules:
            found += rule(no, step)
        copy = step_copy(step, audience)
        for copy_rule in copy_rules:
            found += copy_rule(no, step, copy)
        found += variant_findings(no, step, audience, step is first_sms, templates)
    return found
