"""Subscribers: search, detail with the consent timeline, staff opt-out, evidence export."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime

import pytest
from sqlalchemy import select
from sqlalchemy import text as sql_text

from outreach.extensions import db
from outreach.models import ConsentEvent, Message, Subscriber, Subscription
from outreach.sending import materialise as materialising
from tests.admin.support import post, text
from tests.factories import make_audience, make_campaign, make_subscriber


def _people():  # noqa: ANN202
    audience = make_audience()
    ann = make_subscriber(audience, email="ann.reader@example.org", phone="+19175550142")
    ben = make_subscriber(audience, email="ben@example.org", phone="+16462014455", first_name="Ben")
    return audience, ann, ben


def test_search_by_email_phone_or_name(viewer):
    _, ann, ben = _people()
    by_email = text(viewer.get("/admin/subscribers?q=ANN.READER"))
    assert "ann.reader@example.org" in by_email and "ben@example.org" not in by_email
    by_phone = text(viewer.get("/admin/subscribers?q=(917) 555-0142"))
    assert "+19175550142" in by_phone and "+16462014455" not in by_phone
    by_name = text(viewer.get("/admin/subscribers?q=ben"))
    assert "ben@example.org" in by_name and "ann.reader@example.org" not in by_name
    assert "Nobody found" in text(viewer.get("/admin/subscribers?q=zelda"))
    assert "email: active" in by_email and "sms: active" in by_email


def test_detail_page_shows_states_and_the_consent_timeline(viewer):
    _, ann, _ = _people()
    page = text(viewer.get(f"/admin/subscribers/{ann.id}"))
    assert "ann.reader@example.org" in page and "+19175550142" in page
    assert page.count("Confirmed ·") == 2 and page.count("Requested ·") == 2
    assert "source: import" in page and "Note: test fixture" in page
    assert "Migraine & Headache Awareness" in page


def test_staff_opt_out_asks_first_then_records_who_did_it(app, clock, editor, staff_users):
    clock.set(datetime(2027, 5, 20, 15, 0))
    audience, ann, ben = _people()
    make_campaign(audience, [{"channel": "sms", "send_time": "10:00"}])
    clock.set(datetime(2027, 6, 1, 15, 0))
    materialising.materialise_due(clock())
    db.session.commit()
    sms_sub = next(s for s in ann.subscriptions if s.channel == "sms")

    confirm_page = editor.get(
        f"/admin/subscribers/{ann.id}/opt-out?subscription={sms_sub.id}&scope=audience"
    )
    assert confirm_page.status_code == 200
    assert "Opt Ann out?" in text(confirm_page)

    not_confirmed = post(
        editor,
        f"/admin/subscribers/{ann.id}/opt-out",
        {"subscription": sms_sub.id, "scope": "audience", "note": "phone call"},
    )
    assert not_confirmed.status_code == 200
    db.session.expire_all()
    assert db.session.get(Subscription, sms_sub.id).state == "active"

    done = post(
        editor,
        f"/admin/subscribers/{ann.id}/opt-out",
        {
            "subscription": sms_sub.id,
            "scope": "audience",
            "note": "Phone call 3 June: please stop texting me",
            "confirm": "yes",
        },
    )
    assert done.status_code == 303
    db.session.expire_all()
    assert db.session.get(Subscription, sms_sub.id).state == "unsubscribed"
    email_sub = next(s for s in ann.subscriptions if s.channel == "email")
    assert db.session.get(Subscription, email_sub.id).state == "active"
    event = db.session.scalar(
        select(ConsentEvent).where(
            ConsentEvent.subscriber_id == ann.id, ConsentEvent.action == "revoked"
        )
    )
    assert event.source == "admin" and event.actor_id == staff_users["editor"]
    assert event.note == "Phone call 3 June: please stop texting me"
    states = dict(db.session.execute(select(Message.subscriber_id, Message.state)).all())
    assert states == {ann.id: "cancelled", ben.id: "queued"}

    page = text(editor.get(f"/admin/subscribers/{ann.id}"))
    assert "Revoked · texts" in page and "by editor@clinic.example" in page
    assert "source: admin" in page


def test_stop_all_texts_covers_every_audience(editor):
    first, ann, _ = _people()
    second = make_audience(slug="sleep-news", name="Sleep News")
    make_subscriber(second, email="ann.reader@example.org", phone="+19175550142")
    response = post(
        editor,
        f"/admin/subscribers/{ann.id}/opt-out",
        {"channel": "sms", "scope": "everywhere", "confirm": "yes"},
    )
    assert response.status_code == 303
    assert "2 subscription(s) ended" in text(editor.get(f"/admin/subscribers/{ann.id}"))
    db.session.expire_all()
    states = {
        (s.audience_id, s.channel): s.state
        for s in db.session.scalars(select(Subscription).filter_by(subscriber_id=ann.id))
    }
    assert states == {
        (first.id, "email"): "active",
        (first.id, "sms"): "unsubscribed",
        (second.id, "email"): "active",
        (second.id, "sms"): "unsubscribed",
    }


def test_evidence_downloads_as_csv_and_json(editor, viewer):
    _, ann, _ = _people()
    sms_sub = next(s for s in ann.subscriptions if s.channel == "sms")
    post(
        editor,
        f"/admin/subscribers/{ann.id}/opt-out",
        {"subscription": sms_sub.id, "scope": "audience", "confirm": "yes"},
    )
    as_csv = viewer.get(f"/admin/subscribers/{ann.id}/evidence.csv")
    assert as_csv.status_code == 200
    assert "attachment" in as_csv.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(as_csv.get_data(as_text=True))))
    assert [(r["channel"], r["action"]) for r in rows][-1] == ("sms", "revoked")
    assert rows[-1]["actor"] == "editor@clinic.example" and rows[-1]["source"] == "admin"
    assert len(rows) == 5

    as_json = viewer.get(f"/admin/subscribers/{ann.id}/evidence.json")
    document = json.loads(as_json.get_data(as_text=True))
    assert document["subscriber"]["email"] == "ann.reader@example.org"
    assert {(s["channel"], s["state"]) for s in document["subscriptions"]} == {
        ("email", "active"),
        ("sms", "unsubscribed"),
    }
    assert len(document["ledger"]) == 5
    assert viewer.get(f"/admin/subscribers/{ann.id}/evidence.xml").status_code == 404


def test_a_rare_match_is_found_through_the_trigram_indexes_on_postgresql(viewer, is_postgres):
    """One address among many: PostgreSQL reads the pg_trgm indexes (migration
    7a1c9e5b2d30) instead of scanning every subscriber newest first."""
    if not is_postgres:
        pytest.skip("pg_trgm indexes exist on PostgreSQL only")
    from outreach.audiences import finding

    _people()
    db.session.execute(sql_text("ANALYZE subscribers"))
    query = finding.SubscriberFilter(query="ann.reader@example")
    statement = select(Subscriber.id).where(*finding.conditions(query))
    compiled = statement.compile(db.engine, compile_kwargs={"literal_binds": True})
    db.session.execute(sql_text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(db.session.scalars(sql_text(f"EXPLAIN {compiled}")))
    assert "ix_subscribers_email_trgm" in plan and "ix_subscribers_first_name_trgm" in plan
    db.session.rollback()
    by_digits = text(viewer.get("/admin/subscribers?q=555-0142"))
    assert "+19175550142" in by_digits and "+16462014455" not in by_digits


def test_a_whole_address_or_number_finds_that_person_and_a_part_finds_everyone(viewer):
    audience, _, _ = _people()
    make_subscriber(audience, email="joann.reader@example.org", phone="+19175550143")
    whole = text(viewer.get("/admin/subscribers?q= Ann.Reader@Example.ORG "))
    assert "ann.reader@example.org" in whole and "joann.reader@example.org" not in whole
    part = text(viewer.get("/admin/subscribers?q=ann.reader@example"))
    assert "ann.reader@example.org" in part and "joann.reader@example.org" in part
    number = text(viewer.get("/admin/subscribers?q=%2B1 917 555 0143"))
    assert "+19175550143" in number and "+19175550142" not in number
    nobody = text(viewer.get("/admin/subscribers?q=reader@example.org"))
    assert "Nobody found" in nobody  # a whole address is looked up, not searched inside
