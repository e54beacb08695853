"""What the step editor holds and the checks it must pass before a step is saved.

An email step is written in Markdown (the default for new steps) or in HTML ("advanced").
In Markdown the HTML is what ``rendering.markdown`` makes of it, so every later stage
(checks, preview, sending) reads ``html`` whichever way the step was written.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from outreach.campaigns import windows
from outreach.models import Step
from outreach.rendering import markdown as markdown_rendering
from outreach.rendering import templates

#: The longest day offset and confirmation delay (same limits as campaign files).
MAX_DAY_OFFSET = 3660
MAX_AFTER_MINUTES = 366 * 24 * 60

EMAIL_FIELDS = ("subject", "preheader", "html", "text")

#: The language a step's second copy is written in (its ``StepVariant``).
SPANISH = "es"

#: How an email body is written: Markdown, or HTML ("advanced").
MARKDOWN = "markdown"
HTML = "html"
WRITING_MODES = (MARKDOWN, HTML)

_LIMITS = {"subject": 300, "preheader": 300}


@dataclass
class StepInput:
    """What the step editor holds (strings as typed; numbers already parsed or None)."""

    channel: str = "email"
    day_offset: int | None = 0
    send_time: str = "10:00"
    after_minutes: int | None = 0
    subject: str = ""
    preheader: str = ""
    html: str = ""
    text: str = ""
    body: str = ""
    include_late_joiners: bool = False
    es_subject: str = ""
    es_preheader: str = ""
    es_html: str = ""
    es_text: str = ""
    es_body: str = ""
    writing: str = HTML  # the editor offers Markdown first for new steps
    markdown: str = ""
    es_markdown: str = ""

    @property
    def in_markdown(self) -> bool:
        """Whether the email body is written in Markdown (its HTML derived from it)."""
        return self.channel == "email" and self.writing == MARKDOWN

    def rendered(self) -> StepInput:
        """The same input with ``html`` (and ``es_html``) made from the Markdown, when the
        body is written in Markdown; else unchanged."""
        if not self.in_markdown:
            return self
        spanish = self.es_markdown
        return replace(
            self,
            html=markdown_rendering.to_html(self.markdown) if self.markdown.strip() else "",
            es_html=markdown_rendering.to_html(spanish) if spanish.strip() else "",
        )

    def spanish(self) -> dict[str, str]:
        """The Spanish fields of the step's channel, by step field name."""
        names = EMAIL_FIELDS if self.channel == "email" else ("body",)
        return {name: getattr(self, f"es_{name}") for name in names}

    def has_spanish(self) -> bool:
        """Whether any Spanish field of the channel holds text (else: no Spanish version)."""
        values = list(self.spanish().values())
        if self.in_markdown:
            values.append(self.es_markdown)
        return any(value.strip() for value in values)

    @classmethod
    def from_step(cls, step: Step) -> StepInput:
        """The editor's values for an existing step (and its Spanish version, if any)."""
        variant = step.variant(SPANISH)
        return cls(
            es_subject=variant.subject or "" if variant else "",
            es_preheader=variant.preheader or "" if variant else "",
            es_html=variant.html or "" if variant else "",
            es_text=variant.text or "" if variant else "",
            es_body=variant.body or "" if variant else "",
            es_markdown=variant.markdown or "" if variant else "",
            channel=step.channel,
            day_offset=step.day_offset,
            send_time=step.send_time,
            after_minutes=step.after_minutes,
            subject=step.subject or "",
            preheader=step.preheader or "",
            html=step.html or "",
            text=step.text or "",
            body=step.body or "",
            include_late_joiners=step.include_late_joiners,
            writing=MARKDOWN if step.markdown is not None else HTML,
            markdown=step.markdown or "",
        )


def check_step(anchor_kind: str, data: StepInput) -> dict[str, str]:
    """Problems by field name (empty when the step may be saved); ``data`` is rendered."""
    errors: dict[str, str] = {}
    if data.channel not in ("email", "sms"):
        errors["channel"] = "email or sms"
        return errors
    if data.channel == "email" and data.writing not in WRITING_MODES:
        errors["writing"] = "Markdown or HTML"
        return errors
    if anchor_kind == "date":
        if data.day_offset is None or not 0 <= data.day_offset <= MAX_DAY_OFFSET:
            errors["day_offset"] = f"a whole number of days from 0 to {MAX_DAY_OFFSET}"
        try:
            windows.parse_hhmm(data.send_time)
        except ValueError:
            errors["send_time"] = "a local time like 10:00"
    elif data.after_minutes is None or not 0 <= data.after_minutes <= MAX_AFTER_MINUTES:
        errors["after_minutes"] = "a delay from 0 minutes up to a year"
    fields_ = EMAIL_FIELDS if data.channel == "email" else ("body",)
    for name in fields_:
        source = getattr(data, name)
        if name in _LIMITS and len(source) > _LIMITS[name]:
            errors[name] = f"at most {_LIMITS[name]} characters"
            continue
        problems = templates.check_template(source) if source else []
        if problems:
            errors[name] = "; ".join(problems)
    if data.channel == "email":
        if not data.subject.strip():
            errors.setdefault("subject", "an email needs a subject")
        if not data.html.strip():
            errors.setdefault("html", "an email needs a body")
    elif not data.body.strip():
        errors.setdefault("body", "a text needs a body")
    errors.update(_check_spanish(data))
    return _markdown_names(errors) if data.in_markdown else errors


def _markdown_names(errors: dict[str, str]) -> dict[str, str]:
    """A Markdown body's problems are shown on the Markdown field it was written in."""
    names = {"html": "markdown", "es_html": "es_markdown"}
    return {names.get(name, name): problem for name, problem in errors.items()}


def _check_spanish(data: StepInput) -> dict[str, str]:
    """The Spanish version is optional; once started it needs the same parts as the English."""
    if not data.has_spanish():
        return {}
    errors: dict[str, str] = {}
    for name, source in data.spanish().items():
        if name in _LIMITS and len(source) > _LIMITS[name]:
            errors[f"es_{name}"] = f"at most {_LIMITS[name]} characters"
        elif problems := templates.check_template(source) if source else []:
            errors[f"es_{name}"] = "; ".join(problems)
    required = (
        {"subject": "a subject", "html": "a body"}
        if data.channel == "email"
        else {"body": "a body"}
    )
    for name, what in required.items():
        if not getattr(data, f"es_{name}").strip():
            errors.setdefault(
                f"es_{name}",
                f"the Spanish version needs {what} too (or leave every Spanish field empty)",
            )
    return errors


def copy_values(data: StepInput, language: str | None = None) -> dict[str, str | None]:
    """The copy columns a step (``language`` None) or its variant gets from the input."""
    email = data.channel == "email"
    prefix = f"{language}_" if language else ""

    def value(name: str) -> str:
        return getattr(data, prefix + name)

    return {
        "subject": value("subject").strip() if email else "",
        "preheader": value("preheader").strip() if email else "",
        "html": value("html") if email else "",
        "markdown": value("markdown") if data.in_markdown else None,
        "text": value("text") if email and value("text").strip() else None,
        "body": value("body") if not email else "",
    }
