"""The staff inbox of consultation requests: newest first and paged, filtered by status,
assigned and moved through new -> contacted -> booked -> closed (audit-logged), exported
as CSV behind re-authentication (formulas defused); viewers only read; the navigation
shows how many are new."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from outreach.consultations import inbox
from outreach.consultations import requests as consultation_requests
from outreach.extensions import db
from outreach.models import AuditLog, ConsultationRequest
from tests.admin.signin_support import SessionClock
from tests.admin.support import PASSWORD, post, text
from tests.consultations.support import send_request
from tests.factories import make_audience
from tests.helpers import csrf_token


def add_request(audience, name: str, **fields) -> ConsultationRequest:  # noqa: ANN001
    """A request as the public page stores it (through the service)."""
    typed = consultation_requests.Typed(name=name, email=fields.pop("email", "a@example.org"),
                                        **fields)  # fmt: skip
    checked, problems = consultation_requests.check(typed, audience)
    assert not problems, problems
    return consultation_requests.submit(audience, checked, language="en", attribution=None)


@pytest.fixture
def audience(app):  # noqa: ANN001, ANN201
    return make_audience()


def audit_rows(action: str) -> list[AuditLog]:
    db.session.expire_all()
    found = list(db.session.scalars(select(AuditLog).filter_by(action=action)))
    db.session.rollback()
    return found


def fresh(row_id: int) -> ConsultationRequest:
    db.session.expire_all()
    row = db.session.get(ConsultationRequest, row_id)
    db.session.rollback()
    return row


def test_the_list_is_newest_first_with_contacts_note_and_source(app, clock, editor, audience):
    add_request(audience, "Older Person", phone="+12125550100", contact_time="morning")
    clock.advance(minutes=5)
    add_request(audience, "Newer Person", note="Evenings are best")
    page = editor.get("/admin/requests")
    assert page.status_code == 200
    body = text(page)
    assert body.index("Newer Person") < body.index("Older Person")
    assert "+12125550100" in body and "Evenings are best" in body and "direct" in body
    assert "2 requests" in body


def test_filter_by_status_and_pages_of_fifty(app, clock, editor, staff_users, audience):
    rows = [add_request(audience, f"Person {n:02d}") for n in range(53)]
    inbox.set_status(rows[0], "booked", staff_users["editor"])
    booked = text(editor.get("/admin/requests?status=booked"))
    assert "Person 00" in booked and "Person 01" not in booked and "1 request" in booked
    first = editor.get("/admin/requests").get_data(as_text=True)
    assert first.count("data-request=") == 50 and "page 1 of 2" in first
    second = editor.get("/admin/requests?page=2").get_data(as_text=True)
    assert second.count("data-request=") == 3 and "Person 00" in second
    assert editor.get("/admin/requests?status=lost").status_code == 404


def test_status_change_is_audit_logged(app, editor, staff_users, audience):
    row = add_request(audience, "Ann")
    answer = post(editor, f"/admin/requests/{row.id}/status", {"to": "contacted"})
    assert answer.status_code == 303
    assert fresh(row.id).status == "contacted"
    (entry,) = audit_rows("request.status")
    assert (entry.actor_id, entry.target_id, entry.detail) == (
        staff_users["editor"],
        str(row.id),
        "new -> contacted",
    )
    assert "Ann" not in (entry.detail or "")  # no personal data in the audit log
    assert post(editor, f"/admin/requests/{row.id}/status", {"to": "lost"}).status_code == 303
    assert fresh(row.id).status == "contacted" and len(audit_rows("request.status")) == 1


def test_assign_to_a_staff_user_and_back_to_nobody(app, editor, staff_users, audience):
    row = add_request(audience, "Ann")
    post(editor, f"/admin/requests/{row.id}/assign", {"staff": str(staff_users["admin"])})
    assert fresh(row.id).assigned_to == staff_users["admin"]
    assert "admin@clinic.example" in text(editor.get("/admin/requests"))
    post(editor, f"/admin/requests/{row.id}/assign", {"staff": ""})
    assert fresh(row.id).assigned_to is None
    post(editor, f"/admin/requests/{row.id}/assign", {"staff": "999"})
    assert fresh(row.id).assigned_to is None
    details = [e.detail for e in audit_rows("request.assign")]
    assert details == ["assigned to admin@clinic.example", "unassigned"]


def test_viewers_read_but_cannot_change(app, viewer, staff_users, audience):
    row = add_request(audience, "Ann")
    page = viewer.get("/admin/requests")
    assert page.status_code == 200 and "Ann" in text(page)
    html = page.get_data(as_text=True)
    assert f"/admin/requests/{row.id}/status" not in html and "Assign to" not in html
    assert post(viewer, f"/admin/requests/{row.id}/status", {"to": "closed"}).status_code == 403
    staff = {"staff": str(staff_users["viewer"])}
    assert post(viewer, f"/admin/requests/{row.id}/assign", staff).status_code == 403
    assert fresh(row.id).status == "new" and fresh(row.id).assigned_to is None
    assert audit_rows("request.status") == audit_rows("request.assign") == []


def test_signed_out_people_see_nothing(app, client, audience):
    add_request(audience, "Ann")
    answer = client.get("/admin/requests")
    assert answer.status_code == 302 and "/admin/login" in answer.headers["Location"]
    assert client.get("/admin/requests/export.csv").status_code == 302


@pytest.fixture
def session_clock(app) -> SessionClock:  # noqa: ANN001
    return SessionClock(app)


def test_csv_export_needs_a_recent_sign_in_and_defuses_formulas(
    app, session_clock, editor, staff_users, audience
):
    clock = session_clock
    first = add_request(audience, "=HYPERLINK(\"https://evil.example\")", phone="+12125550100",
                note="@SUM(1+1) call after 5")  # fmt: skip
    add_request(audience, "Bo")
    inbox.set_status(first, "contacted", staff_users["editor"])
    clock.advance(11)
    asked = editor.get("/admin/requests/export.csv")
    assert asked.status_code == 303 and "/admin/reauth" in asked.headers["Location"]
    assert audit_rows("request.export") == []
    export = "/admin/requests/export.csv"
    page = editor.get("/admin/reauth?next=" + export)
    again = editor.post(
        "/admin/reauth?next=" + export,
        data={"csrf_token": csrf_token(page.get_data(as_text=True)), "password": PASSWORD},
    )
    assert again.status_code == 303 and again.headers["Location"].endswith(export)
    answer = editor.get(export)
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert "attachment" in answer.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))
    assert [r["name"] for r in rows] == ["'=HYPERLINK(https://evil.example)", "Bo"]
    assert rows[0]["phone"] == "+12125550100"  # a phone number stays readable
    assert rows[0]["note"] == "'@SUM(1+1) call after 5" and rows[0]["status"] == "contacted"
    only_new = editor.get("/admin/requests/export.csv?status=new").get_data(as_text=True)
    assert [r["name"] for r in csv.DictReader(io.StringIO(only_new))] == ["Bo"]
    assert [e.detail for e in audit_rows("request.export")] == [
        "2 request(s), status any",
        "1 request(s), status new",
    ]


def test_the_navigation_counts_new_requests(app, client, editor, viewer, staff_users, audience):
    nav = editor.get("/admin/campaigns").get_data(as_text=True)
    assert 'id="nav-requests"' in nav and 'id="nav-requests-new"' not in nav
    send_request(client, name="Ann", email="ann@example.org")
    send_request(client, name="Bo", phone="+12125550100")
    assert "Requests 2 new" in text(viewer.get("/admin/campaigns"))
    first = db.session.scalars(select(ConsultationRequest).order_by(ConsultationRequest.id)).first()
    db.session.rollback()
    post(editor, f"/admin/requests/{first.id}/status", {"to": "contacted"})
    assert "Requests 1 new" in text(editor.get("/admin/subscribers"))


def test_an_attributed_request_names_its_campaign_and_step(app, editor, audience):
    from outreach.consultations.attribution import Attribution
    from tests.factories import make_campaign

    campaign = make_campaign(audience, [{"channel": "email"}, {"channel": "sms"}])
    sms = next(s for s in campaign.steps if s.channel == "sms")
    checked, _ = consultation_requests.check(
        consultation_requests.Typed(name="Ann", phone="+12125550100"), audience
    )
    consultation_requests.submit(
        audience, checked, language="es", attribution=Attribution(7, campaign.id, sms.id, "sms")
    )
    body = text(editor.get("/admin/requests"))
    assert "June awareness, step 2 (sms)" in body and "Spanish" in body
