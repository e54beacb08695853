"""SendGrid Signed Event Webhook: verify first, then map events to outbox rows and consent."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, insert, select

from outreach.consent import ledger as consent_ledger
from outreach.consent import subscriptions, suppression
from outreach.extensions import db
from outreach.models import ConsentEvent, DeliveryEvent, Message, Step, Subscription, Suppression
from outreach.sending import health
from tests.helpers import post_sendgrid, sendgrid_headers
from tests.webhooks.conftest import add_message, bulk_email_messages, snapshot, subscription_states

URL = "/webhooks/sendgrid/events"
STAMP = int(datetime(2027, 6, 1, 15, 30, tzinfo=UTC).timestamp())
_counter = iter(range(1, 10**9))


def event(kind: str, message: Message | None = None, **fields: object) -> dict:
    """A SendGrid event as posted, with custom_args message_id when given a row."""
    body: dict = {
        "event": kind,
        "sg_event_id": f"ev-{next(_counter)}",
        "timestamp": STAMP,
        "email": "ann@example.org",
        "sg_message_id": "xmsgid.filter0001.123.0",
    }
    if message is not None:
        body["message_id"] = str(message.id)
    body.update(fields)
    return body


def post(client, events: list[dict]):  # noqa: ANN001, ANN201
    """POST signed events; must be accepted."""
    response = post_sendgrid(client, events)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["counts"]


def stored(message: Message) -> Message:
    """The row as stored now."""
    db.session.expire_all()
    return db.session.get(Message, message.id)


@pytest.fixture
def sent(email_step: Step, ann):  # noqa: ANN001, ANN201
    """Ann's sent email."""
    return add_message(email_step, ann, state="sent", provider_id="xmsgid")


# --------------------------------------------------------------------------- signature


def _other_key_headers(body: str) -> dict[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    stamp = str(int(time.time()))
    signature = key.sign((stamp + body).encode(), ec.ECDSA(hashes.SHA256()))
    return {
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
        "Content-Type": "application/json",
    }


@pytest.mark.parametrize(
    "make_headers",
    [
        lambda body: {"Content-Type": "application/json"},  # unsigned
        lambda body: sendgrid_headers(body + " "),  # signed a different body
        lambda body: {**sendgrid_headers(body), "X-Twilio-Email-Event-Webhook-Timestamp": "1"},
        lambda body: {**sendgrid_headers(body), "X-Twilio-Email-Event-Webhook-Signature": "%%"},
        lambda body: {
            k: v for k, v in sendgrid_headers(body).items() if not k.endswith("Timestamp")
        },
        _other_key_headers,  # a valid signature from someone else's key
    ],
)
def test_unsigned_or_wrongly_signed_events_are_403_and_change_nothing(client, sent, make_headers):
    body = json.dumps([event("bounce", sent, type="bounce"), event("spamreport", sent)])
    before = snapshot()
    response = client.post(URL, data=body, headers=make_headers(body))
    assert response.status_code == 403
    assert snapshot() == before


def test_no_public_key_configured_refuses_events(app, client, sent):
    app.config["SENDGRID_WEBHOOK_PUBLIC_KEY"] = ""
    before = snapshot()
    assert post_sendgrid(client, [event("bounce", sent, type="bounce")]).status_code == 403
    assert snapshot() == before


def test_signature_is_checked_before_the_body_is_parsed(client, ann):
    """Broken JSON without a valid signature is 403 (not 400): nothing was parsed."""
    assert (
        client.post(URL, data="[{", headers={"Content-Type": "application/json"}).status_code == 403
    )
    assert client.post(URL, data="[{", headers=sendgrid_headers("[{")).status_code == 400


# --------------------------------------------------------------------------- stats


def test_delivered_open_click_fill_the_stats(client, sent, email_step):
    email_step.campaign.track_links = False  # SendGrid's clicks count only without ours
    db.session.commit()
    opened = STAMP + 60
    counts = post(
        client,
        [
            event("processed", sent),
            event("delivered", sent),
            event("open", sent, timestamp=opened + 30),
            event("open", sent, timestamp=opened),
            event("click", sent, timestamp=opened + 90, url="https://example.org/"),
        ],
    )
    assert counts["delivered"] == 1 and counts["open"] == 2 and counts["click"] == 1
    row = stored(sent)
    assert row.state == "delivered"
    assert row.delivered_at == datetime.fromtimestamp(STAMP, UTC)
    assert row.opened_at == datetime.fromtimestamp(opened, UTC)  # the first open
    assert row.clicked_at == datetime.fromtimestamp(opened + 90, UTC)
    post(client, [event("open", sent, timestamp=opened + 600)])
    assert stored(sent).opened_at == datetime.fromtimestamp(opened, UTC)


def test_events_fall_back_to_sg_message_id_and_email(client, email_step, ann, ben):
    """One X-Message-Id covers the whole request: the email tells the rows apart."""
    anns = add_message(email_step, ann, provider_id="batch1")
    bens = add_message(email_step, ben, provider_id="batch1")
    counts = post(
        client,
        [
            event("delivered", sg_message_id="batch1.filter.1", email="BEN@example.org"),
            event("open", sg_message_id="batch1.filter.2", email="ann@example.org"),
            event("delivered", sg_message_id="other.filter.3", email="ann@example.org"),
        ],
    )
    assert counts["unmatched"] == 1
    assert stored(bens).state == "delivered" and stored(bens).opened_at is None
    assert stored(anns).state == "sent" and stored(anns).opened_at is not None


def test_an_unknown_custom_message_id_falls_back_too(client, email_step, ann):
    anns = add_message(email_step, ann, provider_id="batch2")
    post(client, [event("delivered", message_id="999999", sg_message_id="batch2.f.1")])
    assert stored(anns).state == "delivered"


def test_processed_reconciles_a_row_of_unknown_fate(client, email_step, ann):
    row = add_message(email_step, ann, state="unknown", provider_id=None)
    post(client, [event("processed", row)])
    assert stored(row).state == "sent" and stored(row).sent_at is not None


def test_a_late_delivered_does_not_undo_a_bounce(client, sent):
    post(client, [event("bounce", sent, type="bounce", reason="550 no such user")])
    post(client, [event("delivered", sent)])
    assert stored(sent).state == "bounced"


# --------------------------------------------------------------------------- consent


def test_hard_bounce_fails_the_row_and_suppresses(client, sent, ann):
    post(client, [event("bounce", sent, type="bounce", reason="550 5.1.1 no such user",
                        status="5.1.1")])  # fmt: skip
    row = stored(sent)
    assert row.state == "bounced" and "no such user" in row.error_detail
    assert suppression.is_suppressed("email", "ann@example.org")
    assert set(subscription_states(ann, "email").values()) == {"bounced"}
    assert set(subscription_states(ann, "sms").values()) == {"active"}
    ledger = db.session.scalars(select(ConsentEvent).filter_by(action="revoked")).all()
    assert len(ledger) == 2 and {e.source for e in ledger} == {"provider_event"}


@pytest.mark.parametrize("reason", ["Bounced Address", "Invalid"])
def test_dropped_for_a_bad_address_fails_and_suppresses(client, sent, ann, reason):
    post(client, [event("dropped", sent, reason=reason)])
    assert stored(sent).state == "failed"
    assert suppression.is_suppressed("email", "ann@example.org")
    assert set(subscription_states(ann, "email").values()) == {"bounced"}


def test_dropped_for_other_reasons_fails_without_suppression(client, sent, ann):
    post(client, [event("dropped", sent, reason="Invalid SMTPAPI header")])
    assert stored(sent).state == "failed"
    assert not suppression.is_suppressed("email", "ann@example.org")
    assert set(subscription_states(ann, "email").values()) == {"active"}


@pytest.mark.parametrize(
    "fields",
    [
        {"event": "bounce", "type": "blocked", "reason": "550 blocked by policy"},
        {"event": "deferred", "response": "421 try again later", "attempt": "2"},
    ],
)
def test_blocked_and_deferred_are_recorded_without_suppression(client, sent, ann, fields):
    kind = "blocked" if fields.get("type") == "blocked" else "deferred"
    post(
        client, [event(fields["event"], sent, **{k: v for k, v in fields.items() if k != "event"})]
    )
    recorded = db.session.scalar(select(DeliveryEvent).filter_by(message_id=sent.id))
    assert recorded.event_type == kind and recorded.detail
    assert db.session.scalar(select(func.count(Suppression.id))) == 0
    assert set(subscription_states(ann, "email").values()) == {"active"}
    assert stored(sent).state == ("failed" if kind == "blocked" else "sent")


def test_spam_report_suppresses_revokes_and_counts(client, audience, email_step, ann, ben):
    anns = add_message(email_step, ann)
    bens = add_message(email_step, ben)
    post(client, [event("spamreport", anns)])
    assert suppression.is_suppressed("email", "ann@example.org")
    assert set(subscription_states(ann, "email").values()) == {"complained"}
    complaint = db.session.scalar(select(DeliveryEvent).filter_by(event_type="spamreport"))
    assert complaint.message_id == anns.id

    assert health.check_step_health({email_step.id}) == []  # 1 complaint per 1000: at the line
    post(client, [event("spamreport", bens, email="ben@example.org")])
    reasons = health.check_step_health({email_step.id})
    assert reasons and "complaint rate" in reasons[0]
    assert db.session.get(Step, email_step.id).paused_reason


@pytest.mark.parametrize("kind", ["unsubscribe", "group_unsubscribe"])
def test_unsubscribe_revokes_that_list(client, sent, ann, kind):
    post(client, [event(kind, sent)])
    assert subscription_states(ann, "email") == {
        "migraine-awareness": "unsubscribed",
        "headache-news": "active",
    }
    assert not suppression.is_suppressed("email", "ann@example.org")
    revoked = db.session.scalar(select(ConsentEvent).filter_by(action="revoked"))
    assert revoked.source == "provider_event" and revoked.provider_ref.startswith("ev-")


def test_unsubscribe_without_a_known_row_revokes_every_list(client, ann):
    post(client, [event("unsubscribe", sg_message_id="nothing.here")])
    assert set(subscription_states(ann, "email").values()) == {"unsubscribed"}


def test_bounce_for_an_unknown_address_still_suppresses_it(client, ann):
    post(client, [event("bounce", type="bounce", email="Stranger@Example.org")])
    assert suppression.is_suppressed("email", "stranger@example.org")


# --------------------------------------------------------------------------- volume


def test_a_thousand_events_in_one_request(client, email_step, is_postgres):
    rows = bulk_email_messages(email_step, 1000, "bulkid")
    kinds = ["delivered", "open", "click", "processed"]
    events = [
        event(kinds[n % 4], email=email, sg_message_id=f"bulkid.filter.{n}",
              **({"message_id": str(mid)} if n % 2 else {}))
        for n, (mid, email) in enumerate(rows)
    ]  # fmt: skip
    body = json.dumps(events)
    headers = sendgrid_headers(body)
    started = time.perf_counter()
    response = client.post(URL, data=body, headers=headers)
    elapsed = time.perf_counter() - started
    print(f"\n1000 SendGrid events on {'PostgreSQL' if is_postgres else 'SQLite'}: {elapsed:.3f}s")
    assert response.status_code == 200
    counts = response.get_json()["counts"]
    assert counts == {
        "received": 1000,
        "duplicate": 0,
        "delivered": 250,
        "open": 250,
        "click": 250,
        "processed": 250,
        "click_first_party": 250,
    }  # fmt: skip (the campaign tracks its links)
    states = dict(
        db.session.execute(
            select(Message.state, func.count()).where(Message.step_id == email_step.id)
            .group_by(Message.state)
        ).all()
    )  # fmt: skip
    assert states == {"delivered": 250, "sent": 750}
    opened = db.session.scalar(select(func.count()).where(Message.opened_at.is_not(None)))
    assert opened == 250
    assert db.session.scalar(select(func.count(DeliveryEvent.id))) == 1000

    started = time.perf_counter()
    replay = client.post(URL, data=body, headers=headers)
    print(f"replayed in {time.perf_counter() - started:.3f}s")
    assert replay.get_json()["counts"] == {"received": 1000, "duplicate": 1000}


def test_a_thousand_bounces_and_complaints_in_one_request(
    client, audience, email_step, is_postgres
):
    rows = bulk_email_messages(email_step, 1000, "bulkid")
    people = db.session.execute(
        select(Message.subscriber_id).where(Message.step_id == email_step.id)
    )
    db.session.execute(
        insert(Subscription),
        [{"subscriber_id": sid, "audience_id": audience.id, "channel": "email", "state": "active"}
         for (sid,) in people],
    )  # fmt: skip
    db.session.commit()
    events = [
        event("bounce", type="bounce", email=email, message_id=str(mid)) if n % 2
        else event("spamreport", email=email, sg_message_id=f"bulkid.f.{n}")
        for n, (mid, email) in enumerate(rows)
    ]  # fmt: skip
    body = json.dumps(events)
    started = time.perf_counter()
    response = client.post(URL, data=body, headers=sendgrid_headers(body))
    elapsed = time.perf_counter() - started
    print(f"\n1000 bounces + complaints on {'PostgreSQL' if is_postgres else 'SQLite'}: "
          f"{elapsed:.3f}s")  # fmt: skip
    assert response.status_code == 200
    assert db.session.scalar(select(func.count(Suppression.id))) == 1000
    states = dict(
        db.session.execute(
            select(Subscription.state, func.count()).group_by(Subscription.state)
        ).all()
    )
    assert states == {"bounced": 500, "complained": 500}
    assert db.session.scalar(select(func.count(ConsentEvent.id)).where(
        ConsentEvent.action == "revoked")) == 1000  # fmt: skip
    assert db.session.scalar(select(func.count()).where(Message.state == "bounced")) == 500


def test_batched_consent_changes_match_the_one_at_a_time_path(
    client, clock, audience, second_audience, email_step
):
    """opt_out_many (webhook batches) writes what opt_out_everywhere writes for one person."""
    from tests.factories import make_campaign, make_subscriber

    def person(email: str):  # noqa: ANN202
        someone = make_subscriber(audience, email=email, phone=None, channels=("email",))
        make_subscriber(second_audience, email=email, phone=None, channels=("email",))
        return someone

    batched, single = person("batched@example.org"), person("single@example.org")
    later = make_campaign(second_audience, [{"channel": "email"}], name="Later", schedule=False)
    for someone in (batched, single):
        add_message(later.steps[0], someone, state="queued")
        add_message(email_step, someone, state="queued")
    post(client, [event("spamreport", email="batched@example.org", sg_message_id="n.a")])
    subscriptions.opt_out_everywhere(
        single,
        "email",
        consent_ledger.Evidence(
            source="provider_event", provider_ref="ev-x", note="SendGrid spamreport"
        ),
        state="complained",
        suppress_reason="spam_report",
    )
    db.session.commit()

    def trail(someone) -> dict:  # noqa: ANN001
        ledger = db.session.execute(
            select(ConsentEvent.audience_id, ConsentEvent.action, ConsentEvent.source,
                   ConsentEvent.resulting_state, ConsentEvent.note, ConsentEvent.created_at)
            .where(ConsentEvent.subscriber_id == someone.id, ConsentEvent.action == "revoked")
            .order_by(ConsentEvent.id)
        ).all()  # fmt: skip
        return {
            "ledger": ledger,
            "subscriptions": subscription_states(someone, "email"),
            "outbox": sorted(
                db.session.execute(
                    select(Message.step_id, Message.state, Message.skip_reason).where(
                        Message.subscriber_id == someone.id
                    )
                ).all()
            ),
            "suppressed": db.session.scalar(
                select(Suppression.reason).where(Suppression.address == someone.email)
            ),
        }

    assert trail(batched) == trail(single)
    assert trail(batched)["subscriptions"] == {
        "migraine-awareness": "complained",
        "headache-news": "complained",
    }


@pytest.mark.parametrize(
    ("reason", "state", "suppressed"),
    [
        ("Spam Reporting Address", "complained", True),
        ("Unsubscribed Address", "unsubscribed", False),
    ],
)
def test_dropped_for_a_withdrawn_address_revokes(client, sent, ann, reason, state, suppressed):
    post(client, [event("dropped", sent, reason=reason)])
    assert stored(sent).state == "failed"
    assert set(subscription_states(ann, "email").values()) == {state}
    assert suppression.is_suppressed("email", "ann@example.org") is suppressed
