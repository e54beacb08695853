"""Names, not ids, and local times: each staff user picks the zone their pages show times in
(default: the clinic's, the first audience's), every time names its zone; the audit log
names campaigns, steps, audiences and staff with links, filters by who, kind and days, and
its CSV link carries the filters."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from sqlalchemy import select

from outreach.extensions import db
from outreach.models import AuditLog, Message, StaffUser
from outreach.sending import run as sending
from outreach.staff import audit
from tests.admin.support import post, text
from tests.factories import make_audience, make_campaign, make_subscriber


def sent_june_email(clock) -> int:  # noqa: ANN001
    """Ann's June 1st email, sent at 15:00 UTC (11:00 in New York); returns her id."""
    clock.set(datetime(2027, 5, 20, tzinfo=UTC))
    audience = make_audience()
    ann = make_subscriber(audience, email="ann@example.org")
    make_campaign(audience, [{"channel": "email", "send_time": "10:00", "subject": "June news"}])
    clock.set(datetime(2027, 6, 1, 15, 0, tzinfo=UTC))
    assert sending.dispatch_once().sent == 1
    return ann.id


def test_times_follow_the_clinic_zone_until_staff_pick_their_own(app, editor, clock):
    ann_id = sent_june_email(clock)
    page = text(editor.get(f"/admin/subscribers/{ann_id}"))
    assert "Tue 1 Jun 2027, 11:00 EDT" in page  # sent, in the audience's New York zone
    assert "June awareness Step 1 · email: June news" in page  # named, not "step 1"

    answer = post(editor, "/admin/account/time-zone", {"timezone": "America/Los_Angeles"},
                  follow_redirects=True)  # fmt: skip
    assert "Times are now shown in America/Los_Angeles." in text(answer)
    page = text(editor.get(f"/admin/subscribers/{ann_id}"))
    assert "Tue 1 Jun 2027, 08:00 PDT" in page and "Due (America/Los_Angeles)" in page
    account = editor.get("/admin/account").get_data(as_text=True)
    assert '<option value="America/Los_Angeles" selected>' in account

    post(editor, "/admin/account/time-zone", {"timezone": ""})
    assert "11:00 EDT" in text(editor.get(f"/admin/subscribers/{ann_id}"))


def test_a_zone_not_in_the_list_is_refused_and_nothing_changes(app, editor, staff_users):
    make_audience()
    for bad in ("US/Eastern", "Mars/Olympus", "x" * 300):
        answer = post(editor, "/admin/account/time-zone", {"timezone": bad},
                      follow_redirects=True)  # fmt: skip
        assert "Choose a time zone from the list" in text(answer)
    db.session.expire_all()
    assert db.session.get(StaffUser, staff_users["editor"]).timezone is None
    assert not db.session.scalars(select(AuditLog).filter_by(action="staff.timezone")).all()


def test_the_audit_log_names_targets_with_links_and_filters(app, admin, editor, staff_users):
    audience = make_audience()
    campaign = make_campaign(audience, [{"channel": "email", "subject": "Your headache diary"}],
                             schedule=False)  # fmt: skip
    step = campaign.steps[0]
    audit.audit(staff_users["editor"], "campaign.update", "campaign", campaign.id, "name")
    audit.audit(staff_users["editor"], "step.update", "step", step.id, "subject")
    audit.audit(staff_users["admin"], "audience.update", "audience", audience.id, "window")
    audit.audit(None, "staff.password_reset_cli", "staff", "ops@clinic.example", None)
    db.session.commit()

    page = admin.get("/admin/audit").get_data(as_text=True)
    shown = text(admin.get("/admin/audit"))
    assert f'<a href="/admin/campaigns/{campaign.id}">June awareness</a>' in page
    assert "June awareness · Step 1 · email: Your headache diary" in shown
    assert f'href="/admin/audiences/{audience.id}/edit">Migraine &amp; Headache' in page
    assert "system / CLI / API" in shown and "EDT" in shown

    only_steps = text(admin.get("/admin/audit?kind=step"))
    assert "step.update" in only_steps and "campaign.update" not in only_steps
    by_editor = text(admin.get(f"/admin/audit?actor={staff_users['editor']}"))
    assert "campaign.update" in by_editor and "audience.update" not in by_editor
    system = text(admin.get("/admin/audit?actor=system"))
    assert "staff.password_reset_cli" in system and "step.update" not in system
    future = text(admin.get("/admin/audit?since=2030-01-01"))
    assert "Nothing matches these filters." in future

    filtered = admin.get("/admin/audit?kind=step").get_data(as_text=True)
    assert 'href="/admin/audit/export.csv?kind=step"' in filtered
    rows = list(csv.DictReader(io.StringIO(
        admin.get("/admin/audit/export.csv?kind=step").get_data(as_text=True))))  # fmt: skip
    assert [(r["action"], r["target"]) for r in rows] == [
        ("step.update", "June awareness · Step 1 · email: Your headache diary")
    ]


def test_bad_filter_values_are_ignored_not_an_error(app, admin):
    make_audience()
    for query in ("since=June", "actor=drop%20table", "kind=nope", "until=2027-13-45"):
        assert admin.get(f"/admin/audit?{query}").status_code == 200


def test_a_message_row_names_its_campaign_even_after_the_step_is_gone(app, editor, clock):
    ann_id = sent_june_email(clock)
    message = db.session.scalar(select(Message))
    message.step_id = 999_999  # a step since deleted (outbox ids are not foreign keys)
    db.session.commit()
    assert "a deleted step" in text(editor.get(f"/admin/subscribers/{ann_id}"))
