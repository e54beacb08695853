"""What a rendered email offers screen readers and low vision: a stdlib ``html.parser``
walk of the inlined HTML (no regular expressions for tags) and the checks preflight and the
step editor show as warnings (WCAG 2.2 AA): ``lang`` on ``<html>``, a title, image alt
text, meaningful link text, heading order, text contrast (from the layout's and the staff's
inline colours) and a text part that carries every link."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from html.parser import HTMLParser

from outreach.rendering import contrast

#: Link text that says nothing out of context (WCAG 2.4.4), compared without accents,
#: punctuation or case.
VAGUE_LINK_TEXT = frozenset(
    {
        "click here", "click", "here", "tap here", "read more", "more", "learn more",
        "this link", "link", "this", "go", "click this link",
        "haz clic aqui", "haga clic aqui", "clic aqui", "click aqui", "pulsa aqui",
        "pincha aqui", "aqui", "leer mas", "lee mas", "mas", "este enlace", "enlace",
        "mas informacion",
    }
)  # fmt: skip

_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_HIDDEN_STYLE = re.compile(r"(?:^|;)\s*(?:display\s*:\s*none|mso-hide\s*:\s*all)", re.I)
_NO_TEXT = frozenset({"head", "style", "script", "title", "template", "noscript"})
BLACK, WHITE = (0, 0, 0), (255, 255, 255)


@dataclass
class _Frame:
    tag: str
    color: contrast.Rgb
    background: contrast.Rgb
    font_px: float | None
    bold: bool
    hidden: bool


@dataclass
class Audit:
    """What the walk found."""

    lang: str | None = None
    title: str = ""
    images_without_alt: list[str] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)  # (href, accessible text)
    headings: list[tuple[int, str]] = field(default_factory=list)
    #: (foreground, background, ratio, needed, sample text), each pair once.
    low_contrast: list[tuple[str, str, float, float, str]] = field(default_factory=list)


def _declarations(style: str) -> dict[str, str]:
    out = {}
    for part in style.split(";"):
        name, _, value = part.partition(":")
        if value.strip():
            out[name.strip().lower()] = value.replace("!important", "").strip()
    return out


def _font_px(value: str | None, inherited: float | None) -> float | None:
    match = re.fullmatch(r"([\d.]+)\s*(px|pt|em|rem|%)?", (value or "").strip().lower())
    if not match:
        return inherited
    size, unit = float(match.group(1)), match.group(2) or "px"
    base = inherited or 16.0
    return {
        "px": size,
        "pt": size * 4 / 3,
        "em": size * base,
        "rem": size * 16,
        "%": size * base / 100,
    }[unit]  # noqa: E501


class _Walker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.audit = Audit()
        self.stack = [_Frame("#root", BLACK, WHITE, None, False, False)]
        self._in_title = False
        self._link: list[str] | None = None
        self._href = ""
        self._heading: tuple[int, list[str]] | None = None
        self._pairs: set[tuple[str, str]] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        present = {name for name, _ in attrs}
        top = self.stack[-1]
        style = _declarations(attributes.get("style", ""))
        hidden = top.hidden or "hidden" in present or attributes.get("aria-hidden") == "true"
        hidden = hidden or bool(_HIDDEN_STYLE.search(attributes.get("style", "")))
        if tag == "html" and "lang" in present:
            self.audit.lang = attributes["lang"].strip() or None
        elif tag == "title":
            self._in_title = True
        elif tag == "img" and not hidden:
            if "alt" not in present and attributes.get("role") != "presentation":
                self.audit.images_without_alt.append(attributes.get("src", "")[:80])
            elif self._link is not None:
                self._link.append(attributes.get("alt", ""))
        elif tag == "a" and not hidden:
            self._link, self._href = [attributes.get("aria-label", "")], attributes.get("href", "")
        elif tag in _HEADINGS and not hidden:
            self._heading = (_HEADINGS[tag], [])
        if tag in _VOID:
            return
        background = contrast.first_color(style.get("background-color", "")) or (
            contrast.first_color(style.get("background", ""))
            or contrast.parse_color(attributes.get("bgcolor", ""))
        )
        weight = style.get("font-weight", "")
        self.stack.append(
            _Frame(
                tag,
                contrast.parse_color(style.get("color", "")) or top.color,
                background or top.background,
                _font_px(style.get("font-size"), top.font_px),
                weight in ("bold", "bolder") or (weight.isdigit() and int(weight) >= 600)
                or tag in ("b", "strong", *_HEADINGS) or top.bold,
                hidden or tag in _NO_TEXT,
            )
        )  # fmt: skip

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag == "a" and self._link is not None:
            self.audit.links.append((self._href.strip(), " ".join(" ".join(self._link).split())))
            self._link = None
        elif tag in _HEADINGS and self._heading is not None:
            level, words = self._heading
            self.audit.headings.append((level, " ".join(" ".join(words).split())[:60]))
            self._heading = None
        for index in range(len(self.stack) - 1, 0, -1):
            if self.stack[index].tag == tag:
                del self.stack[index:]
                return

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.audit.title += data
            return
        top = self.stack[-1]
        words = " ".join(data.split())
        if top.hidden or not words:
            return
        if self._link is not None:
            self._link.append(words)
        if self._heading is not None:
            self._heading[1].append(words)
        value = contrast.ratio(top.color, top.background)
        needed = contrast.required(top.font_px, top.bold)
        pair = (contrast.hex_of(top.color), contrast.hex_of(top.background))
        if value < needed and pair not in self._pairs:
            self._pairs.add(pair)
            self.audit.low_contrast.append((*pair, value, needed, words[:40]))


def audit(html: str) -> Audit:
    """Walk a rendered email's HTML."""
    walker = _Walker()
    walker.feed(html)
    walker.close()
    walker.audit.title = " ".join(walker.audit.title.split())
    return walker.audit


def plain(words: str) -> str:
    """Link text compared without accents, punctuation or case."""
    decomposed = unicodedata.normalize("NFKD", words.lower())
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^\w\s]", " ", letters).split())


def missing_from_text(links: list[tuple[str, str]], text: str) -> list[str]:
    """The HTML's link addresses (web and mailto) that the text part does not carry."""
    missing = []
    for href, _ in links:
        target = href[len("mailto:") :] if href.lower().startswith("mailto:") else href
        web = href.lower().startswith(("http://", "https://", "mailto:"))
        if web and target and target not in text and target not in missing:
            missing.append(target)
    return missing


def problems(html: str, text: str) -> list[tuple[str, str]]:
    """``(field, message)`` for each accessibility problem of a rendered email."""
    found = audit(html)
    out: list[tuple[str, str]] = []
    if not found.lang:
        out.append(("html", "the email's <html> element has no lang: screen readers need it "
                            "to read the email in the right language"))  # fmt: skip
    if not found.title:
        out.append(("subject", "the email has no title (its subject): screen readers and the "
                               "web version announce it first"))  # fmt: skip
    for src in found.images_without_alt:
        out.append(("html", f"an image has no alt text ({src or 'no src'}): describe it, or "
                            'write alt="" if it is only decoration'))  # fmt: skip
    for href, words in found.links:
        if not words:
            out.append(("html", f"a link has no text ({href[:60] or 'no href'}): screen "
                                "readers announce it as just 'link'"))  # fmt: skip
        elif plain(words) in VAGUE_LINK_TEXT:
            out.append(("html", f"link text '{words}' says nothing on its own: name where it "
                                "goes (e.g. 'Read the June migraine guide' / 'Lee la guía "
                                "de junio')"))  # fmt: skip
    previous = 1
    for level, words in found.headings:
        if level > previous + 1:
            out.append(("html", f"heading levels skip from h{previous} to h{level} "
                                f"('{words}'): use h{previous + 1} next"))  # fmt: skip
        previous = level
    for fg, bg, value, needed, sample in found.low_contrast:
        out.append(("html", f"text in {fg} on {bg} has a contrast of {value:.1f}:1 "
                            f"('{sample}'); WCAG AA needs {needed:g}:1"))  # fmt: skip
    missing = missing_from_text(found.links, text)
    if missing:
        shown = ", ".join(missing[:3]) + (
            f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        )
        out.append(("text", f"the plain-text version lacks {len(missing)} link(s) of the HTML "
                            f"({shown}): add them, or leave it empty to generate it"))  # fmt: skip
    return out
