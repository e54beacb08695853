"""The dev mailbox page: one collapsed line per message (kind, subject or text, recipient,
local time with the zone named), one open at a time, search and pages; an email's links
open in a new tab."""

from __future__ import annotations

import re
from pathlib import Path
from zoneinfo import ZoneInfo

from outreach.channels import console
from outreach.devtools import mailbox
from tests.factories import make_audience


def record(app, kind: str, n: int, **fields: str) -> None:  # noqa: ANN001
    """A message as the console channel records it (numbered ``n``, oldest first)."""
    base = {"kind": kind, "message_id": n, "created_at": "2027-06-01T14:00:00.000+00:00"}
    if kind == "email":
        base |= {"to": f"reader{n}@example.org", "from": "NeuroMedici <news@neuromedici.example>",
                 "subject": f"June note {n}", "html": "<html><head><title>t</title></head>"
                 '<body><a href="https://clinic.example/r/x">Read</a></body></html>',
                 "text": "Read https://clinic.example/r/x", "headers": {}}  # fmt: skip
    else:
        base |= {"to": f"+1917555{n:04d}", "body": f"Text number {n}: reply STOP to opt out"}
    folder = Path(app.config["OUTREACH_DEV_MAILBOX"])
    folder.mkdir(parents=True, exist_ok=True)
    console._write(folder, kind, n, base | fields)


def titles(html: str) -> list[str]:
    return re.findall(r'<strong class="mail-title">([^<]*)</strong>', html)


def test_messages_are_listed_collapsed_newest_first_in_the_clinic_zone(app, editor):
    make_audience(default_timezone="America/Chicago")
    record(app, "email", 1)
    record(app, "sms", 2)
    page = editor.get("/admin/dev/mailbox").get_data(as_text=True)
    assert titles(page) == ["Text number 2: reply STOP to opt out", "June note 1"]
    assert page.count('<details class="card mail-item" name="mailbox"') == 2
    assert "open" not in re.findall(r'<details class="card mail-item"[^>]*>', page)[0]
    assert "Tue 1 Jun 2027, 09:00 CDT" in page  # 14:00 UTC, in the first audience's zone
    assert "times in America/Chicago" in page and "to reader1@example.org" in page


def test_search_finds_by_subject_recipient_or_text_and_says_when_nothing_matches(app, editor):
    make_audience()
    for n in range(1, 4):
        record(app, "email", n)
    record(app, "sms", 9, body="Your headache diary starts today")
    assert titles(editor.get("/admin/dev/mailbox?q=note+2").get_data(as_text=True)) == [
        "June note 2"
    ]
    assert titles(editor.get("/admin/dev/mailbox?q=READER3@").get_data(as_text=True)) == [
        "June note 3"
    ]
    found = editor.get("/admin/dev/mailbox?q=diary").get_data(as_text=True)
    assert titles(found) == ["Your headache diary starts today"] and "1 message matching" in found
    none = editor.get("/admin/dev/mailbox?q=vacation").get_data(as_text=True)
    assert "No message matches “vacation”." in none


def test_pages_of_twenty_with_older_and_newer_links(app, editor):
    make_audience()
    for n in range(1, 46):
        record(app, "sms", n)
    first = editor.get("/admin/dev/mailbox").get_data(as_text=True)
    assert len(titles(first)) == 20 and titles(first)[0].startswith("Text number 45:")
    assert "page 1 of 3" in first and 'rel="next"' in first and 'rel="prev"' not in first
    last = editor.get("/admin/dev/mailbox?page=3").get_data(as_text=True)
    assert [t.split(":")[0] for t in titles(last)] == [f"Text number {n}" for n in range(5, 0, -1)]
    assert 'rel="prev"' in last and 'rel="next"' not in last
    beyond = editor.get("/admin/dev/mailbox?page=99").get_data(as_text=True)
    assert "page 3 of 3" in beyond  # past the end: the last page


def test_an_emails_links_open_in_a_new_tab_and_its_frame_runs_no_script(app, editor):
    make_audience()
    record(app, "email", 1)
    page = editor.get("/admin/dev/mailbox").get_data(as_text=True)
    frame = re.search(r'<iframe class="preview" sandbox="([^"]*)" srcdoc="([^"]*)"', page)
    assert "allow-scripts" not in frame.group(1) and "allow-popups" in frame.group(1)
    assert frame.group(2).startswith("&lt;html&gt;&lt;head&gt;&lt;base target=&#34;_blank&#34;")


def test_open_links_in_new_tab_puts_one_base_first_in_the_head():
    assert mailbox.open_links_in_new_tab("<p>x</p>") == '<base target="_blank"><p>x</p>'
    assert mailbox.open_links_in_new_tab('<HTML><HEAD lang="en"><title>t') == (
        '<HTML><HEAD lang="en"><base target="_blank"><title>t'
    )


def test_matching_needs_every_word_in_any_field():
    item = {"subject": "June note", "to": "ann@example.org", "body": None}
    assert mailbox.matches(item, "june ANN@")
    assert not mailbox.matches(item, "june bob")
    assert mailbox.matches(item, "   ")


def test_prepare_shortens_long_texts_for_the_line_and_counts_segments():
    long = "a" * 200
    shown = mailbox.prepare({"kind": "sms", "body": long, "created_at": "bad"}, ZoneInfo("UTC"))
    assert shown["title"] == "a" * 69 + "…" and shown["segments"].segments == 2
    assert shown["local_time"] == ""  # an unreadable time is left out, not a 500
