"""Rules for a step's copy in another language (its Spanish variant): the same checks as
the step's own copy, with Spanish health terms (``health_terms.yaml``), sources, clinician
words and promises; and a warning when Spanish-speaking subscribers would get a step in English."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from sqlalchemy import func, select

from outreach.campaigns.preflight import content_rules, health_rules
from outreach.campaigns.preflight.accessibility_rules import rule_accessibility
from outreach.campaigns.preflight.delivery_rules import rule_sms_length
from outreach.campaigns.preflight.findings import (
    Finding,
    step_copy,
    text,
    warning,
)
from outreach.extensions import db
from outreach.models import Audience, Campaign, Step, StepVariant, Subscriber, Subscription

LANGUAGE_NAMES = {"es": "Spanish"}

SOURCE_WORDS_ES: tuple[str, ...] = ("estudio", "fuente", "según", "encuesta", "informó", "informe")
TREATMENT_WORDS_ES: tuple[str, ...] = (
    "ketamina", "infusión", "medicamento", "receta", "tratamiento", "terapia",
)  # fmt: skip
CLINICIAN_WORDS_ES: tuple[str, ...] = (
    "médico", "médica", "doctor", "doctora", "profesional de la salud", "proveedor de salud",
)  # fmt: skip
PROMISE_PATTERNS_ES: tuple[str, ...] = (
    r"\bgaranti\w*",
    r"\bcura(?:r|rá|mos)?\b",
    r"\bmilagr\w*",
    r"\bsin dolor\b",
    r"\b100 ?% (?:efectiv|segur|éxito)",
)


@dataclass
class VariantStep:
    """A step seen through its copy in another language (what the rules read)."""

    channel: str
    position: int
    subject: str
    preheader: str
    html: str
    text: str | None
    body: str
    language: str


def as_step(step: Step, variant: StepVariant) -> VariantStep:
    """The step with the variant's copy."""
    return VariantStep(
        channel=step.channel,
        position=step.position,
        subject=text(variant.subject),
        preheader=text(variant.preheader),
        html=text(variant.html),
        text=variant.text,
        body=text(variant.body),
        language=variant.language,
    )


def labelled(found: list[Finding], language: str) -> list[Finding]:
    name = LANGUAGE_NAMES.get(language, language)
    return [
        replace(
            f,
            field=f"{language}.{f.field}" if f.field else language,
            message=f"{name} version: {f.message}",
        )
        for f in found
    ]


def _copy_rules(no: int, copy: VariantStep, audience: Audience | None) -> list[Finding]:
    words = step_copy(copy, audience)
    found = []
    if re.search(r"\d\s*%|\bpor ?ciento\b", words) and not any(w in words for w in SOURCE_WORDS_ES):
        found.append(
            warning(no, None, "a statistic without a named source: say where it comes from")
        )
    mentioned = [w for w in TREATMENT_WORDS_ES if w in words]
    if mentioned and not any(w in words for w in CLINICIAN_WORDS_ES):
        found.append(
            warning(
                no,
                None,
                f"mentions treatment ({', '.join(mentioned)}) without a 'consulte a su médico' "
                "line",
            )
        )
    promises = [m.group(0) for p in PROMISE_PATTERNS_ES if (m := re.search(p, words))]
    if promises:
        found.append(
            warning(
                no,
                None,
                f"sounds like a promise of results ({', '.join(repr(p) for p in promises)}); "
                "reword it",
            )
        )
    return found


def variant_findings(
    no: int, step: Step, audience: Audience | None, first_text: bool, templates: bool = True
) -> list[Finding]:
    """Every content rule over each of the step's variants, labelled with the language."""
    found: list[Finding] = []
    for variant in getattr(step, "variants", None) or []:
        copy = as_step(step, variant)
        here = content_rules.rule_required_content(no, copy)
        if templates:
            here += content_rules.rule_templates(no, copy)
        here += health_rules.rule_health_details(no, copy, audience, (copy.language,))
        flag = getattr(step.campaign, "track_links", None)
        here += rule_sms_length(
            no, copy, audience, first_text, copy.language, flag is None or bool(flag)
        )
        here += _copy_rules(no, copy, audience)
        here += rule_accessibility(no, copy, audience, copy.language)
        found += labelled(here, variant.language)
    return found


def speakers(audience: Audience | None) -> dict[tuple[str, str], int]:
    """Active or pending subscribers per (channel, language other than English)."""
    if audience is None or audience.id is None:
        return {}
    rows = db.session.execute(
        select(Subscription.channel, Subscriber.language, func.count())
        .join(Subscriber, Subscriber.id == Subscription.subscriber_id)
        .where(
            Subscription.audience_id == audience.id,
            Subscription.state.in_(("active", "pending")),
            Subscriber.language != "en",
        )
        .group_by(Subscription.channel, Subscriber.language)
    )
    return {(channel, language): n for channel, language, n in rows}


def rule_missing_variants(campaign: Campaign, steps: list[Step]) -> list[Finding]:
    """A warning for each step without copy in a language some of its audience reads."""
    readers = speakers(campaign.audience)
    found = []
    for no, step in enumerate(steps, start=1):
        have = {v.language for v in getattr(step, "variants", None) or []}
        for (channel, language), count in sorted(readers.items()):
            if channel == step.channel and language not in have:
                name = LANGUAGE_NAMES.get(language, language)
                found.append(
                    warning(
                        no,
                        language,
                        f"{count:,} {name}-speaking subscriber{'s' if count != 1 else ''} will "
                        f"get this step in English: add a {name} version",
                    )
                )
    return found
