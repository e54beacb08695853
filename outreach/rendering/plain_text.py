"""HTML to a readable plain-text part (links kept, hidden text dropped)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

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
