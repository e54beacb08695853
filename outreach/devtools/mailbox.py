"""The dev mailbox: what the console channels recorded, for the staff page."""

from __future__ import annotations

from flask import current_app


def recent_messages(limit: int = 200) -> list[dict]:
    """What the console channels recorded, newest first (for the staff dev mailbox)."""
    from outreach.channels.console import read_mailbox

    return read_mailbox(current_app.config["OUTREACH_DEV_MAILBOX"], limit=limit)
