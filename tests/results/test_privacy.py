"""Privacy requests: export everything held on one person; erase a person while keeping a
hashed suppression, so the erased address is never contacted again (even after signing up
again); the consent ledger stays (append-only, the proof of consent)."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from sqlalchemy import func, select

from outreach.audiences.contacts import address_hash
from outreach.consent import decisions, suppression
from outreach.extensions import db
from outreach.models import (
    AuditLog,
    ConsentEvent,
    DeliveryEvent,
    InboundSms,
    Message,
    Subscriber,
    Suppression,
)
from outreach.sending import materialise as materialising
from outreach.sending import run as sending
from tests.factories import make_campaign
from tests.helpers import post_twilio, submit_form
from tests.public.support import link, mailbox, subscribe
from tests.results.support import isolated_client, login, make_staff, post_form, seed_campaign

EMAIL, PHONE = "p0@example.org", "+19175550000"


def _history(app, clock):  # noqa: ANN001, ANN202
    """p0 has: a web-form consent, sent email + text, a bounce detail, inbound texts, STOP."""
    campaign, people = seed_campaign(clock, people=2)
    person = people[0]
    client = isolated_client(app)
    subscribe(client, email=EMAIL, first_name="Ann", consent_email="y")  # evidence from a form
    sending.dispatch_once(clock.current)
    db.session.rollback()
    email_row = db.session.scalar(
        select(Message).filter_by(subscriber_id=person.id, channel="email")
    )
    db.session.execute(
        Message.__table__.update()
        .where(Message.__table__.c.id == email_row.id)
        .values(error_detail=f"550 5.1.1 <{EMAIL}>: mailbox full")
    )
    db.session.add(
        DeliveryEvent(
            message_id=email_row.id,
            provider="sendgrid",
            provider_event_id="ev-1",
            event_type="deferred",
            detail=f"deferred for {EMAIL}",
        )
    )
    db.session.commit()
    for sid, body in (("SMhelp", "HELP"), ("SMstop", "STOP")):
        response = post_twilio(
            client,
            "/webhooks/twilio/sms",
            {"MessageSid": sid, "From": PHONE, "To": "+15550100", "Body": body},
        )
        assert response.status_code == 200
    db.session.rollback()
    return campaign, person, people[1]


def _text_everywhere() -> str:
    """Every text value of every table, for looking for leftovers of personal data."""
    dump = []
    for table in db.metadata.sorted_tables:
        for row in db.session.execute(select(table)):
            dump.append(" ".join(str(v) for v in row if v is not None))
    db.session.rollback()
    return "\n".join(dump)


def test_export_holds_everything_about_one_person(app, clock, monkeypatch, cli, tmp_path):
    make_staff(monkeypatch)
    _history(app, clock)
    admin = isolated_client(app)
    login(admin, "admin@clinic.example")
    found = admin.get("/admin/privacy", query_string={"q": " P0@example.org "})
    assert found.status_code == 200
    public_id = re.search(r"Subscriber ([0-9a-f]{32})", found.get_data(as_text=True)).group(1)

    download = admin.get(f"/admin/privacy/{public_id}/export.json")
    assert download.status_code == 200 and "attachment" in download.headers["Content-Disposition"]
    document = json.loads(download.get_data(as_text=True))
    assert document["format"] == "outreach.subscriber-export/1"
    assert document["profile"]["email"] == EMAIL and document["profile"]["phone"] == PHONE
    assert {(s["channel"], s["state"]) for s in document["subscriptions"]} == {
        ("email", "active"),
        ("sms", "unsubscribed"),
    }
    ledger = document["consent_ledger"]
    assert ("sms", "revoked", "sms_keyword") in {
        (r["channel"], r["action"], r["source"]) for r in ledger
    }
    assert [m["channel"] for m in document["messages"]] == ["email", "sms"]
    assert document["messages"][0]["error_detail"].startswith("550")
    assert document["delivery_events"][0]["detail"] == f"deferred for {EMAIL}"
    assert [t["body"] for t in document["inbound_texts"]] == ["HELP", "STOP"]
    assert document["suppressions"] == [
        {
            "channel": "sms",
            "reason": "sms_stop",
            "created_at": document["suppressions"][0]["created_at"],
        }
    ]

    printed = cli.invoke(args=["outreach", "privacy", "export", PHONE])
    assert printed.exit_code == 0, printed.output
    assert json.loads(printed.output)["profile"]["id"] == public_id
    target = tmp_path / "export.json"
    written = cli.invoke(args=["outreach", "privacy", "export", public_id, "-o", str(target)])
    assert written.exit_code == 0 and target.stat().st_mode & 0o777 == 0o600
    assert json.loads(target.read_text())["profile"]["email"] == EMAIL
    unknown = cli.invoke(args=["outreach", "privacy", "export", "nobody@example.org"])
    assert unknown.exit_code != 0 and "No subscriber" in unknown.output
    db.session.rollback()
    exports = db.session.scalars(select(AuditLog).filter_by(action="privacy.export")).all()
    assert [e.target_id for e in exports] == [public_id] * 3
    assert all(EMAIL not in (e.detail or "") for e in exports)


def test_erase_blanks_personal_data_and_keeps_hashed_suppressions_and_the_ledger(
    app, clock, monkeypatch
):
    make_staff(monkeypatch)
    _, person, other = _history(app, clock)
    ledger_before = db.session.scalar(
        select(func.count()).select_from(ConsentEvent).filter_by(subscriber_id=person.id)
    )
    db.session.rollback()
    admin = isolated_client(app)
    login(admin, "admin@clinic.example")
    url = f"/admin/privacy/{person.public_id}/erase"
    page = admin.get(url)
    assert page.status_code == 200 and "cannot be undone" in page.get_data(as_text=True)
    refused = post_form(admin, url, {"confirm": "yes", "word": "erase please"})
    assert refused.status_code == 400
    done = post_form(admin, url, {"confirm": "yes", "word": "ERASE", "note": "ticket 42"})
    assert done.status_code == 303

    db.session.rollback()
    erased = db.session.get(Subscriber, person.id)
    assert (erased.email, erased.phone, erased.first_name) == (None, None, "")
    assert erased.erased_at is not None and erased.timezone == "Etc/UTC"
    suppressions = {
        s.channel: s for s in db.session.scalars(select(Suppression)) if s.address is None
    }
    assert suppressions["email"].address_hash == address_hash("email", EMAIL)
    assert suppressions["email"].reason == "erased"
    assert suppressions["sms"].address_hash == address_hash("sms", PHONE)
    assert suppressions["sms"].reason == "erased"  # no longer liftable by texting START
    ledger_after = db.session.scalars(
        select(ConsentEvent).filter_by(subscriber_id=person.id).order_by(ConsentEvent.id)
    ).all()
    assert len(ledger_after) == ledger_before + 1  # kept, plus the email withdrawal
    assert ledger_after[-1].action == "revoked" and "ticket 42" in ledger_after[-1].note
    assert (
        db.session.scalar(
            select(func.count()).select_from(Message).filter_by(subscriber_id=person.id)
        )
        == 2
    )
    inbound = db.session.scalars(select(InboundSms)).all()
    assert {(t.from_phone, t.body) for t in inbound} == {("", "")}

    leftovers = _text_everywhere()
    assert EMAIL not in leftovers
    assert PHONE not in leftovers
    assert other.email in leftovers  # other people are untouched
    audit = db.session.scalar(select(AuditLog).filter_by(action="privacy.erase"))
    assert audit.target_id == person.public_id and "consent ledger kept" in audit.detail
    # The evidence can still be exported (without contact details) for an auditor.
    evidence = admin.get(f"/admin/privacy/{person.public_id}/evidence.json").get_json()
    assert evidence["subscriber"]["email"] is None and evidence["subscriber"]["erased_at"]
    assert len(evidence["ledger"]) == len(ledger_after)
    again = admin.get(url)
    assert again.status_code == 303


def test_an_erased_address_that_signs_up_again_is_never_contacted(app, clock, cli):
    campaign, people = seed_campaign(clock, people=1)
    result = cli.invoke(args=["outreach", "privacy", "erase", EMAIL, "--yes"])
    assert result.exit_code == 0, result.output
    assert "consent ledger kept" in result.output
    again = cli.invoke(args=["outreach", "privacy", "erase", people[0].public_id, "--yes"])
    assert again.exit_code != 0 and "already erased" in again.output

    client = isolated_client(app)
    page = subscribe(client, email=EMAIL, phone=PHONE, consent_email="y", consent_sms="y")
    assert page.status_code == 200  # the same answer as for anyone
    assert mailbox() == []  # no confirmation email or text: both are suppressed
    db.session.rollback()
    newcomer = db.session.scalar(select(Subscriber).filter_by(email=EMAIL))
    assert newcomer is not None and newcomer.id != people[0].id
    # Even a confirmation (say, a link forwarded from elsewhere) does not lift the erasure.
    confirmed = submit_form(client, link(newcomer, "confirm"), {})
    assert confirmed.status_code == 200
    db.session.rollback()
    audience_id = campaign.audience_id
    assert decisions.check_batch([newcomer.id], "email", audience_id) == {newcomer.id: "suppressed"}

    # A new campaign to the audience: the row is skipped as suppressed, nothing is sent.
    later = make_campaign(
        campaign.audience, [{"channel": "email", "include_late_joiners": True}], name="July"
    )
    materialising.materialise_due(clock.current + timedelta(days=1))
    sending.dispatch_once(clock.current + timedelta(days=1))
    db.session.rollback()
    rows = db.session.scalars(select(Message).filter_by(campaign_id=later.id)).all()
    assert [(r.subscriber_id, r.state, r.skip_reason) for r in rows] == [
        (newcomer.id, "skipped", "suppressed")
    ]
    assert [m for m in mailbox() if m.get("to") in (EMAIL, PHONE)] == []
    # Texting START from the erased number changes nothing either.
    response = post_twilio(
        client,
        "/webhooks/twilio/sms",
        {"MessageSid": "SMstart", "From": PHONE, "To": "+15550100", "Body": "START"},
    )
    assert response.status_code == 200
    assert suppression.is_suppressed("sms", PHONE)


def test_privacy_pages_are_for_admins_only(app, clock, monkeypatch):
    make_staff(monkeypatch)
    _, people = seed_campaign(clock, people=1)
    editor = isolated_client(app)
    login(editor, "editor@clinic.example")
    public_id = people[0].public_id
    for url in (
        "/admin/privacy",
        f"/admin/privacy/{public_id}/export.json",
        f"/admin/privacy/{public_id}/erase",
        f"/admin/privacy/{public_id}/evidence.csv",
    ):
        assert editor.get(url).status_code == 403, url
    admin = isolated_client(app)
    login(admin, "admin@clinic.example")
    assert admin.get("/admin/privacy?q=nobody@example.org").status_code == 404
    assert admin.get("/admin/privacy?q=not a contact").status_code == 404
    assert admin.get("/admin/privacy/" + "f" * 32 + "/export.json").status_code == 404


def test_export_and_erasure_cover_the_persons_consultation_requests(app):
    from outreach.consent import privacy
    from outreach.consultations import requests as consultation_requests
    from outreach.models import ConsultationRequest
    from tests.factories import make_audience, make_subscriber

    audience = make_audience()
    person = make_subscriber(audience, email="ann@example.org", phone="+19175550100")
    for typed in (
        consultation_requests.Typed(name="Ann Lee", email="ann@example.org", note="mornings"),
        consultation_requests.Typed(name="Ann", phone="+19175550100"),
        consultation_requests.Typed(name="Bo", email="bo@example.org"),
    ):
        checked, _ = consultation_requests.check(typed, audience)
        consultation_requests.submit(audience, checked, language="en", attribution=None)
    document = privacy.export(person)
    assert [r["name"] for r in document["consultation_requests"]] == ["Ann Lee", "Ann"]
    report = privacy.erase(person)
    db.session.commit()
    assert report.requests_blanked == 2 and "2 consultation request(s) blanked" in report.summary()
    rows = db.session.scalars(select(ConsultationRequest).order_by(ConsultationRequest.id))
    assert [(r.name, r.email, r.phone, r.note) for r in rows] == [
        ("(erased)", None, None, ""),
        ("(erased)", None, None, ""),
        ("Bo", "bo@example.org", None, ""),
    ]
