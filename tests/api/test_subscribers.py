"""Subscribers through the API: creation with consent evidence (single opt-in only where
allowed), confirmations otherwise, lookups, consent history as JSON and CSV, pagination."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select

from outreach.consent import decisions, subscriptions, suppression
from outreach.consent import ledger as consent_ledger
from outreach.extensions import db
from outreach.models import ConsentEvent, Subscriber, Subscription
from tests.factories import make_audience, make_subscriber
from tests.public.support import mailbox

EVIDENCE = {
    "wording": "Yes, email me Migraine Awareness news from NeuroMedici.",
    "given_at": "2027-05-30T14:00:00Z",
    "form_url": "https://clinic.example/intake",
    "ip_address": "203.0.113.7",
    "user_agent": "Mozilla/5.0 (intake kiosk)",
    "reference": "crm-48213",
}


def _states(public_id: str) -> dict[str, str]:
    db.session.rollback()
    person = db.session.scalar(select(Subscriber).filter_by(public_id=public_id))
    return {s.channel: s.state for s in person.subscriptions}


def test_single_opt_in_with_evidence_where_the_audience_allows_it(api):
    make_audience(single_opt_in_for_imports=True)
    response = api.post(
        "/api/v1/subscribers",
        json={
            "audience": "migraine-awareness",
            "email": "Ann.Reader@Example.org",
            "phone": "(917) 555-0142",
            "first_name": "Ann",
            "consent": EVIDENCE,
        },
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["created"] is True
    assert body["confirmations"] == {"email": "not_needed", "sms": "not_needed"}
    person = body["subscriber"]
    assert person["email"] == "ann.reader@example.org" and person["phone"] == "+19175550142"
    assert person["timezone"] == "America/New_York"  # from the number
    assert {s["channel"]: s["state"] for s in person["subscriptions"]} == {
        "email": "active",
        "sms": "active",
    }
    assert mailbox() == []  # no confirmation needed
    rows = db.session.scalars(select(ConsentEvent).order_by(ConsentEvent.id)).all()
    assert {(r.channel, r.action) for r in rows} == {
        ("email", "requested"),
        ("email", "confirmed"),
        ("sms", "requested"),
        ("sms", "confirmed"),
    }
    for row in rows:
        assert row.source == "api" and row.wording == EVIDENCE["wording"]
        assert row.form_url == EVIDENCE["form_url"] and row.ip_address == "203.0.113.7"
        assert row.user_agent == EVIDENCE["user_agent"] and row.provider_ref == "crm-48213"
        assert "test suite" in row.note and "2027-05-30T14:00:00+00:00" in row.note


def test_without_evidence_or_permission_the_person_gets_a_confirmation(api):
    make_audience()  # double opt-in, no single opt-in for imports/API
    with_evidence = api.post(
        "/api/v1/subscribers",
        json={"audience": "migraine-awareness", "email": "ben@example.org", "consent": EVIDENCE},
    )
    assert with_evidence.status_code == 201
    assert with_evidence.get_json()["confirmations"] == {"email": "sent"}
    assert _states(with_evidence.get_json()["subscriber"]["id"]) == {"email": "pending"}
    assert [m["to"] for m in mailbox("email")] == ["ben@example.org"]

    again = api.post(
        "/api/v1/subscribers", json={"audience": "migraine-awareness", "email": "ben@example.org"}
    )
    assert again.status_code == 200 and again.get_json()["created"] is False
    assert again.get_json()["confirmations"] == {"email": "sent"}  # sent again on request
    assert len(mailbox("email")) == 2


def test_sms_confirmation_waits_for_the_legal_window(api, clock):
    make_audience(single_opt_in_for_imports=False)
    clock.set(clock.current.replace(hour=3))  # 23:00 in New York
    response = api.post(
        "/api/v1/subscribers",
        json={"audience": "migraine-awareness", "phone": "+19175550142", "channels": ["sms"]},
    )
    assert response.get_json()["confirmations"] == {"sms": "outside_hours"}
    assert mailbox() == []
    clock.set(clock.current.replace(hour=15))
    response = api.post(
        "/api/v1/subscribers",
        json={"audience": "migraine-awareness", "phone": "+19175550142", "channels": ["sms"]},
    )
    assert response.get_json()["confirmations"] == {"sms": "sent"}
    assert "reply YES" in mailbox("sms")[0]["body"]


def test_a_withdrawn_or_suppressed_contact_is_never_reactivated(api):
    audience = make_audience(single_opt_in_for_imports=True)
    ann = make_subscriber(audience, email="ann@example.org", phone="+19175550142")
    sub = next(s for s in ann.subscriptions if s.channel == "email")
    subscriptions.revoke(sub, consent_ledger.Evidence(source="one_click"))
    suppression.suppress("sms", "+19175550142", "sms_stop")
    db.session.commit()
    response = api.post(
        "/api/v1/subscribers",
        json={
            "audience": "migraine-awareness",
            "email": "ann@example.org",
            "phone": "+19175550142",
            "consent": EVIDENCE,
        },
    )
    assert response.status_code == 200
    assert _states(ann.public_id) == {"email": "pending", "sms": "active"}
    # The SMS subscription was active (only the number is suppressed): nothing changes, and
    # consent.check_batch still refuses to text it.
    assert decisions.check_batch([ann.id], "sms", audience.id)[ann.id] == "suppressed"
    assert response.get_json()["confirmations"]["email"] == "sent"


def test_invalid_fields_and_conflicts(api):
    make_audience(channels="email")
    make_audience(slug="other", name="Other")
    db.session.add_all([Subscriber(email="a@example.org"), Subscriber(phone="+19175550142")])
    db.session.commit()
    cases = [
        ({"audience": "nope", "email": "x@example.org"}, 422, "audience"),
        ({"audience": "migraine-awareness", "email": "not an email"}, 422, "email"),
        ({"audience": "migraine-awareness", "phone": "12"}, 422, "phone"),
        ({"audience": "migraine-awareness", "phone": "+19175550143"}, 422, "channels"),
        (
            {"audience": "migraine-awareness", "email": "x@example.org", "channels": ["sms"]},
            422,
            "channels",
        ),
        (
            {"audience": "migraine-awareness", "email": "x@example.org", "timezone": "Mars/Base"},
            422,
            "timezone",
        ),
        (
            {
                "audience": "migraine-awareness",
                "email": "x@example.org",
                "consent": {**EVIDENCE, "given_at": "2099-01-01T00:00:00Z"},
            },
            422,
            "consent.given_at",
        ),
        (
            {
                "audience": "migraine-awareness",
                "email": "x@example.org",
                "consent": {"wording": "yes"},
            },
            422,
            "consent",
        ),
        ({"audience": "migraine-awareness"}, 422, "body"),
    ]
    for body, status, field in cases:
        response = api.post("/api/v1/subscribers", json=body)
        assert response.status_code == status, (body, response.get_json())
        assert field in response.get_json()["errors"], (body, response.get_json())
    clash = api.post(
        "/api/v1/subscribers",
        json={"audience": "other", "email": "a@example.org", "phone": "+19175550142"},
    )
    assert clash.status_code == 409 and clash.mimetype == "application/problem+json"
    db.session.rollback()
    assert db.session.scalar(select(db.func.count()).select_from(Subscription)) == 0


def test_look_up_by_email_or_phone_and_page_through(api):
    audience = make_audience()
    people = [
        make_subscriber(audience, email=f"p{n}@example.org", phone=f"+1917555014{n}")
        for n in range(5)
    ]
    found = api.get("/api/v1/subscribers?email=P3@Example.org").get_json()
    assert [p["id"] for p in found["items"]] == [people[3].public_id]
    found = api.get("/api/v1/subscribers", query_string={"phone": "(917) 555-0141"}).get_json()
    assert [p["id"] for p in found["items"]] == [people[1].public_id]
    assert api.get("/api/v1/subscribers?email=nobody@example.org").get_json()["items"] == []
    assert api.get("/api/v1/subscribers?email=nonsense").status_code == 400

    seen, cursor = [], None
    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.get("/api/v1/subscribers", query_string=query).get_json()
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [p.public_id for p in people]


def test_consent_history_as_json_and_csv(api, client):
    make_audience(single_opt_in_for_imports=True)
    created = api.post(
        "/api/v1/subscribers",
        json={"audience": "migraine-awareness", "email": "ann@example.org", "consent": EVIDENCE},
    ).get_json()
    public_id = created["subscriber"]["id"]
    history = api.get(f"/api/v1/subscribers/{public_id}/consent").get_json()
    assert [r["action"] for r in history["ledger"]] == ["requested", "confirmed"]
    assert history["ledger"][0]["wording"] == EVIDENCE["wording"]
    assert history["ledger"][0]["ip_address"] == EVIDENCE["ip_address"]
    assert history["derived_states"] == [
        {"audience": "migraine-awareness", "channel": "email", "state": "active"}
    ]
    as_csv = api.get(f"/api/v1/subscribers/{public_id}/consent.csv")
    assert as_csv.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(as_csv.get_data(as_text=True))))
    assert [(r["action"], r["source"], r["form_url"]) for r in rows] == [
        ("requested", "api", EVIDENCE["form_url"]),
        ("confirmed", "api", EVIDENCE["form_url"]),
    ]
    one = api.get(f"/api/v1/subscribers/{public_id}").get_json()
    assert one["email"] == "ann@example.org" and one["subscriptions"][0]["state"] == "active"
