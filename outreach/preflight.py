"""Preflight: the rules of COMPLIANCE.md checked on a campaign before it can be scheduled.

``check_campaign`` works on a ``Campaign`` with ``.audience`` and ``.steps``, saved or not
(the campaign file validator builds transient objects). Each rule is a small function that
returns findings; nothing here writes to the database or raises for bad content.

Levels: an ``error`` blocks scheduling; a ``warning`` is shown to staff and does not.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, time, timedelta

from outreach import rendering, windows, wording
from outreach.campaigns import parse_hhmm
from outreach.clock import now as clock_now
from outreach.models import Audience, Campaign, Step

__all__ = [
    "CLINICIAN_WORDS",
    "HEALTH_DETAIL_PATTERNS",
    "MAX_SMS_SEGMENTS",
    "SAMPLE_CONTEXT",
    "SOURCE_WORDS",
    "TEMPLATE_FIELDS",
    "TREATMENT_WORDS",
    "Finding",
    "check_campaign",
    "errors",
    "has_errors",
    "template_fields",
    "warnings",
]

#: An SMS longer than this many segments (after rendering) is refused.
MAX_SMS_SEGMENTS = 3

#: Template fields of each channel, in display order.
TEMPLATE_FIELDS: dict[str, tuple[str, ...]] = {
    "email": ("subject", "preheader", "html", "text"),
    "sms": ("body",),
}

#: Diagnosis, treatment or appointment details that must not travel in subject lines or
#: SMS bodies (those pass through systems not covered by a BAA). Regexes, matched
#: case-insensitively on the template source and on its rendered text.
HEALTH_DETAIL_PATTERNS: tuple[str, ...] = (
    r"\bdiagnos\w*",
    r"\byour (?:migraines?|headaches?)\b",
    r"\byour (?:treatment|therapy|medication|meds|dose|infusion)s?\b",
    r"\byour (?:appointment|visit|consultation)s?\b",
    r"\bprescri(?:ption|bed)s?\b",
    r"\binfusion appointments?\b",
    r"\byour (?:condition|symptoms|pain)\b",
    r"\btest results?\b",
    r"\blab results?\b",
    r"\bpatients?\b",
)

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

#: Sample values for trial renders (segment counts, copy checks).
SAMPLE_CONTEXT: dict[str, str] = {
    "first_name": "Alexandra",
    "unsubscribe_url": "https://outreach.example/unsubscribe/" + "x" * 100,
    "preferences_url": "https://outreach.example/preferences/" + "x" * 100,
}

_HHMM = "%H:%M"


@dataclass(frozen=True)
class Finding:
    """One problem found by preflight.

    ``step`` is the 1-based step number (None for the campaign as a whole); ``field`` the
    step or campaign field concerned (``subject``, ``body``, ``html``, ``send_time``, ...).
    """

    level: str  # "error" | "warning"
    step: int | None
    field: str | None
    message: str


def has_errors(findings: Iterable[Finding]) -> bool:
    """Whether any finding blocks scheduling."""
    return any(f.level == "error" for f in findings)


def errors(findings: Iterable[Finding]) -> list[Finding]:
    """Only the errors."""
    return [f for f in findings if f.level == "error"]


def warnings(findings: Iterable[Finding]) -> list[Finding]:
    """Only the warnings."""
    return [f for f in findings if f.level == "warning"]


def _error(step: int | None, field: str | None, message: str) -> Finding:
    return Finding("error", step, field, message)


def _warning(step: int | None, field: str | None, message: str) -> Finding:
    return Finding("warning", step, field, message)


# --------------------------------------------------------------------------- helpers


def _text(value: object) -> str:
    """A template field as text (transient ORM objects hold None until flushed)."""
    return value if isinstance(value, str) else ""


def template_fields(step: Step) -> list[tuple[str, str]]:
    """``(field, source)`` for the template fields of a step's channel that hold text."""
    out = []
    for field in TEMPLATE_FIELDS.get(step.channel, ()):
        source = _text(getattr(step, field, None))
        if source:
            out.append((field, source))
    return out


def _context(audience: Audience | None) -> dict[str, str]:
    """Values a trial render sees: the audience's own, plus sample personal values."""
    shared = {
        "audience": _text(getattr(audience, "name", "")),
        "organisation": _text(getattr(audience, "organisation_name", "")),
        "postal_address": _text(getattr(audience, "postal_address", "")),
        "support_email": _text(getattr(audience, "support_email", "")),
        "support_phone": _text(getattr(audience, "support_phone", "")),
    }
    return {**shared, **SAMPLE_CONTEXT}


def _rendered(source: str, audience: Audience | None, *, html: bool = False) -> str:
    """Render with sample values; on a template error fall back to the source itself."""
    try:
        if html:
            return rendering.html_to_text(rendering.render_html(source, _context(audience)))
        return rendering.render_sms(source, _context(audience))
    except (rendering.TemplateError, ValueError):
        return rendering.html_to_text(source) if html else source


def _copy(step: Step, audience: Audience | None) -> str:
    """Everything a reader of the step sees, rendered, as one lower-case text."""
    parts = []
    for field, source in template_fields(step):
        parts.append(_rendered(source, audience, html=field == "html"))
    return "\n".join(parts).lower()


def _numbered(steps: list[Step]) -> Iterator[tuple[int, Step]]:
    return enumerate(steps, start=1)


def _time(value: object) -> time | None:
    try:
        return parse_hhmm(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _first_sms(steps: list[Step]) -> Step | None:
    """The step dispatch treats as the campaign's first text: the first SMS in list order."""
    return next((s for s in steps if s.channel == "sms"), None)


def compose_first_sms(body: str, audience: Audience | None) -> str:
    """What dispatch sends for the first SMS step: brand prefix and STOP wording added."""
    brand = wording.program(audience) if audience is not None else ""
    if brand and not body.lower().startswith(brand.lower()):
        body = f"{brand}: {body}"
    if "stop" not in body.lower():
        body = f"{body} Reply STOP to opt out."
    return body


# --------------------------------------------------------------------------- campaign rules


def rule_has_steps(campaign: Campaign, steps: list[Step]) -> list[Finding]:
    """A campaign needs at least one step."""
    if not steps:
        return [_error(None, "steps", "the campaign has no steps")]
    return []


def rule_anchor(campaign: Campaign, steps: list[Step], today: date) -> list[Finding]:
    """Calendar campaigns need an anchor date; one in the past sends overdue steps at once."""
    kind = campaign.anchor_kind or "date"
    if kind not in ("date", "confirmation"):
        return [_error(None, "anchor", f"unknown anchor {kind!r}: use a date or confirmation")]
    if kind != "date":
        return []
    if campaign.anchor_date is None:
        return [_error(None, "anchor_date", "a calendar campaign needs an anchor date")]
    if campaign.anchor_date < today:
        overdue = sum(
            1
            for s in steps
            if isinstance(s.day_offset, int)
            and campaign.anchor_date + timedelta(days=s.day_offset) < today
        )
        return [
            _warning(
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
        return [_error(None, "audience", "the campaign has no audience")]
    if not any(s.channel == "email" for s in steps):
        return []
    found = []
    if not _text(audience.organisation_name).strip():
        found.append(
            _error(
                None,
                "organisation_name",
                f"audience '{audience.slug}' has no organisation name; every marketing email "
                "must name its sender (CAN-SPAM)",
            )
        )
    if not _text(audience.postal_address).strip():
        found.append(
            _error(
                None,
                "postal_address",
                f"audience '{audience.slug}' has no postal address; every marketing email "
                "must show one (CAN-SPAM)",
            )
        )
    return found


def rule_first_sms_order(campaign: Campaign, steps: list[Step]) -> list[Finding]:
    """The first SMS in the list gets brand and STOP wording, so it should be sent first."""
    sms = [(n, s) for n, s in _numbered(steps) if s.channel == "sms"]
    if len(sms) < 2:
        return []

    def when(step: Step) -> tuple[int, int]:
        if campaign.anchor_kind == "confirmation":
            return (step.after_minutes or 0, 0)
        at = _time(step.send_time) or time(0)
        return (step.day_offset or 0, at.hour * 60 + at.minute)

    first_no, first = sms[0]
    earlier = [n for n, s in sms[1:] if when(s) < when(first)]
    if earlier:
        return [
            _warning(
                earlier[0],
                None,
                f"this text goes out before step {first_no}, the first text in the list "
                "(which is the one that gets the brand and STOP wording); "
                "put the steps in time order",
            )
        ]
    return []


# --------------------------------------------------------------------------- step rules


def rule_channel(no: int, step: Step, campaign: Campaign) -> list[Finding]:
    """A step is email or SMS, on a channel its audience offers."""
    if step.channel not in TEMPLATE_FIELDS:
        return [_error(no, "channel", f"unknown channel {step.channel!r}: use email or sms")]
    audience = campaign.audience
    if audience is not None and audience.channels and step.channel not in audience.channel_list:
        return [
            _warning(
                no,
                "channel",
                f"audience '{audience.slug}' does not offer {step.channel}; "
                "this step will reach no one",
            )
        ]
    return []


def rule_required_content(no: int, step: Step) -> list[Finding]:
    """Email steps need a subject and an HTML body; SMS steps need a body."""
    if step.channel == "email":
        return [
            _error(no, field, f"an email step needs a {label}")
            for field, label in (("subject", "subject"), ("html", "HTML body"))
            if not _text(getattr(step, field)).strip()
        ]
    if step.channel == "sms" and not _text(step.body).strip():
        return [_error(no, "body", "an SMS step needs a body")]
    return []


def rule_templates(no: int, step: Step) -> list[Finding]:
    """Template syntax, unknown variables and sandbox problems (rendering.check_template)."""
    return [
        _error(no, field, problem)
        for field, source in template_fields(step)
        for problem in rendering.check_template(source)
    ]


def rule_health_details(no: int, step: Step, audience: Audience | None) -> list[Finding]:
    """No diagnosis, treatment or appointment details in subject lines or SMS bodies.

    Preheaders show next to the subject in inbox lists: a warning there.
    """
    fields = {"email": ("subject", "preheader"), "sms": ("body",)}.get(step.channel, ())
    found = []
    for field in fields:
        source = _text(getattr(step, field))
        if not source:
            continue
        haystack = f"{source}\n{_rendered(source, audience)}"
        hits = []
        for pattern in HEALTH_DETAIL_PATTERNS:
            match = re.search(pattern, haystack, re.IGNORECASE)
            if match and match.group(0).lower() not in hits:
                hits.append(match.group(0).lower())
        if not hits:
            continue
        words = ", ".join(f"'{h}'" for h in hits)
        where = {"subject": "subject lines", "preheader": "preheaders", "body": "SMS bodies"}
        message = (
            f"health details ({words}) must not appear in {where[field]}: they travel "
            "through systems not covered by a BAA"
        )
        found.append((_warning if field == "preheader" else _error)(no, field, message))
    return found


def rule_sms_length(no: int, step: Step, audience: Audience | None, first: bool) -> list[Finding]:
    """At most three segments after rendering; the first text carries brand and STOP wording."""
    if step.channel != "sms" or not _text(step.body).strip():
        return []
    try:
        body = rendering.render_sms(step.body, _context(audience))
    except rendering.TemplateError:
        return []  # reported by rule_templates
    found = []
    sent = body
    if first:
        sent = compose_first_sms(body, audience)
        missing = []
        brand = wording.program(audience) if audience is not None else ""
        if brand and not body.lower().startswith(brand.lower()):
            missing.append(f'the brand "{brand}: "')
        if "stop" not in body.lower():
            missing.append('"Reply STOP to opt out."')
        if missing and rendering.sms_segments(sent).segments > MAX_SMS_SEGMENTS:
            found.append(
                _error(
                    no,
                    "body",
                    f"the first text must carry {' and '.join(missing)}; with it added the "
                    f"text needs {rendering.sms_segments(sent).segments} segments "
                    f"(at most {MAX_SMS_SEGMENTS}): shorten it or add the wording yourself",
                )
            )
            return found
        if missing:
            found.append(
                _warning(
                    no,
                    "body",
                    f"the first text lacks {' and '.join(missing)}; "
                    "brand/STOP wording will be added automatically",
                )
            )
    segments = rendering.sms_segments(sent)
    if segments.segments > MAX_SMS_SEGMENTS:
        found.append(
            _error(
                no,
                "body",
                f"the text needs {segments.segments} segments ({segments.encoding}, "
                f"{segments.characters} characters with sample values); "
                f"at most {MAX_SMS_SEGMENTS}",
            )
        )
    if segments.encoding == "UCS-2":
        odd = sorted(
            {
                ch
                for ch in sent
                if ch not in rendering.GSM7_BASIC and ch not in rendering.GSM7_EXTENSION
            }
        )
        shown = " ".join(repr(ch) for ch in odd[:8])
        found.append(
            _warning(
                no,
                "body",
                f"characters outside GSM-7 ({shown}) make the text UCS-2: 70 characters per "
                "segment instead of 160; use straight quotes and no emoji",
            )
        )
    return found


def rule_send_time(no: int, step: Step, campaign: Campaign) -> list[Finding]:
    """Calendar steps: SMS inside 08:00-21:00 (stricter states defer); email in its window."""
    if campaign.anchor_kind == "confirmation":
        return []
    at = _time(step.send_time)
    if at is None:
        return [_error(no, "send_time", f"{step.send_time!r} is not a time like 10:00")]
    shown = at.strftime(_HHMM)
    if step.channel == "sms":
        federal = windows.SMS_DEFAULT
        if not federal.contains(at):
            return [
                _error(
                    no,
                    "send_time",
                    f"texts at {shown} fall outside the legal window "
                    f"{federal.start.strftime(_HHMM)}-{federal.end.strftime(_HHMM)} "
                    "(recipient's local time, TCPA)",
                )
            ]
        stricter = sorted(state for state, w in windows.STATE_WINDOWS.items() if not w.contains(at))
        if stricter:
            return [
                _warning(
                    no,
                    "send_time",
                    f"texts at {shown} fall outside the stricter state window for "
                    f"{', '.join(stricter)} numbers; those will be deferred to the next morning",
                )
            ]
        return []
    if step.channel == "email" and campaign.audience is not None:
        start = _time(campaign.audience.email_window_start)
        end = _time(campaign.audience.email_window_end)
        if start and end and start < end and not (start <= at < end):
            return [
                _warning(
                    no,
                    "send_time",
                    f"emails at {shown} fall outside the audience's email window "
                    f"{start.strftime(_HHMM)}-{end.strftime(_HHMM)}; they will be deferred",
                )
            ]
    return []


def rule_statistics(no: int, step: Step, copy: str) -> list[Finding]:
    """A percentage needs a named source in the same step."""
    if not re.search(r"\d\s*%|\bper ?cent\b", copy):
        return []
    if any(word in copy for word in SOURCE_WORDS):
        return []
    return [
        _warning(
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
        _warning(
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
    return [_warning(no, None, f"sounds like a promise of results ({', '.join(hits)}); reword it")]


# --------------------------------------------------------------------------- entry point


def check_campaign(
    campaign: Campaign, *, today: date | None = None, templates: bool = True
) -> list[Finding]:
    """All findings for a campaign, campaign-level first, then step by step.

    ``today`` defaults to the service clock's UTC date. ``templates=False`` leaves out the
    template checks (the campaign file validator reports those with file line numbers).
    """
    today = today or clock_now().date()
    steps = list(campaign.steps or [])
    audience = campaign.audience
    found: list[Finding] = []
    found += rule_has_steps(campaign, steps)
    found += rule_anchor(campaign, steps, today)
    found += rule_audience(campaign, steps)
    found += rule_first_sms_order(campaign, steps)
    first_sms = _first_sms(steps)
    step_rules: list[Callable[[int, Step], list[Finding]]] = [
        lambda n, s: rule_channel(n, s, campaign),
        rule_required_content,
        *([rule_templates] if templates else []),
        lambda n, s: rule_health_details(n, s, audience),
        lambda n, s: rule_sms_length(n, s, audience, s is first_sms),
        lambda n, s: rule_send_time(n, s, campaign),
    ]
    copy_rules = (rule_statistics, rule_clinician, rule_promises)
    for no, step in _numbered(steps):
        for rule in step_rules:
            found += rule(no, step)
        copy = _copy(step, audience)
        for copy_rule in copy_rules:
            found += copy_rule(no, step, copy)
    return found
