"""An email in the responsive layout: subject, preheader, HTML with inlined CSS, a text
part, and the CAN-SPAM footer."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

import css_inline
import jinja2
from markupsafe import Markup

from outreach import i18n, resources
from outreach.rendering.plain_text import html_to_text
from outreach.rendering.templates import TemplateError, render_html, render_text

TEMPLATES_DIR = resources.templates_dir()


EMAIL_LAYOUT = "messages/email_base.html"


#: Footer keys ``render_email`` refuses to go without (CAN-SPAM: sender, address, opt-out).
FOOTER_REQUIRED: tuple[str, ...] = ("organisation", "postal_address", "unsubscribe_url")


_FOOTER_KEYS = (
    "organisation",
    "postal_address",
    "unsubscribe_url",
    "preferences_url",
    "support_email",
    "support_phone",
    "audience",
)


@cache
def _layout_env(language: str) -> jinja2.Environment:
    """The layout's environment in one language (the footer's words come from the catalogue)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(i18n.translations(language), newstyle=True)
    return env


_INLINER = css_inline.CSSInliner(keep_style_tags=True, load_remote_stylesheets=False)


@dataclass(frozen=True)
class RenderedEmail:
    """The parts of one email, ready for a channel (may contain substitution tags)."""

    subject: str
    preheader: str
    html: str
    text: str


def _one_line(value: str) -> str:
    """Collapse all whitespace (including line breaks: header injection) to single spaces."""
    return " ".join(value.split())


def footer_lines(footer: Mapping[str, str], language: str = "en") -> list[str]:
    """The plain-text footer: organisation, postal address, support, preferences, unsubscribe.

    The last line is always the unsubscribe link (``"Unsubscribe: <url>"`` in English).
    """
    _ = i18n.gettext_for(language)
    lines = ["--", footer["organisation"].strip()]
    lines += [line.strip() for line in footer["postal_address"].splitlines() if line.strip()]
    support = [
        footer.get(key, "").strip()
        for key in ("support_email", "support_phone")
        if footer.get(key, "").strip()
    ]
    if support:
        lines.append(_("Questions?") + " " + " / ".join(support))
    if footer.get("preferences_url", "").strip():
        lines.append(_("Manage preferences:") + " " + footer["preferences_url"].strip())
    lines.append(_("Unsubscribe:") + " " + footer["unsubscribe_url"].strip())
    return lines


def _clean_text(text: str) -> str:
    """Strip trailing spaces, collapse runs of blank lines, trim the ends."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def render_email(
    *,
    subject: str,
    preheader: str,
    html: str,
    text: str | None,
    context: Mapping[str, str],
    footer: Mapping[str, str],
    language: str = "en",
    web_version_url: str = "",
    web_version: bool = False,
) -> RenderedEmail:
    """Render a staff email into subject, preheader, inlined HTML and a text part.

    ``footer`` must hold ``organisation``, ``postal_address`` and ``unsubscribe_url``
    (and may hold ``preferences_url``, ``support_email``, ``support_phone``,
    ``audience``); its values are also available to the templates, under ``context``.
    Subject and preheader become single lines. The HTML body is rendered with
    autoescaping and placed into ``templates/messages/email_base.html``; the text part
    is rendered from ``text`` or derived from the HTML, and always ends with the footer.
    ``language`` (``en``, ``es``) is the layout's: ``lang``, footer and unsubscribe words.
    ``web_version_url`` adds "View in your browser" above the email (and as the text
    part's first line); ``web_version`` renders the page ``/view/<code>`` shows: the
    unsubscribe line becomes a note (there is no subscriber to unsubscribe).
    """
    missing = [key for key in FOOTER_REQUIRED if not str(footer.get(key, "")).strip()]
    if missing:
        raise ValueError(f"the email footer needs: {', '.join(missing)}")
    values: dict[str, str] = {**footer, **context}

    subject_out = _one_line(render_text(subject, values))
    preheader_out = _one_line(render_text(preheader, values))
    body = render_html(html, values)

    layout = _layout_env(i18n.language_or_default(language)).get_template(EMAIL_LAYOUT)
    page = layout.render(
        language=i18n.language_or_default(language),
        subject=subject_out,
        preheader=preheader_out,
        content=Markup(body),  # noqa: S704 - rendered by the autoescaping sandbox
        footer={key: str(footer.get(key, "") or "") for key in {*_FOOTER_KEYS, *footer}},
        address_lines=[
            line.strip() for line in str(footer["postal_address"]).splitlines() if line.strip()
        ],
        web_version_url=web_version_url,
        web_version=web_version,
    )
    try:
        inlined = _INLINER.inline(page)
    except css_inline.InlineError as exc:
        raise TemplateError(f"the email's CSS could not be inlined: {exc}") from None

    body_text = (
        _clean_text(render_text(text, values)) if text is not None else html_to_text(inlined)
    )
    tail = "\n".join(footer_lines(footer, language))
    text_out = f"{body_text}\n\n{tail}" if body_text else tail
    if web_version_url:
        _ = i18n.gettext_for(language)
        label = _("View in your browser:")
        text_out = f"{label} {web_version_url}\n\n{text_out}"
    return RenderedEmail(subject=subject_out, preheader=preheader_out, html=inlined, text=text_out)
