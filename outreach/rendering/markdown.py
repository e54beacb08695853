"""Markdown for staff who would rather not write HTML: a step's Markdown body becomes the
HTML the email layout wraps (the same HTML an "advanced" step holds, so one sending path).

markdown-it-py in its CommonMark preset with raw HTML off: anything that looks like a tag is
shown as text, never passed through. Personalisation (``{{ first_name }}``, ``{{
request_url }}``, ``{% if ... %}``) is kept exactly as written, even inside a link's address.
A button is a link alone in its paragraph with the title "button":
``[Request a free consultation]({{ request_url }} "button")``.
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt

#: Jinja expressions and statements, kept out of Markdown's hands while it renders.
_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)
#: A placeholder made only of letters and digits, so Markdown leaves it alone everywhere
#: (text, link addresses); staff text never holds it.
_HOLD = "zqjinja{}qz"
_HELD = re.compile(r"zqjinja(\d+)qz")
BUTTON_TITLE = "button"
SCHEMES = frozenset({"http", "https", "mailto", "tel"})


def _parser() -> MarkdownIt:
    parser = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    parser.validateLink = _allowed_link
    parser.core.ruler.push("outreach_buttons", _buttons)
    return parser


def _allowed_link(url: str) -> bool:
    """Addresses a link or image may have: http(s), mailto, tel, relative, in-page, and
    personalisation (``{{ request_url }}``); never javascript:, data: and the like."""
    candidate = url.strip().lower()
    if _HELD.match(candidate):
        return True
    scheme, colon, _ = candidate.partition(":")
    return not colon or scheme in SCHEMES or "/" in scheme or "?" in scheme or "#" in scheme


def _buttons(state) -> None:  # noqa: ANN001
    """A paragraph holding only a link titled "button" becomes the layout's button."""
    for block in state.tokens:
        if block.type != "inline" or not block.children:
            continue
        children = block.children
        opening = children[0]
        if (
            opening.type == "link_open"
            and children[-1].type == "link_close"
            and opening.attrGet("title") == BUTTON_TITLE
            and sum(1 for t in children if t.type == "link_open") == 1
        ):
            opening.attrs.pop("title", None)
            opening.attrSet("class", "button")


_PARSER = _parser()


def to_html(markdown: str) -> str:
    """The email body HTML for a step's Markdown (personalisation kept as written)."""
    held: list[str] = []

    def hold(match: re.Match[str]) -> str:
        held.append(match.group(0))
        return _HOLD.format(len(held) - 1)

    html = _PARSER.render(_JINJA.sub(hold, markdown))
    return _HELD.sub(lambda m: held[int(m.group(1))], html).rstrip("\n")
