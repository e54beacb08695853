"""Console channels: one readable JSON file per message in the dev mailbox."""

from __future__ import annotations

import json
import re

from outreach.channels.base import EmailBatch, EmailRecipient, Outcome, OutgoingSms
from outreach.channels.console import (
    ConsoleEmailChannel,
    ConsoleSmsChannel,
    clear_mailbox,
    read_mailbox,
)


def make_batch() -> EmailBatch:
    return EmailBatch(
        from_email="news@clinic.example.org",
        from_name="Clinic News",
        subject="Hello -first_name-",
        html="<p>Hi -first_name-</p>",
        text="Hi -first_name-",
        recipients=tuple(
            EmailRecipient(
                i,
                f"user{i}@example.org",
                {"-first_name-": f"Name{i}"},
                {"List-Unsubscribe": f"<https://outreach.example.org/unsubscribe/t{i}>"},
            )
            for i in (1, 2)
        ),
        categories=("june-awareness",),
    )


def test_email_files_are_personalized_and_readable(tmp_path):
    mailbox = tmp_path / "mailbox"
    results = ConsoleEmailChannel(mailbox).send_batch(make_batch())

    assert [r.message_id for r in results] == [1, 2]
    assert {r.outcome for r in results} == {Outcome.SENT}
    assert all(re.fullmatch(r"console-[0-9a-f]{32}", r.provider_id) for r in results)
    files = sorted(mailbox.iterdir())
    assert [f.name.split("-", 1)[1] for f in files] == ["email-1.json", "email-2.json"]
    record = json.loads(files[1].read_text(encoding="utf-8"))
    assert record["kind"] == "email"
    assert record["message_id"] == 2
    assert record["to"] == "user2@example.org"
    assert record["from"] == "Clinic News <news@clinic.example.org>"
    assert record["subject"] == "Hello Name2"
    assert record["html"] == "<p>Hi Name2</p>"
    assert record["text"] == "Hi Name2"
    assert record["headers"]["List-Unsubscribe"].endswith("/t2>")
    assert record["categories"] == ["june-awareness"]
    assert record["created_at"].endswith("+00:00")


def test_sms_files_and_mailbox_reading(tmp_path):
    ConsoleEmailChannel(tmp_path).send_batch(make_batch())
    sms = ConsoleSmsChannel(tmp_path)
    results = sms.send_many([OutgoingSms(7, "+12025550107", "Reply STOP to end")])

    assert results[0].outcome is Outcome.SENT
    newest = read_mailbox(tmp_path)
    assert [r["message_id"] for r in newest] == [7, 2, 1]  # newest first
    assert set(newest[0]) == {"kind", "message_id", "to", "body", "created_at"}
    assert newest[0]["body"] == "Reply STOP to end"
    assert [r["message_id"] for r in read_mailbox(tmp_path, limit=2)] == [7, 2]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]

    assert clear_mailbox(tmp_path) == 3
    assert read_mailbox(tmp_path) == []


def test_reading_a_missing_mailbox_is_empty(tmp_path):
    assert read_mailbox(tmp_path / "nowhere") == []
    assert clear_mailbox(tmp_path / "nowhere") == 0
