"""What the step editor shows while a step is written: preflight's own health-detail and
accessibility rules over the copy as typed (saved or not), every finding as a warning with
the exact words preflight uses (the gate itself stays in preflight)."""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol

from outreach.campaigns.preflight import health_rules
from outreach.campaigns.preflight.accessibility_rules import rule_accessibility
from outreach.campaigns.preflight.findings import Finding
from outreach.campaigns.preflight.language_rules import VariantStep, labelled
from outreach.models import Audience, Campaign


class StepFields(Protocol):
    """The editor's values (``campaigns.editing.StepInput``)."""

    channel: str
    subject: str
    preheader: str
    html: str
    text: str
    body: str

    def spanish(self) -> dict[str, str]: ...

    def has_spanish(self) -> bool: ...


def _copy(data: StepFields, language: str) -> VariantStep:
    values = (
        data.spanish()
        if language != "en"
        else {
            name: getattr(data, name) for name in ("subject", "preheader", "html", "text", "body")
        }
    )
    written = values.get("text") or ""
    return VariantStep(
        channel=data.channel,
        position=0,
        subject=values.get("subject", ""),
        preheader=values.get("preheader", ""),
        html=values.get("html", ""),
        text=written if written.strip() else None,
        body=values.get("body", ""),
        language=language,
    )


def _copy_findings(no: int, copy: VariantStep, audience: Audience | None) -> list[Finding]:
    found = health_rules.rule_health_details(no, copy, audience, (copy.language,))
    return found + rule_accessibility(no, copy, audience, copy.language)


def editor_checks(campaign: Campaign, data: StepFields, number: int) -> list[Finding]:
    """Preflight's health and accessibility findings for the step being edited, as warnings."""
    audience = campaign.audience
    found = _copy_findings(number, _copy(data, "en"), audience)
    if data.has_spanish():
        found += labelled(_copy_findings(number, _copy(data, "es"), audience), "es")
    if getattr(data, "in_markdown", False):  # the body was written in Markdown: say so
        found = [replace(f, field=_markdown_field(f.field)) for f in found]
    return [replace(f, level="warning") for f in found]


def _markdown_field(name: str | None) -> str | None:
    """``html`` -> ``markdown`` (``es.html`` -> ``es.markdown``): the field staff wrote in."""
    if name is None:
        return None
    head, dot, tail = name.rpartition(".")
    return f"{head}{dot}markdown" if tail == "html" else name
