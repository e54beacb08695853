"""Message rendering: sandboxed staff templates -> email parts or an SMS body.

Pure functions only: no Flask, no database, no other ``outreach`` modules.

Staff write message templates in Jinja. They are rendered in a sandbox (no access to
Python internals, no includes, bounded output), with undefined variables rendering as
empty text. Email bodies are rendered with autoescaping, placed into our own responsive
layout (``templates/messages/email_base.html``) and CSS-inlined.

Per-recipient values (see ``PERSONAL_VARIABLES``) are normally passed as substitution
tags (``tag("first_name") == "[%first_name%]"``) so that one render serves a whole
batch; the channel swaps the tags per recipient. Tags contain no HTML-special
characters, so they pass through autoescaping, CSS inlining and ``href`` attributes
unchanged.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path
from types import TracebackType
from typing import Any

import css_inline
import jinja2
from jinja2 import meta, nodes
from jinja2.sandbox import SandboxedEnvironment, SecurityError
from markupsafe import Markup

__all__ = [
    "DOCUMENTED_VARIABLES",
    "FOOTER_REQUIRED",
    "GSM7_BASIC",
    "GSM7_EXTENSION",
    "MAX_OUTPUT_CHARS",
    "PERSONAL_VARIABLES",
    "TEMPLATES_DIR",
    "RenderedEmail",
    "Segments",
    "TemplateError",
    "check_template",
    "footer_lines",
    "html_to_text",
    "render_email",
    "render_html",
    "render_sms",
    "render_text",
    "sms_segments",
    "tag",
]

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
EMAIL_LAYOUT = "messages/email_base.html"

#: Rendered output larger than this (characters) is refused: it can only be a runaway loop.
MAX_OUTPUT_CHARS = 1_000_000

#: Largest sequence a template may build with ``*`` (e.g. ``'-' * 40`` is fine).
_MAX_REPEAT = 10_000
#: Largest integer (in bits) a template may build with ``**``.
_MAX_POWER_BITS = 4_096

DOCUMENTED_VARIABLES: dict[str, str] = {
    "first_name": "The subscriber's first name as they gave it (may be empty); "
    "filled in per recipient when the message is sent.",
    "audience": "The name of the audience (list) this message is sent to.",
    "organisation": "Your organisation's name, as shown in the footer.",
    "postal_address": "Your organisation's postal address (every marketing email shows it).",
    "support_email": "The address subscribers can write to with questions.",
    "support_phone": "The phone number subscribers can call with questions.",
    "unsubscribe_url": "The subscriber's personal one-click unsubscribe link.",
    "preferences_url": "The subscriber's personal link to their preference page.",
}

#: Variables whose value differs per recipient (rendered as tags, swapped at send time).
PERSONAL_VARIABLES: tuple[str, ...] = ("first_name", "unsubscribe_url", "preferences_url")

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

_TAG_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class TemplateError(ValueError):
    """A staff template cannot be rendered (syntax, security or runtime error).

    ``lineno`` is the template line when known; the message then starts with
    ``"line N: "``.
    """

    def __init__(self, message: str, lineno: int | None = None) -> None:
        self.lineno = lineno
        self.detail = message
        super().__init__(f"line {lineno}: {message}" if lineno else message)


def tag(name: str) -> str:
    """Return the substitution tag for a personal variable: ``[%name%]``."""
    if not _TAG_NAME.fullmatch(name):
        raise ValueError(f"not a variable name: {name!r}")
    return f"[%{name}%]"


# --------------------------------------------------------------------------- sandbox


class _Sandbox(SandboxedEnvironment):
    """Jinja's sandbox, plus: unsafe attributes raise, and no huge ``*`` / ``**`` values."""

    intercepted_binops = frozenset({"*", "**"})

    def unsafe_undefined(self, obj: Any, attribute: str) -> jinja2.Undefined:
        """Raise instead of returning an undefined value (the default renders empty)."""
        raise SecurityError(
            f"access to attribute {attribute!r} of {type(obj).__name__!r} object is not allowed"
        )

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        """Refuse ``*`` and ``**`` results too large to be anything but a mistake."""
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if (
                    isinstance(seq, str | list | tuple)
                    and isinstance(times, int)
                    and len(seq) * times > _MAX_REPEAT
                ):
                    raise SecurityError("repeated value is too long")
        elif (
            isinstance(left, int)
            and isinstance(right, int)
            and right > 0
            and left.bit_length() * right > _MAX_POWER_BITS
        ):
            raise SecurityError("number is too large")
        return super().call_binop(context, operator, left, right)


def _make_sandbox(*, autoescape: bool) -> _Sandbox:
    env = _Sandbox(
        autoescape=autoescape,
        undefined=jinja2.ChainableUndefined,
        keep_trailing_newline=True,
    )
    # No globals: staff get the documented variables and filters, nothing else
    # (range, lipsum, cycler, joiner, namespace and dict are removed).
    env.globals.clear()
    return env


_TEXT_ENV = _make_sandbox(autoescape=False)
_HTML_ENV = _make_sandbox(autoescape=True)

_LAYOUT_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

_INLINER = css_inline.CSSInliner(keep_style_tags=True, load_remote_stylesheets=False)


def _template_lineno(tb: TracebackType | None) -> int | None:
    """The template line of the innermost template frame in a traceback."""
    lineno = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            lineno = tb.tb_lineno
        tb = tb.tb_next
    return lineno


def _as_template_error(exc: BaseException) -> TemplateError:
    if isinstance(exc, TemplateError):
        return exc
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return TemplateError(exc.message or "syntax error", exc.lineno)
    if isinstance(exc, RecursionError):
        message = "a macro calls itself without end"
    elif isinstance(exc, jinja2.TemplateError):
        message = exc.message or type(exc).__name__
    else:
        message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return TemplateError(message, _template_lineno(exc.__traceback__))


@lru_cache(maxsize=512)
def _compile(source: str, autoescape: bool) -> jinja2.Template:
    env = _HTML_ENV if autoescape else _TEXT_ENV
    try:
        return env.from_string(source)
    except Exception as exc:
        raise _as_template_error(exc) from None


def _render(source: str, context: Mapping[str, Any], *, autoescape: bool) -> str:
    if not isinstance(source, str):
        raise TemplateError("a template must be text")
    template = _compile(source, autoescape)
    parts: list[str] = []
    size = 0
    try:
        stream: Iterator[str] = template.generate(dict(context))
        for chunk in stream:
            size += len(chunk)
            if size > MAX_OUTPUT_CHARS:
                raise TemplateError(f"output is longer than {MAX_OUTPUT_CHARS:,} characters")
            parts.append(chunk)
    except Exception as exc:
        raise _as_template_error(exc) from None
    return "".join(parts)


def render_text(source: str, context: Mapping[str, str]) -> str:
    """Render a staff template as plain text (sandboxed, no escaping).

    Undefined variables render as empty text. Raises ``TemplateError`` (with the line
    number when known) on syntax errors, sandbox violations and runtime errors.
    """
    return _render(source, context, autoescape=False)


def render_html(source: str, context: Mapping[str, str]) -> str:
    """Render a staff HTML template (sandboxed, values HTML-escaped)."""
    return _render(source, context, autoescape=True)


# --------------------------------------------------------------------------- checking


def _parents(node: nodes.Node) -> Iterator[tuple[nodes.Node, nodes.Node]]:
    for child in node.iter_child_nodes():
        yield node, child
        yield from _parents(child)


def check_template(source: str) -> list[str]:
    """List problems in a staff template, each ``"line N: ..."``; ``[]`` when fine.

    Reports syntax errors (then stops), unknown variables (anything not in
    ``DOCUMENTED_VARIABLES``), attribute access the sandbox forbids, includes /
    imports, and personal variables used other than as a plain ``{{ name }}`` (at
    render time they are placeholders, so filters and conditions would see the tag).
    When nothing is found statically, a trial render with placeholder values reports
    run-time errors too.
    """
    try:
        _compile(source, False)
        tree = _TEXT_ENV.parse(source)
    except TemplateError as exc:
        return [str(exc)]
    except Exception as exc:  # the parser should only raise TemplateSyntaxError
        return [str(_as_template_error(exc))]

    problems: list[tuple[int, str]] = []
    undeclared = meta.find_undeclared_variables(tree)
    reported: set[str] = set()
    for parent, node in _parents(tree):
        lineno = getattr(node, "lineno", 0) or 0
        if isinstance(node, nodes.Name) and node.ctx == "load":
            name = node.name
            if name in undeclared and name not in DOCUMENTED_VARIABLES:
                if name not in reported:
                    reported.add(name)
                    hint = difflib.get_close_matches(name, DOCUMENTED_VARIABLES, n=1)
                    more = f"; did you mean '{hint[0]}'?" if hint else ""
                    problems.append((lineno, f"unknown variable '{name}'{more}"))
            elif (
                name in undeclared
                and name in PERSONAL_VARIABLES
                and not isinstance(parent, nodes.Output | nodes.Concat)
            ):
                problems.append(
                    (
                        lineno,
                        f"'{name}' is filled in per recipient when the message is sent; "
                        f"use it as {{{{ {name} }}}} (filters, tests and conditions "
                        "on it would see a placeholder)",
                    )
                )
        elif isinstance(node, nodes.Getattr) and node.attr.startswith("_"):
            problems.append((lineno, f"access to attribute '{node.attr}' is not allowed"))
        elif (
            isinstance(node, nodes.Getitem)
            and isinstance(node.arg, nodes.Const)
            and isinstance(node.arg.value, str)
            and node.arg.value.startswith("_")
        ):
            problems.append((lineno, f"access to attribute '{node.arg.value}' is not allowed"))
        elif isinstance(node, nodes.Include | nodes.Import | nodes.FromImport | nodes.Extends):
            problems.append((lineno, "include, import and extends are not available"))
    problems.sort(key=lambda item: item[0])
    found = [f"line {lineno}: {message}" for lineno, message in problems]
    if not found:
        # Trial render with placeholders: catches what only shows at run time
        # (forbidden attributes through filters, division by zero, endless macros).
        try:
            render_text(source, {name: tag(name) for name in DOCUMENTED_VARIABLES})
        except TemplateError as exc:
            found.append(str(exc))
    return found


# --------------------------------------------------------------------------- email


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


def footer_lines(footer: Mapping[str, str]) -> list[str]:
    """The plain-text footer: organisation, postal address, support, preferences, unsubscribe.

    The last line is always ``"Unsubscribe: <url>"``.
    """
    lines = ["--", footer["organisation"].strip()]
    lines += [line.strip() for line in footer["postal_address"].splitlines() if line.strip()]
    support = [
        footer.get(key, "").strip()
        for key in ("support_email", "support_phone")
        if footer.get(key, "").strip()
    ]
    if support:
        lines.append("Questions? " + " / ".join(support))
    if footer.get("preferences_url", "").strip():
        lines.append(f"Manage preferences: {footer['preferences_url'].strip()}")
    lines.append(f"Unsubscribe: {footer['unsubscribe_url'].strip()}")
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
) -> RenderedEmail:
    """Render a staff email into subject, preheader, inlined HTML and a text part.

    ``footer`` must hold ``organisation``, ``postal_address`` and ``unsubscribe_url``
    (and may hold ``preferences_url``, ``support_email``, ``support_phone``,
    ``audience``); its values are also available to the templates, under ``context``.
    Subject and preheader become single lines. The HTML body is rendered with
    autoescaping and placed into ``templates/messages/email_base.html``; the text part
    is rendered from ``text`` or derived from the HTML, and always ends with the footer.
    """
    missing = [key for key in FOOTER_REQUIRED if not str(footer.get(key, "")).strip()]
    if missing:
        raise ValueError(f"the email footer needs: {', '.join(missing)}")
    values: dict[str, str] = {**footer, **context}

    subject_out = _one_line(render_text(subject, values))
    preheader_out = _one_line(render_text(preheader, values))
    body = render_html(html, values)

    layout = _LAYOUT_ENV.get_template(EMAIL_LAYOUT)
    page = layout.render(
        subject=subject_out,
        preheader=preheader_out,
        content=Markup(body),  # noqa: S704 - rendered by the autoescaping sandbox
        footer={key: str(footer.get(key, "") or "") for key in {*_FOOTER_KEYS, *footer}},
        address_lines=[
            line.strip() for line in str(footer["postal_address"]).splitlines() if line.strip()
        ],
    )
    try:
        inlined = _INLINER.inline(page)
    except css_inline.InlineError as exc:
        raise TemplateError(f"the email's CSS could not be inlined: {exc}") from None

    body_text = (
        _clean_text(render_text(text, values)) if text is not None else html_to_text(inlined)
    )
    tail = "\n".join(footer_lines(footer))
    text_out = f"{body_text}\n\n{tail}" if body_text else tail
    return RenderedEmail(subject=subject_out, preheader=preheader_out, html=inlined, text=text_out)


# --------------------------------------------------------------------------- html -> text

_SKIP_TAGS = frozenset({"head", "style", "script", "title", "template", "noscript", "svg"})
_VOID_TAGS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)
_PARAGRAPH_TAGS = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table", "blockquote", "pre", "hr"}
)
_LINE_TAGS = frozenset(
    {
        "div",
        "tr",
        "td",
        "th",
        "section",
        "article",
        "header",
        "footer",
        "address",
        "center",
        "dl",
        "dt",
        "dd",
        "figure",
        "figcaption",
        "main",
        "nav",
        "aside",
        "li",
    }
)
# Invisible characters used to pad preheaders and defeat auto-linking.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u034f\u00ad"), None)
_HIDDEN_STYLE = re.compile(r"(?:^|;)\s*(?:display\s*:\s*none|mso-hide\s*:\s*all)", re.I)


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._skip_tag: str | None = None
        self._skip_depth = 0
        self._links: list[tuple[str, int]] = []
        self._lists: list[list[Any]] = []

    @staticmethod
    def _hidden(tag: str, attrs: dict[str, str | None]) -> bool:
        return (
            tag in _SKIP_TAGS
            or "hidden" in attrs
            or attrs.get("aria-hidden") == "true"
            or (attrs.get("data-plaintext") or "").lower() == "omit"
            or bool(_HIDDEN_STYLE.search(attrs.get("style") or ""))
        )

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._skip_tag is not None:
            if tag == self._skip_tag:
                self._skip_depth += 1
            return
        attributes = dict(attrs)
        if self._hidden(tag, attributes):
            if tag not in _VOID_TAGS:
                self._skip_tag, self._skip_depth = tag, 1
            return
        if tag == "br":
            self.out.append("\n")
        elif tag in ("ul", "ol"):
            self._break(2)
            self._lists.append([tag, 0])
        elif tag == "li":
            self._break(1)
            if self._lists and self._lists[-1][0] == "ol":
                self._lists[-1][1] += 1
                self.out.append(f"{self._lists[-1][1]}. ")
            else:
                self.out.append("- ")
        elif tag in _PARAGRAPH_TAGS:
            self._break(2)
        elif tag in _LINE_TAGS:
            self._break(1)
        elif tag == "a":
            self._links.append(((attributes.get("href") or "").strip(), len(self.out)))
        elif tag == "img":
            alt = (attributes.get("alt") or "").strip()
            if alt:
                self.out.append(f" {alt} ")

    def handle_endtag(self, tag: str) -> None:
        if self._skip_tag is not None:
            if tag == self._skip_tag:
                self._skip_depth -= 1
                if self._skip_depth == 0:
                    self._skip_tag = None
            return
        if tag in ("ul", "ol"):
            if self._lists:
                self._lists.pop()
            self._break(2)
        elif tag in _PARAGRAPH_TAGS:
            self._break(2)
        elif tag in _LINE_TAGS:
            self._break(1)
        elif tag == "a" and self._links:
            href, start = self._links.pop()
            label = " ".join("".join(self.out[start:]).split())
            target = href[len("mailto:") :] if href.lower().startswith("mailto:") else href
            if not target or target.startswith("#") or target == label:
                return
            if label:
                self.out.append(f" ({target})")
            else:
                self.out.append(target)

    def _break(self, lines: int) -> None:
        """End the current line; ``lines=2`` leaves a blank line. Breaks do not stack."""
        have = 0
        for piece in reversed(self.out):
            if piece.strip():
                break
            have += piece.count("\n")
        if have < lines:
            self.out.append("\n" * (lines - have))

    def handle_data(self, data: str) -> None:
        if self._skip_tag is None:
            self.out.append(re.sub(r"\s+", " ", data.translate(_INVISIBLE)))


def html_to_text(html: str) -> str:
    """Plain-text version of an HTML email.

    Drops ``<head>``, ``<style>``, ``<script>``, hidden elements (the preheader:
    ``display:none``) and elements marked ``data-plaintext="omit"``. Links become
    ``label (url)``; paragraphs, headings, ``<br>``, rows and list items become line
    breaks; list items get ``- `` (or ``1. `` in ordered lists); whitespace collapses.
    """
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.out).split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# --------------------------------------------------------------------------- SMS

#: GSM 03.38 default alphabet (one septet each). 0x1B (escape) is not a character.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
#: GSM 03.38 default extension table (escape + character: two septets each).
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")


@dataclass(frozen=True)
class Segments:
    """How an SMS body travels: encoding, length in its units, number of parts."""

    encoding: str  # "GSM-7" or "UCS-2"
    characters: int  # GSM-7: septets (extension chars count 2); UCS-2: UTF-16 code units
    segments: int  # 0 for an empty body


def _pack(units: list[int], single: int, part: int) -> int:
    """Segments needed: one if it fits in ``single``; else parts of ``part`` units,
    never splitting a character (escape sequence or surrogate pair) between parts."""
    total = sum(units)
    if total == 0:
        return 0
    if total <= single:
        return 1
    count, used = 1, 0
    for size in units:
        if used + size > part:
            count, used = count + 1, 0
        used += size
    return count


def sms_segments(body: str) -> Segments:
    """Count the encoding, length and segments of an SMS body (GSM 03.38 / UCS-2).

    GSM-7: up to 160 septets in one part, else 153 per part. UCS-2: up to 70 UTF-16
    code units in one part, else 67 per part. A character is never split between
    parts, so a long body with extension characters or emoji may need one part more
    than ``ceil(length / per_part)``.
    """
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in body):
        units = [2 if ch in GSM7_EXTENSION else 1 for ch in body]
        return Segments("GSM-7", sum(units), _pack(units, 160, 153))
    units = [2 if ord(ch) > 0xFFFF else 1 for ch in body]
    return Segments("UCS-2", sum(units), _pack(units, 70, 67))


def render_sms(source: str, context: Mapping[str, str]) -> str:
    """Render an SMS template: ``render_text``, then collapse runs of spaces and trim."""
    text = render_text(source, context).replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"[ \t]+", " ", text)
    text = re.sub(r" ?\n ?", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
