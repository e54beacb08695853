"""Development channels: every message becomes one JSON file in the dev mailbox.

Files are named ``{time_ns}-{kind}-{message_id}.json`` (sortable by time) and written
atomically (temporary file, then ``os.replace``), so a reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
import uuid
from datetime import UTC, datetime
from email.utils import formataddr
from pathlib import Path
from typing import Any

from outreach.channels.base import EmailBatch, Outcome, OutgoingSms, SendResult, personalize

_TEMP_PREFIX = ".tmp-"
_last_ns = 0
_last_ns_lock = threading.Lock()


def _unique_ns() -> int:
    """``time.time_ns()``, strictly increasing within this process (keeps names unique)."""
    global _last_ns
    with _last_ns_lock:
        _last_ns = max(time.time_ns(), _last_ns + 1)
        return _last_ns


def _write(mailbox: Path, kind: str, message_id: int, record: dict[str, Any]) -> None:
    """Write one record atomically."""
    name = f"{_unique_ns()}-{kind}-{message_id}.json"
    temp = mailbox / f"{_TEMP_PREFIX}{uuid.uuid4().hex}"
    try:
        with open(temp, "w", encoding="utf-8") as handle:
            json.dump(record, handle, ensure_ascii=False, indent=2)
        os.replace(temp, mailbox / name)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _sent(message_id: int) -> SendResult:
    return SendResult(message_id, Outcome.SENT, provider_id=f"console-{uuid.uuid4().hex}")


class ConsoleEmailChannel:
    """Records each recipient's personalized email as a file instead of sending it."""

    name = "console"

    def __init__(self, mailbox_dir: str | Path) -> None:
        self.mailbox = Path(mailbox_dir)
        self.mailbox.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"ConsoleEmailChannel({str(self.mailbox)!r})"

    def send_batch(self, batch: EmailBatch) -> list[SendResult]:
        """Write one file per recipient; every result is SENT."""
        sender = (
            formataddr((batch.from_name, batch.from_email))
            if batch.from_name
            else (batch.from_email)
        )
        results = []
        for recipient in batch.recipients:
            subs = recipient.substitutions
            record = {
                "kind": "email",
                "message_id": recipient.message_id,
                "to": recipient.to,
                "from": sender,
                "subject": personalize(batch.subject, subs),
                "html": personalize(batch.html, subs),
                "text": personalize(batch.text, subs),
                "headers": dict(recipient.headers),
                "categories": list(batch.categories),
                "created_at": _now(),
            }
            _write(self.mailbox, "email", recipient.message_id, record)
            results.append(_sent(recipient.message_id))
        return results


class ConsoleSmsChannel:
    """Records each text message as a file instead of sending it."""

    name = "console"

    def __init__(self, mailbox_dir: str | Path) -> None:
        self.mailbox = Path(mailbox_dir)
        self.mailbox.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"ConsoleSmsChannel({str(self.mailbox)!r})"

    def send_many(self, messages: list[OutgoingSms]) -> list[SendResult]:
        """Write one file per message; every result is SENT."""
        results = []
        for message in messages:
            record = {
                "kind": "sms",
                "message_id": message.message_id,
                "to": message.to,
                "body": message.body,
                "created_at": _now(),
            }
            _write(self.mailbox, "sms", message.message_id, record)
            results.append(_sent(message.message_id))
        return results


def record_inbound(mailbox_dir: str | Path, from_number: str, body: str) -> None:
    """Record a text a subscriber sent (the dev simulator's side of a conversation)."""
    mailbox = Path(mailbox_dir)
    mailbox.mkdir(parents=True, exist_ok=True)
    record = {"kind": "sms", "direction": "in", "from": from_number, "to": "", "body": body,
              "created_at": _now()}  # fmt: skip
    _write(mailbox, "sms", 0, record)


def _entries(mailbox: Path) -> list[Path]:
    try:
        return [p for p in mailbox.iterdir() if p.suffix == ".json" and p.name[0].isdigit()]
    except FileNotFoundError:
        return []


def count_mailbox(mailbox_dir: str | Path) -> int:
    """How many messages the mailbox holds (no file is read)."""
    return len(_entries(Path(mailbox_dir)))


def read_mailbox(mailbox_dir: str | Path, limit: int = 200, skip: int = 0) -> list[dict[str, Any]]:
    """The newest ``limit`` recorded messages after the newest ``skip``, newest first
    (unreadable files skipped)."""
    paths = sorted(_entries(Path(mailbox_dir)), key=lambda p: p.name, reverse=True)[skip:]
    records: list[dict[str, Any]] = []
    for path in paths:
        if len(records) >= limit:
            break
        try:
            with open(path, encoding="utf-8") as handle:
                records.append(json.load(handle))
        except (OSError, ValueError):
            continue  # removed meanwhile, or not ours
    return records


def clear_mailbox(mailbox_dir: str | Path) -> int:
    """Delete every recorded message (and stale temporary files); return how many."""
    mailbox = Path(mailbox_dir)
    removed = 0
    for path in _entries(mailbox):
        path.unlink(missing_ok=True)
        removed += 1
    try:
        stale = [p for p in mailbox.iterdir() if p.name.startswith(_TEMP_PREFIX)]
    except FileNotFoundError:
        return removed
    for path in stale:
        with contextlib.suppress(OSError):
            if time.time() - path.stat().st_mtime > 60:  # not a write in progress
                path.unlink()
    return removed
