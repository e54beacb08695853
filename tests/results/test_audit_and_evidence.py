"""Consent evidence (everything needed to prove each change) and the audit log of staff
actions (admins only), as pages and downloads."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select

from outreach.consent import evidence, subscriptions, wording
from outreach.consent import ledger as consent_ledger
from outreach.extensions import db
from outreach.models import Audience, Subscriber
from tests.factories import make_audience
from tests.helpers import csrf_token
from tests.public.support import confirm_path, subscribe
from tests.results.support import isolated_client, login, make_staff, page_text, post_form


def test_evidence_proves_each_consent_change(app, monkeypatch):
    make_staff(monkeypatch)
    audience = make_audience()
    public = isolated_client(app)
    public.environ_base["HTTP_USER_AGENT"] = "Mozilla/5.0 (evidence test)"
    subscribe(public, email="ann@example.org", consent_email="y")
    confirm = public.get(confirm_path("ann@example.org"))
    public.post(
        confirm_path("ann@example.org"),
        data={"csrf_token": csrf_token(confirm.get_data(as_text=True))},
    )
    db.session.rollback()
    ann = db.session.scalar(select(Subscriber).filter_by(email="ann@example.org"))
    sub = ann.subscriptions[0]
    subscriptions.revoke(
        sub, consent_ledger.Evidence(source="admin", note='=HYPERLINK("x") asked by phone')
    )
    db.session.commit()

    admin = isolated_client(app)
    login(admin, "admin@clinic.example")
    as_json = admin.get(f"/admin/privacy/{ann.public_id}/evidence.json").get_json()
    requested, confirmed, revoked = as_json["ledger"]
    assert requested["action"] == "requested" and requested["source"] == "web_form"
    assert requested["wording"] == wording.consent_wording(audience, "email")
    assert requested["form_url"].endswith("/subscribe/migraine-awareness")
    assert requested["ip_address"] and requested["user_agent"] == "Mozilla/5.0 (evidence test)"
    assert confirmed["action"] == "confirmed" and confirmed["form_url"].count("/confirm/") == 1
    assert revoked["resulting_state"] == "unsubscribed"
    assert as_json["derived_states"] == [
        {"audience": "migraine-awareness", "channel": "email", "state": "unsubscribed"}
    ]
    assert as_json["subscriptions"][0]["state"] == "unsubscribed"

    as_csv = admin.get(f"/admin/privacy/{ann.public_id}/evidence.csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.get_data(as_text=True))))
    assert [r["action"] for r in rows] == ["requested", "confirmed", "revoked"]
    assert rows[0]["user_agent"] == "Mozilla/5.0 (evidence test)"
    assert rows[2]["note"].startswith("'=HYPERLINK")  # no spreadsheet formula in the CSV
    assert evidence.ledger_json(ann)["ledger"][2]["note"].startswith("=HYPERLINK")  # JSON: verbatim


def test_audit_log_shows_staff_actions_to_admins_only(app, monkeypatch):
    make_staff(monkeypatch)
    make_audience()
    admin = isolated_client(app)
    login(admin, "admin@clinic.example")
    post_form(admin, "/admin/api-tokens", {"name": "clinic CRM"})
    db.session.rollback()
    audience = db.session.scalar(select(Audience))
    person = Subscriber(email="bo@example.org")
    db.session.add(person)
    db.session.commit()
    post_form(
        admin,
        f"/admin/privacy/{person.public_id}/erase",
        {"confirm": "yes", "word": "ERASE"},
    )
    page = admin.get("/admin/audit")
    assert page.status_code == 200
    shown = page_text(page)
    assert "api_token.create" in shown and "privacy.erase" in shown
    assert "admin@clinic.example" in shown and "bo@example.org" not in shown

    export = admin.get("/admin/audit/export.csv")
    assert export.status_code == 200 and export.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(export.get_data(as_text=True))))
    assert [r["action"] for r in rows] == ["api_token.create", "privacy.erase"]
    assert rows[1]["target_id"] == person.public_id and rows[1]["actor"] == "admin@clinic.example"

    for role in ("editor", "viewer"):
        other = isolated_client(app)
        login(other, f"{role}@clinic.example")
        assert other.get("/admin/audit").status_code == 403
        assert other.get("/admin/audit/export.csv").status_code == 403
    assert audience is not None


def test_audit_export_cells_never_start_a_spreadsheet_formula(app, monkeypatch):
    make_staff(monkeypatch)
    admin = isolated_client(app)
    login(admin, "admin@clinic.example")
    for name in ("=cmd|' /C calc'!A0", "@SUM(A1:A9)", '+HYPERLINK("http://x")', "-2+3"):
        post_form(admin, "/admin/api-tokens", {"name": name})

    export = admin.get("/admin/audit/export.csv").get_data(as_text=True)
    details = [r["detail"] for r in csv.DictReader(io.StringIO(export))]
    assert len(details) == 4
    assert all(d.startswith("'") for d in details), details
    assert details[0].startswith("'=cmd|") and details[3].startswith("'-2+3 (")
