"""What preflight reports (errors block scheduling, warnings need an acknowledgement),
and the helpers every rule shares."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import time

from flask import current_app, has_app_context

from outreach.campaigns import windows
from outreach.models import Audience, Step
from outreach.rendering import plain_text, templates
from outreach.rendering import sms as sms_rendering

#: An SMS longer than this many segments (after rendering) is refused.
MAX_SMS_SEGMENTS = 3


#: Template fields of each channel, in display order.
TEMPLATE_FIELDS: dict[str, tuple[str, ...]] = {
    "email": ("subject", "preheader", "html", "text"),
    "sms": ("body",),
}


#: Sample values for trial renders (segment counts, copy checks).
SAMPLE_CONTEXT: dict[str, str] = {
    "first_name": "Alexandra",
    "unsubscribe_url": "https://outreach.example/unsubscribe/" + "x" * 100,
    "preferences_url": "https://outreach.example/preferences/" + "x" * 100,
}


HHMM = "%H:%M"


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


def error(step: int | None, field: str | None, message: str) -> Finding:
    return Finding("error", step, field, message)


def warning(step: int | None, field: str | None, message: str) -> Finding:
    return Finding("warning", step, field, message)


def text(value: object) -> str:
    """A template field as text (transient ORM objects hold None until flushed)."""
    return value if isinstance(value, str) else ""


def template_fields(step: Step) -> list[tuple[str, str]]:
    """``(field, source)`` for the template fields of a step's channel that hold text."""
    out = []
    for field in TEMPLATE_FIELDS.get(step.channel, ()):
        source = text(getattr(step, field, None))
        if source:
            out.append((field, source))
    return out


def _request_url(audience: Audience | None) -> str:
    """The audience's consultation request page, as ``compose.shared_context`` gives it."""
    slug = text(getattr(audience, "slug", "")) or "audience"
    base = current_app.config.get("OUTREACH_BASE_URL", "") if has_app_context() else ""
    return f"{base}/request/{slug}"


def context(audience: Audience | None) -> dict[str, str]:
    """Values a trial render sees: the audience's own, plus sample personal values."""
    shared = {
        "audience": text(getattr(audience, "name", "")),
        "organisation": text(getattr(audience, "organisation_name", "")),
        "postal_address": text(getattr(audience, "postal_address", "")),
        "support_email": text(getattr(audience, "support_email", "")),
        "support_phone": text(getattr(audience, "support_phone", "")),
        "request_url": _request_url(audience),
    }
    return {**shared, **SAMPLE_CONTEXT}


def rendered(source: str, audience: Audience | None, *, html: bool = False) -> str:
    """Render with sample values; on a template error fall back to the source itself."""
    try:
        if html:
            return plain_text.html_to_text(templates.render_html(source, context(audience)))
        return sms_rendering.render_sms(source, context(audience))
    except (templates.TemplateError, ValueError):
        return plain_text.html_to_text(source) if html else source


def step_copy(step: Step, audience: Audience | None) -> str:
    """Everything a reader of the step sees, rendered, as one lower-case text."""
    parts = []
    for field, source in template_fields(step):
        parts.append(rendered(source, audience, html=field == "html"))
    return "\n".join(parts).lower()


def numbered(steps: list[Step]) -> Iterator[tuple[int, Step]]:
    return enumerate(steps, start=1)


def as_time(value: object) -> time | None:
    try:
        return windows.parse_hhmm(value) if isinstance(value, str) else None
    except ValueError:
        return None
