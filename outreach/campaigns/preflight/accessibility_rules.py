"""Accessibility of an email step (WCAG 2.2 AA), as warnings: the step rendered in the
real layout with sample values, then ``rendering/accessibility.py``'s checks."""

from __future__ import annotations

from outreach.campaigns.preflight.findings import Finding, context, text, warning
from outreach.models import Audience, Step
from outreach.rendering import accessibility, emails, templates

#: A web-version address of the length the sender puts in every email's header.
SAMPLE_WEB_VERSION_URL = "https://outreach.example/view/" + "x" * 16


def sample_email(
    step: Step, audience: Audience | None, language: str = "en"
) -> emails.RenderedEmail:
    """The step rendered as a subscriber gets it (sample name and links)."""
    values = context(audience)
    footer = {
        "organisation": values["organisation"] or values["audience"] or "Organisation",
        "postal_address": values["postal_address"] or "Postal address",
        "support_email": values["support_email"],
        "unsubscribe_url": values["unsubscribe_url"],
        "preferences_url": values["preferences_url"],
    }
    return emails.render_email(
        subject=text(step.subject),
        preheader=text(step.preheader),
        html=text(step.html),
        text=step.text if isinstance(step.text, str) and step.text.strip() else None,
        context=values,
        footer=footer,
        language=language,
        web_version_url=SAMPLE_WEB_VERSION_URL,
    )


def rule_accessibility(
    no: int, step: Step, audience: Audience | None, language: str = "en"
) -> list[Finding]:
    """Warnings for what the step's email offers screen readers and low vision."""
    if step.channel != "email" or not text(step.html).strip():
        return []
    try:
        rendered = sample_email(step, audience, language)
    except (templates.TemplateError, ValueError):
        return []  # the template rules say what is wrong
    blank_subject = not text(step.subject).strip()  # an error already (required content)
    return [
        warning(no, field, message)
        for field, message in accessibility.problems(rendered.html, rendered.text)
        if not (field == "subject" and blank_subject)
    ]
