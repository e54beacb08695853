"""CSV import from the page and from ``flask outreach import``."""

from __future__ import annotations

import csv
import io
import os
import time
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select

from outreach.audiences.imports import jobs as import_jobs
from outreach.consent import ledger as consent_ledger
from outreach.consent import signup as signups
from outreach.consent import subscriptions, suppression
from outreach.devtools import mailbox as console_mailbox
from outreach.extensions import db
from outreach.models import ConsentEvent, Subscriber, Subscription
from tests.admin.support import post, text
from tests.factories import make_audience, make_subscriber

LIST = """Email,Mobile number,First name,Time zone
ann@example.org,(917) 555-0142,Ann,America/Chicago
BEN@Example.ORG,,Ben,
not-an-email,,Carl,
ann@example.org,,Ann again,
suppressed@example.org,,Sue,
gone@example.org,,Gone,
dan@example.org,12,Dan,
,,Nobody,
=1+2,,Eve,
"""


def _upload(client, audience_id: int, body: str, name: str = "list.csv"):  # noqa: ANN001, ANN202
    return post(
        client,
        "/admin/import",
        {"audience_id": str(audience_id), "file": (io.BytesIO(body.encode()), name)},
        content_type="multipart/form-data",
    )


def _wait(client, job_url: str, timeout: float = 30.0) -> dict:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while True:
        progress = client.get(job_url + "/progress.json").get_json()
        if progress["state"] in ("done", "failed"):
            return progress
        assert time.monotonic() < deadline, progress
        time.sleep(0.05)


def _start(client, audience_id: int, body: str, mapping: dict) -> tuple[str, dict]:  # noqa: ANN001
    uploaded = _upload(client, audience_id, body)
    assert uploaded.status_code == 303, text(uploaded)
    map_url = uploaded.headers["Location"]
    started = post(client, map_url, mapping)
    assert started.status_code == 303, text(started)
    job_url = started.headers["Location"]
    return job_url, _wait(client, job_url)


def _report(client, job_url: str) -> list[dict]:  # noqa: ANN001
    response = client.get(job_url + "/rejected.csv")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def _states(audience_id: int) -> dict[tuple[str, str], str]:
    db.session.expire_all()
    rows = db.session.execute(
        select(Subscriber.email, Subscriber.phone, Subscription.channel, Subscription.state)
        .join(Subscription, Subscription.subscriber_id == Subscriber.id)
        .where(Subscription.audience_id == audience_id)
    )
    return {
        (email if channel == "email" else phone, channel): state
        for email, phone, channel, state in rows
    }


def test_page_import_with_consent_evidence(clock, editor, staff_users):
    audience = make_audience(single_opt_in_for_imports=True)
    gone = make_subscriber(audience, email="gone@example.org", channels=("email",))
    subscriptions.revoke(gone.subscriptions[0], consent_ledger.Evidence(source="one_click"))
    suppression.suppress("email", "suppressed@example.org", "hard_bounce")
    db.session.commit()

    mapping_page = editor.get(_upload(editor, audience.id, LIST).headers["Location"])
    page = text(mapping_page)
    assert "not-an-email" in page and "Mobile number" in page
    body = mapping_page.get_data(as_text=True)
    assert '<option value="Email" selected>' in body  # guessed from the header
    assert '<option value="Mobile number" selected>' in body

    job_url, progress = _start(
        editor,
        audience.id,
        LIST,
        {
            "email_column": "Email",
            "phone_column": "Mobile number",
            "first_name_column": "First name",
            "timezone_column": "Time zone",
            "channels": ["email", "sms"],
            "consent_source": "Clinic intake form (paper)",
            "consent_date": "2027-03-02",
        },
    )
    assert progress["state"] == "done" and progress["percent"] == 100
    result = progress["result"]
    assert (result["rows"], result["active"], result["pending"]) == (9, 4, 0)
    assert (result["rejected"], result["partial"]) == (6, 1)

    assert _states(audience.id) == {
        ("ann@example.org", "email"): "active",
        ("+19175550142", "sms"): "active",
        ("ben@example.org", "email"): "active",
        ("dan@example.org", "email"): "active",
        ("gone@example.org", "email"): "unsubscribed",
    }
    ann = signups.find_subscriber(email="ann@example.org")
    assert ann.timezone == "America/Chicago" and ann.first_name == "Ann"
    ledger = consent_ledger.ledger_for(ann)
    assert {(e.channel, e.action) for e in ledger} == {
        ("email", "requested"),
        ("email", "confirmed"),
        ("sms", "requested"),
        ("sms", "confirmed"),
    }
    assert all(e.source == "import" and e.actor_id == staff_users["editor"] for e in ledger)
    assert ledger[0].wording == (
        "Imported with consent given through Clinic intake form (paper) on 2027-03-02"
    )
    assert ledger[0].note == "list.csv line 2"
    assert (
        db.session.scalar(
            select(func.count(Subscriber.id)).filter_by(email="suppressed@example.org")
        )
        == 0
    )

    report = {row["line"]: row for row in _report(editor, job_url)}
    assert set(report) == {"4", "5", "6", "7", "8", "9", "10"}
    assert report["4"]["status"] == "rejected" and "email" in report["4"]["reason"]
    assert report["5"]["reason"] == "duplicate: same email address as line 2"
    assert "suppression list" in report["6"]["reason"]
    assert "withdrew consent (unsubscribed); only they can opt back in" in report["7"]["reason"]
    assert report["8"]["status"] == "partly imported" and "phone" in report["8"]["reason"]
    assert report["9"]["reason"] == "no email address or mobile number"
    assert report["10"]["email"] == "'=1+2"  # no formulas when the report opens in a spreadsheet
    assert report["8"]["phone"] == "12"

    status = text(editor.get(job_url))
    assert "Finished" in status and "Download rejected rows" in status
    # rows (people) and subscriptions (channels) are counted apart, in sentences
    assert progress["summary"] == [
        "Read 9 rows: 3 people imported (1 only in part), 6 rows rejected (see the CSV of "
        "reasons).",
        "Email: 3 subscribed.",
        "Text messages: 1 subscribed.",
    ]
    assert "Email: 3 subscribed. Text messages: 1 subscribed." in status


def test_without_evidence_rows_wait_for_their_own_confirmation(clock, editor, cli):
    audience = make_audience(single_opt_in_for_imports=True)
    clock.set(datetime(2027, 6, 1, 14, 30))  # 10:30 in New York, 04:30 in Honolulu
    listing = "email,phone,first_name\nann@example.org,+19175550142,Ann\n,+18082345678,Kai\n"
    job_url, progress = _start(
        editor,
        audience.id,
        listing,
        {"email_column": "email", "phone_column": "phone", "channels": ["email", "sms"]},
    )
    result = progress["result"]
    assert (result["active"], result["pending"]) == (0, 3)
    sent = (result["confirmations_sent"], result["confirmations_deferred"])
    assert sent == (2, 1)  # Kai's text waits for 08:00 in Honolulu: deferred, never dropped
    assert result["confirmations_not_sent"] == 0
    assert set(_states(audience.id).values()) == {"pending"}
    assert progress["summary"] == [
        "Read 2 rows: 2 people imported, none rejected.",
        "Email: 1 waiting for confirmation.",
        "Text messages: 2 waiting for confirmation.",
        "2 confirmation messages sent; 1 text queued for the next legal sending hours where "
        "the person lives (sent then, not dropped).",
    ]

    mailbox = console_mailbox.recent_messages(limit=100)
    emails = [m for m in mailbox if m["kind"] == "email"]
    texts = [m for m in mailbox if m["kind"] == "sms"]
    assert [m["to"] for m in emails] == ["ann@example.org"]
    assert "/confirm/" in emails[0]["html"]
    assert [m["to"] for m in texts] == ["+19175550142"]
    assert "reply YES" in texts[0]["body"]
    assert _report(editor, job_url) == []  # nothing rejected: every row is on file

    clock.set(datetime(2027, 6, 1, 17, 59))  # 07:59 in Honolulu: still too early
    cli.invoke(args=["outreach", "dispatch", "--once"])
    texts = [m for m in console_mailbox.recent_messages(limit=100) if m["kind"] == "sms"]
    assert [m["to"] for m in texts] == ["+19175550142"]
    clock.set(datetime(2027, 6, 1, 18, 0))  # 08:00 in Honolulu
    result = cli.invoke(args=["outreach", "dispatch", "--once"])
    assert "deferred confirmation texts sent: 1" in result.output
    texts = [m for m in console_mailbox.recent_messages(limit=100) if m["kind"] == "sms"]
    assert sorted(m["to"] for m in texts) == ["+18082345678", "+19175550142"]
    cli.invoke(args=["outreach", "dispatch", "--once"])  # sent once, never twice
    assert len([m for m in console_mailbox.recent_messages(limit=100) if m["kind"] == "sms"]) == 2


def test_an_audience_that_insists_on_double_opt_in_gets_pending_rows(editor):
    audience = make_audience()  # double opt-in, no single opt-in for imports
    uploaded = _upload(editor, audience.id, "email\nann@example.org\n")
    page = text(editor.get(uploaded.headers["Location"]))
    assert "requires double opt-in for imports" in page
    started = post(
        editor,
        uploaded.headers["Location"],
        {
            "email_column": "email",
            "channels": ["email"],
            "consent_source": "Web form",
            "consent_date": "2027-01-10",
        },
    )
    progress = _wait(editor, started.headers["Location"])
    assert progress["result"]["pending"] == 1 and progress["result"]["active"] == 0
    assert _states(audience.id) == {("ann@example.org", "email"): "pending"}
    event = db.session.scalar(select(ConsentEvent))
    assert "Web form" in event.wording and "awaiting the subscriber's confirmation" in event.wording


def test_bad_mappings_and_files_are_explained(editor):
    audience = make_audience()
    no_file = post(editor, "/admin/import", {"audience_id": str(audience.id)})
    assert no_file.status_code == 400 and "Choose a CSV file" in text(no_file)
    empty = _upload(editor, audience.id, "")
    assert empty.status_code == 400 and "the file is empty" in text(empty)

    map_url = _upload(editor, audience.id, "email,phone\nann@example.org,\n").headers["Location"]
    half = post(
        editor,
        map_url,
        {"email_column": "email", "channels": ["email"], "consent_source": "Intake form"},
    )
    assert half.status_code == 400
    assert "give both the consent source and the consent date, or neither" in text(half)
    future = post(
        editor,
        map_url,
        {
            "email_column": "email",
            "channels": ["email"],
            "consent_source": "Intake",
            "consent_date": "2030-01-01",
        },
    )
    assert future.status_code == 400 and "the consent date is in the future" in text(future)
    no_column = post(editor, map_url, {"channels": ["sms"]})
    assert no_column.status_code == 400
    assert "choose the column that holds mobile numbers" in text(no_column)
    assert db.session.scalar(select(func.count(Subscriber.id))) == 0
    assert editor.get("/admin/import/" + "f" * 32).status_code == 404
    assert editor.get("/admin/import/../../etc/progress.json").status_code == 404


def _big_csv(path, rows: int) -> None:  # noqa: ANN001
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["E-mail", "Cell phone", "Name"])
        for i in range(rows):
            writer.writerow([f"Person{i}@Example.org", f"(917) {2000000 + i:07d}", f"P{i}"])
        writer.writerow(["broken@", "", "Bad"])
        writer.writerow(["person7@example.org", "", "Dup"])


def test_cli_import_streams_a_large_file_with_a_report(app, cli, tmp_path):
    audience = make_audience(single_opt_in_for_imports=True)
    source = tmp_path / "clinic.csv"
    _big_csv(source, 5000)
    started = time.monotonic()
    result = cli.invoke(
        args=[
            "outreach",
            "import",
            str(source),
            "--audience",
            audience.slug,
            "--consent-source",
            "Clinic intake form",
            "--consent-date",
            "2027-02-01",
        ]
    )
    elapsed = time.monotonic() - started
    assert result.exit_code == 0, result.output
    assert "email='E-mail'" in result.output and "phone='Cell phone'" in result.output
    assert "5002 rows: 10000 subscribed, 0 pending confirmation" in result.output
    assert "2 rejected" in result.output
    report_path = tmp_path / "clinic.csv.rejected.csv"
    assert str(report_path) in result.output
    report = list(csv.DictReader(report_path.open()))
    assert [r["line"] for r in report] == ["5002", "5003"]
    assert report[1]["reason"] == "duplicate: same email address as line 9"
    counts = dict(
        db.session.execute(
            select(Subscription.channel, func.count(Subscription.id))
            .where(Subscription.state == "active")
            .group_by(Subscription.channel)
        ).all()
    )
    assert counts == {"email": 5000, "sms": 5000}
    assert db.session.scalar(select(func.count(ConsentEvent.id))) == 20000
    assert elapsed < 15, elapsed


def test_cli_import_refuses_bad_options(cli, tmp_path):
    make_audience()
    source = tmp_path / "list.csv"
    source.write_text("email\nann@example.org\n")
    unknown = cli.invoke(args=["outreach", "import", str(source), "--audience", "nope"])
    assert unknown.exit_code != 0 and "No audience 'nope'" in unknown.output
    bad_date = cli.invoke(
        args=[
            "outreach",
            "import",
            str(source),
            "--audience",
            "migraine-awareness",
            "--consent-source",
            "form",
            "--consent-date",
            "02/01/2027",
        ]
    )
    assert bad_date.exit_code != 0 and "is not a date like 2026-03-31" in bad_date.output
    missing = cli.invoke(
        args=[
            "outreach",
            "import",
            str(source),
            "--audience",
            "migraine-awareness",
            "--email-column",
            "mail",
        ]
    )
    assert missing.exit_code != 0 and "the file has no column 'mail'" in missing.output
    assert db.session.scalar(select(func.count(Subscriber.id))) == 0


def test_an_import_cut_off_by_a_restart_says_so(app, editor):
    audience = make_audience()
    map_url = _upload(editor, audience.id, "email\nann@example.org\n").headers["Location"]
    job_id = map_url.split("/")[-2]
    store = import_jobs.JobStore(Path(app.instance_path) / "imports")
    state = store.load(job_id)
    state["state"] = "running"
    store.save(state)
    assert editor.get(f"/admin/import/{job_id}/progress.json").get_json()["state"] == "running"
    an_hour_ago = time.time() - 3600
    os.utime(Path(app.instance_path) / "imports" / job_id / "job.json", (an_hour_ago,) * 2)
    progress = editor.get(f"/admin/import/{job_id}/progress.json").get_json()
    assert progress["state"] == "failed"
    assert "importing the same file again is safe" in progress["error"]
    assert "the import stopped part-way" in text(editor.get(f"/admin/import/{job_id}"))


def test_a_language_column_sets_each_persons_language_and_their_confirmation(cli, tmp_path):
    audience = make_audience()
    source = tmp_path / "bilingual.csv"
    source.write_text(
        "Email,First name,Idioma\n"
        "lucia@example.org,Lucía,es\n"
        "marta@example.org,Marta,Español\n"
        "ann@example.org,Ann,English\n"
        "pierre@example.org,Pierre,fr\n"
        "ben@example.org,Ben,\n",
        encoding="utf-8",
    )
    result = cli.invoke(args=["outreach", "import", str(source), "--audience", audience.slug])
    assert result.exit_code == 0, result.output
    languages = dict(db.session.execute(select(Subscriber.email, Subscriber.language)).all())
    assert languages == {
        "lucia@example.org": "es",
        "marta@example.org": "es",
        "ann@example.org": "en",
        "pierre@example.org": "en",  # a language we do not speak: English
        "ben@example.org": "en",
    }
    subjects = {m["to"]: m["subject"] for m in console_mailbox.recent_messages(limit=100)}
    assert subjects["lucia@example.org"] == f"Confirma tu suscripción a {audience.name}"
    assert subjects["ann@example.org"] == f"Confirm your subscription to {audience.name}"
