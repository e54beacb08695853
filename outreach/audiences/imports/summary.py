"""An import's outcome in plain sentences: rows (people) and subscriptions (channels) are
counted separately, since one row can subscribe a person to email and texts."""

from __future__ import annotations

from typing import Any

CHANNEL_WORDS = {"email": "email", "sms": "text messages"}


def _n(count: int, one: str, many: str) -> str:
    return f"{count:,} {one if count == 1 else many}"


def sentences(result: dict[str, Any]) -> list[str]:
    """What happened, for the import page (``result`` is ``ImportResult.as_dict()``)."""
    rows, rejected, partial = (
        result.get("rows", 0),
        result.get("rejected", 0),
        result.get("partial", 0),
    )
    imported = rows - rejected
    said = [
        f"Read {_n(rows, 'row', 'rows')}: {_n(imported, 'person', 'people')} imported"
        + (f" ({partial:,} only in part)" if partial else "")
        + (
            f", {_n(rejected, 'row', 'rows')} rejected (see the CSV of reasons)."
            if rejected
            else ", none rejected."
        )  # fmt: skip
    ]
    for channel, label in CHANNEL_WORDS.items():
        counts = (result.get("channels") or {}).get(channel) or {}
        parts = [
            f"{counts[key]:,} {word}"
            for key, word in (
                ("active", "subscribed"),
                ("pending", "waiting for confirmation"),
                ("already", "already subscribed"),
            )  # fmt: skip
            if counts.get(key)
        ]
        if parts:
            said.append(f"{label.capitalize()}: " + ", ".join(parts) + ".")
    if result.get("pending"):
        sent, deferred = (
            result.get("confirmations_sent", 0),
            result.get("confirmations_deferred", 0),
        )
        line = f"{_n(sent, 'confirmation message', 'confirmation messages')} sent"
        if deferred:
            line += (f"; {_n(deferred, 'text', 'texts')} queued for the next legal sending hours "
                     "where the person lives (sent then, not dropped)")  # fmt: skip
        if result.get("confirmations_not_sent"):
            line += f"; {result['confirmations_not_sent']:,} could not be sent"
        said.append(line + ".")
    return said
