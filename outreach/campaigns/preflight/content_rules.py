"""Rules about what a step says: required parts, templates, sourced statistics, the
clinician line, no promises of results (health details: ``health_rules.py``)."""

from __future__ import annotations

import re

from outreach.campaigns.preflight.findings import (
    Finding,
    error,
    template_fields,
    text,
    warning,
)
from outreach.models import Step
from outreach.rendering import templates

#: Words that make a step talk about treatment (then it needs a "talk to your clinician" line).
TREATMENT_WORDS: tuple[str, ...] = (
    "ketamine",
    "infusion",
    "medication",
    "prescription",
    "treatment",
    "therapy",
)


#: Any of these counts as the "talk to your clinician" line.
CLINICIAN_WORDS: tuple[str, ...] = (
    "clinician",
    "doctor",
    "physician",
    "healthcare provider",
    "health care provider",
)


#: A statistic counts as sourced when its step also says one of these.
SOURCE_WORDS: tuple[str, ...] = ("study", "source", "according to", "reported", "survey")


#: Wording that promises results (COMPLIANCE: awareness copy makes no promise of results).
PROMISE_PATTERNS: tuple[str, ...] = (
    r"\bguarantee[ds]?\b",
    r"\bcures?\b(?! for)",
    r"\bcured\b",
    r"\bmiracle\b",
    r"\bpain[- ]free\b",
    r"\brisk[- ]free\b",
    r"\b100 ?% (?:effective|success|safe)",
)


def rule_required_content(no: int, step: Step) -> list[Finding]:
    """Email steps need a subject and an HTML body; SMS steps need a body."""
    if step.channel == "email":
        return [
            error(no, field, f"an email step needs a {label}")
            for field, label in (("subject", "subject"), ("html", "HTML body"))
            if not text(getattr(step, field)).strip()
        ]
    if step.channel == "sms" and not text(step.body).strip():
        return [error(no, "body", "an SMS step needs a body")]
    return []


def rule_templates(no: int, step: Step) -> list[Finding]:
    """Template syntax, unknown variables and sandbox problems (rendering.check_template)."""
    return [
        error(no, field, problem)
        for field, source in template_fields(step)
        for problem in templates.check_template(source)
    ]


def rule_statistics(no: int, step: Step, copy: str) -> list[Finding]:
    """A percentage needs a named source in the same step."""
    if not re.search(r"\d\s*%|\bper ?cent\b", copy):
        return []
    if any(word in copy for word in SOURCE_WORDS):
        return []
    return [
        warning(
            no,
            None,
            "a statistic without a named source: say where it comes from "
            "(e.g. 'in a study reported by ...')",
        )
    ]


def rule_clinician(no: int, step: Step, copy: str) -> list[Finding]:
    """Copy that mentions treatment carries a 'talk to your clinician' line."""
    mentioned = [w for w in TREATMENT_WORDS if re.search(rf"\b{w}", copy)]
    if not mentioned or any(word in copy for word in CLINICIAN_WORDS):
        return []
    return [
        warning(
            no,
            None,
            f"mentions treatment ({', '.join(mentioned)}) without a 'talk to your clinician' line",
        )
    ]


def rule_promises(no: int, step: Step, copy: str) -> list[Finding]:
    """Awareness copy makes no promise of results."""
    hits = []
    for pattern in PROMISE_PATTERNS:
        match = re.search(pattern, copy)
        if match:
            hits.append(f"'{match.group(0)}'")
    if not hits:
        return []
    return [warning(no, None, f"sounds like a promise of results ({', '.join(hits)}); reword it")]
