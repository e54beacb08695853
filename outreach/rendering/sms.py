"""Text messages: rendering and GSM-7 / UCS-2 segment counts."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from outreach.rendering.templates import render_text

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
