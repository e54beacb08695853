"""Claiming re-checks consent, suppression, windows and caps; results are recorded."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy import text as sa_text

from outreach.campaigns import lifecycle
from outreach.channels.base import Outcome, SendResult
from outreach.consent import ledger as consent_ledger
from outreach.consent import subscriptions, suppression
from outreach.extensions import db
from outreach.models import ConsentEvent, Message, Step, Subscriber, Subscription, Suppression
from outreach.sending import claim as claiming
from outreach.sending import identity, outage
from outreach.sending import materialise as materialising
from outreach.sending import run as sending
from tests.factories import make_audience, make_campaign, make_subscriber
from tests.fakes import RecordingChannels


def _states() -> dict[int, tuple[str, str | None]]:
    return {m.subscriber_id: (m.state, m.skip_reason) for m in db.session.scalars(select(Message))}


@pytest.fixture
def channels(app) -> RecordingChannels:
    return RecordingChannels().install(app)


@pytest.fixture
def audience(app, clock):
    clock.set(datetime(2027, 5, 20, tzinfo=UTC))
    return make_audience()


def test_everyone_allowed_gets_exactly_one_copy(audience, channels, clock):
    people = [make_subscriber(audience, email=f"p{i}@example.org") for i in range(5)]
    make_campaign(audience, [{"channel": "email", "send_time": "10:00"}])
    clock.set(datetime(2027, 6, 1, 15, tzinfo=UTC))
    first = sending.dispatch_once()
    second = sending.dispatch_once()
    assert first.sent == 5 and second.sent == 0
    assert sorted(e["to"] for e in channels.emails) == sorted(p.email for p in people)
    assert {s for s, _ in _states().values()} == {"sent"}
    assert all(m.provider_id for m in db.session.scalars(select(Message)))


def test_withdrawn_after_materialising_is_skipped_with_reason(audience, channels, clock):
    keep = make_subscriber(audience, email="keep@example.org")
    leave = make_subscriber(audience, email="leave@example.org")
    bounced = make_subscriber(audience, email="bounced@example.org")
    make_campaign(audience, [{"channel": "email", "send_time": "10:00"}])
    clock.set(datetime(2027, 6, 1, 14, 0, tzinfo=UTC))

    materialising.materialise_due()
    sub = db.session.scalar(select(Subscription).filter_by(subscriber_id=leave.id))
    subscriptions.revoke(sub, consent_ledger.Evidence(source="one_click"))
    suppression.suppress("email", bounced.email, "hard_bounce")
    db.session.commit()
    sending.dispatch_once()
    states = _states()
    assert states[keep.id] == ("sent", None)
    assert states[leave.id][0] in ("skipped", "cancelled")
    assert states[bounced.id] == ("skipped", "suppressed")
    assert [e["to"] for e in channels.emails] == ["keep@example.org"]


def test_sms_outside_the_window_waits_for_the_next_one(audience, channels, clock):
    person = make_subscriber(audience, phone="+18082014455", timezone="Pacific/Honolulu")
    make_campaign(audience, [{"channel": "sms", "send_time": "07:00", "body": "Hello"}])
    clock.set(datetime(2027, 6, 1, 17, 0, tzinfo=UTC))  # 07:00 in Honolulu
    report = sending.dispatch_once()
    assert report.deferred == 1 and channels.texts == []
    row = db.session.scalar(select(Message))
    assert row.state == "queued"
    assert row.due_at == datetime(2027, 6, 1, 18, 0, tzinfo=UTC)  # 08:00 Honolulu
    clock.set(datetime(2027, 6, 1, 18, 0, tzinfo=UTC))
    assert sending.dispatch_once().sent == 1
    assert channels.texts[0]["to"] == person.phone


def test_florida_number_stops_at_eight_pm(audience, channels, clock):
    make_subscriber(audience, phone="+13052014455", timezone="America/New_York")
    make_subscriber(audience, phone="+16462014455", timezone="America/New_York")
    make_campaign(audience, [{"channel": "sms", "send_time": "20:30", "body": "Hello"}])
    clock.set(datetime(2027, 6, 2, 0, 30, tzinfo=UTC))  # 20:30 in New York and Miami
    report = sending.dispatch_once()
    assert [t["to"] for t in channels.texts] == ["+16462014455"]
    assert report.deferred == 1
    florida = db.session.scalar(select(Message).where(Message.state == "queued"))
    assert florida.due_at == datetime(2027, 6, 2, 12, 0, tzinfo=UTC)  # 08:00 next day


def test_calendar_step_follows_a_dst_change(app, channels, clock):
    clock.set(datetime(2027, 3, 1, tzinfo=UTC))
    audience = make_audience()
    make_subscriber(audience, email="ny@example.org", timezone="America/New_York")
    from datetime import date

    make_campaign(
        audience,
        [
            {"channel": "email", "day_offset": 0, "send_time": "10:00"},
            {"channel": "email", "day_offset": 1, "send_time": "10:00"},
        ],
        anchor=date(2027, 3, 13),
    )
    clock.set(datetime(2027, 3, 15, tzinfo=UTC))
    sending.dispatch_once()
    due = sorted(m.due_at for m in db.session.scalars(select(Message)))
    assert due == [
        datetime(2027, 3, 13, 15, 0, tzinfo=UTC),  # EST, UTC-5
        datetime(2027, 3, 14, 14, 0, tzinfo=UTC),
    ]  # EDT, UTC-4


def test_at_most_one_marketing_text_per_day(audience, channels, clock):
    make_subscriber(audience, phone="+16462014455")
    make_campaign(
        audience,
        [
            {"channel": "sms", "send_time": "10:00", "body": "one"},
            {"channel": "sms", "send_time": "11:00", "body": "two"},
        ],
    )
    clock.set(datetime(2027, 6, 1, 16, 0, tzinfo=UTC))  # 12:00 in New York: both due
    report = sending.dispatch_once()
    assert report.sent == 1 and report.deferred == 1
    waiting = db.session.scalar(select(Message).where(Message.state == "queued"))
    assert waiting.due_at >= datetime(2027, 6, 2, 16, 0, tzinfo=UTC)
    clock.set(datetime(2027, 6, 2, 16, 1, tzinfo=UTC))
    assert sending.dispatch_once().sent == 1
    assert [t["body"].split(": ", 1)[-1].split(" Reply")[0] for t in channels.texts] == [
        "one",
        "two",
    ]


def test_first_text_carries_brand_and_stop_wording(audience, channels, clock):
    make_subscriber(audience, phone="+16462014455")
    make_campaign(
        audience,
        [
            {"channel": "sms", "send_time": "10:00", "body": "June news"},
            {"channel": "sms", "day_offset": 3, "send_time": "10:00", "body": "More news"},
        ],
    )
    clock.set(datetime(2027, 6, 1, 15, tzinfo=UTC))
    sending.dispatch_once()
    clock.set(datetime(2027, 6, 4, 15, tzinfo=UTC))
    sending.dispatch_once()
    first, second = (t["body"] for t in channels.texts)
    assert first == "NeuroMedici Migraine Awareness: June news Reply STOP to opt out."
    assert second == "More news"
    assert channels.texts[0]["callback"].startswith(
        "https://outreach.example.org/webhooks/twilio/status?mid="
    )


def test_a_name_with_stop_in_it_still_gets_the_stop_wording(audience, channels, clock):
    make_subscriber(audience, phone="+16462014455", first_name="Christopher")
    make_subscriber(audience, phone="+16462014456", first_name="Ann")
    make_campaign(
        audience,
        [{"channel": "sms", "send_time": "10:00", "body": "Hi {{ first_name }}, June news."}],
    )
    clock.set(datetime(2027, 6, 1, 15, tzinfo=UTC))
    sending.dispatch_once()
    assert sorted(t["body"] for t in channels.texts) == [
        "NeuroMedici Migraine Awareness: Hi Ann, June news. Reply STOP to opt out.",
        "NeuroMedici Migraine Awareness: Hi Christopher, June news. Reply STOP to opt out.",
    ]


def test_paused_campaign_is_not_claimed_and_cancel_cancels_queued(audience, channels, clock):
    for i in range(3):
        make_subscriber(audience, email=f"p{i}@example.org")
    campaign = make_campaign(audience, [{"channel": "email", "send_time": "10:00"}])
    clock.set(datetime(2027, 6, 1, 14, 0, tzinfo=UTC))

    materialising.materialise_due()
    lifecycle.pause(campaign, "copy check")
    db.session.commit()
    assert sending.dispatch_once().sent == 0
    lifecycle.cancel(campaign)
    db.session.commit()
    assert {s for s, _ in _states().values()} == {"cancelled"}
    assert channels.emails == []


def test_carrier_opt_out_21610_suppresses_revokes_and_spares_others(audience, clock, app):
    blocked = "+16462014455"
    channels = RecordingChannels(
        lambda to: (
            SendResult(
                0, Outcome.OPTED_OUT, error_code="21610", error_detail="unsubscribed recipient"
            )
            if to == blocked
            else None
        )
    ).install(app)
    victim = make_subscriber(audience, phone=blocked)
    make_subscriber(audience, phone="+16462014456")
    make_campaign(audience, [{"channel": "sms", "send_time": "10:00", "body": "June"}])
    clock.set(datetime(2027, 6, 1, 15, tzinfo=UTC))
    report = sending.dispatch_once()
    assert report.sent == 1 and report.failed == 1
    assert [t["to"] for t in channels.texts] == ["+16462014456"]
    assert db.session.scalar(select(Suppression).filter_by(channel="sms")).address == blocked
    ledger = db.session.scalars(
        select(ConsentEvent).filter_by(subscriber_id=victim.id, action="revoked")
    ).all()
    assert [e.source for e in ledger] == ["provider_event"]


def test_invalid_number_21211_flags_the_subscriber(audience, clock, app):
    RecordingChannels(lambda to: SendResult(0, Outcome.INVALID_NUMBER, error_code="21211")).install(
        app
    )
    person = make_subscriber(audience, phone="+16462014455")
    make_campaign(audience, [{"channel": "sms", "send_time": "10:00", "body": "June"}])
    clock.set(datetime(2027, 6, 1, 15, tzinfo=UTC))
    sending.dispatch_once()
    assert db.session.get(Subscriber, person.id).phone_invalid is True
    assert db.session.scalar(select(Message)).state == "failed"


def test_retryable_errors_back_off_then_send(audience, clock, app):
    attempts = {"n": 0}

    def flaky(to: str) -> SendResult | None:
        attempts["n"] += 1
        if attempts["n"] <= 2:
            return SendResult(0, Outcome.RETRY, error_code="429", retry_after=120)
        return None

    channels = RecordingChannels(flaky).install(app)
    make_subscriber(audience, email="a@example.org")
    make_campaign(audience, [{"channel": "email", "send_time": "10:00"}])
    clock.set(datetime(2027, 6, 1, 15, tzinfo=UTC))
    assert sending.dispatch_once().retried == 1
    row = db.session.scalar(select(Message))
    assert row.state == "queued" and row.due_at == datetime(2027, 6, 1, 15, 2, tzinfo=UTC)
    clock.advance(minutes=2)
    assert sending.dispatch_once().retried == 1
    clock.advance(minutes=2)
    assert sending.dispatch_once().sent == 1
    assert len(channels.emails) == 1


def test_a_step_with_too_many_errors_pauses_itself_and_says_why(audience, clock, app):
    RecordingChannels(
        lambda to: SendResult(0, Outcome.FAILED, error_code="400", error_detail="bad address")
    ).install(app)
    for i in range(200):
        make_subscriber(audience, email=f"p{i}@example.org")
    campaign = make_campaign(audience, [{"channel": "email", "send_time": "10:00"}])
    clock.set(datetime(2027, 6, 1, 15, tzinfo=UTC))
    app.config["OUTREACH_BATCH_SIZE"] = 50
    report = sending.dispatch_once()
    # It stops after the first batch or two (email lanes may each finish theirs), not 200.
    assert 50 <= report.failed <= 100
    assert len(report.paused_steps) == 1
    queued = db.session.scalar(select(func.count()).where(Message.state == "queued"))
    assert queued == 200 - report.failed
    db.session.refresh(campaign)
    assert campaign.status == "paused"
    assert "error rate" in campaign.paused_reason
    assert "error rate" in db.session.get(Step, campaign.steps[0].id).paused_reason


def test_expired_lease_becomes_unknown_never_queued(audience, channels, clock):
    make_subscriber(audience, email="a@example.org")
    make_campaign(audience, [{"channel": "email", "send_time": "10:00"}])
    clock.set(datetime(2027, 6, 1, 15, tzinfo=UTC))

    materialising.materialise_due()
    claimed, _ = claiming.claim("email", 10)  # a worker claims, then dies before sending
    assert len(claimed) == 1
    clock.advance(minutes=10)
    report = sending.dispatch_once()
    assert report.recovered == 1 and report.sent == 0
    assert db.session.scalar(select(Message)).state == "unknown"
    assert channels.emails == []


def test_a_lane_puts_back_only_the_rows_it_claimed_itself(audience, channels, clock):
    """After a database outage a lane re-queues its unsent rows; never another lane's, which
    may be with the provider at that moment (re-queueing them could send them twice)."""
    for i in range(2):
        make_subscriber(audience, email=f"lane{i}@example.org")
    make_campaign(audience, [{"channel": "email", "send_time": "10:00"}])
    clock.set(datetime(2027, 6, 1, 15, tzinfo=UTC))

    materialising.materialise_due()
    first, _ = claiming.claim("email", 1)  # the first lane claims one row
    identity.current_lane.claimer = f"{identity.worker_id()}/1"
    try:
        second, _ = claiming.claim("email", 1)  # a second lane claims the other
        assert outage.release() == 1  # the second lane recovers from an outage
    finally:
        del identity.current_lane.claimer
    rows = dict(db.session.execute(select(Message.id, Message.state)).all())
    assert rows == {first[0].message_id: "sending", second[0].message_id: "queued"}
    assert channels.emails == []


def test_a_failing_email_lane_stops_the_others_and_nothing_is_sent_twice(
    audience, clock, app, is_postgres
):
    if not is_postgres:
        pytest.skip("email lanes run on PostgreSQL only")

    calls = {"n": 0}
    lock = threading.Lock()

    def explode(to: str) -> SendResult | None:
        with lock:
            calls["n"] += 1
            first = calls["n"] == 1
        if first:  # the first batch handed to the provider fails half-way
            raise RuntimeError("a bug in the provider client")
        return None

    channels = RecordingChannels(explode).install(app)
    for i in range(40):
        make_subscriber(audience, email=f"p{i}@example.org")
    make_campaign(audience, [{"channel": "email", "send_time": "10:00"}])
    clock.set(datetime(2027, 6, 1, 15, tzinfo=UTC))
    app.config["OUTREACH_BATCH_SIZE"] = 10  # two lanes of 5 rows
    with pytest.raises(RuntimeError, match="provider client"):
        sending.dispatch_once()
    states = dict(
        db.session.execute(select(Message.state, func.count()).group_by(Message.state)).all()
    )
    # The failed lane's batch stays "sending" (it may have reached the provider: after its
    # lease it becomes "unknown"); the other lane stopped after at most one more batch.
    assert states["sending"] == 5
    assert states["queued"] >= 40 - 5 - 2 * 10
    assert states.get("sent", 0) == len(channels.emails)
    assert len({e["to"] for e in channels.emails}) == len(channels.emails)


def test_a_big_fan_out_refreshes_the_planner_statistics(audience, clock, is_postgres, monkeypatch):
    if not is_postgres:
        pytest.skip("ANALYZE statistics are PostgreSQL's")
    monkeypatch.setattr(materialising, "ANALYZE_MIN_ROWS", 3)
    for i in range(4):
        make_subscriber(audience, email=f"stats{i}@example.org")
    make_campaign(audience, [{"channel": "email", "send_time": "10:00"}])
    clock.set(datetime(2027, 6, 1, 15, tzinfo=UTC))
    assert materialising.materialise_due() == 4
    estimate = db.session.scalar(
        sa_text("SELECT reltuples FROM pg_class WHERE relname = 'outbox_messages'")
    )
    assert estimate == 4  # the planner knows the rows are there (-1: never analysed)


def test_a_callback_during_the_send_is_not_undone_by_recording(audience, clock, app, is_postgres):
    if not is_postgres:
        pytest.skip("on SQLite the single writer lock keeps webhooks out during a send")
    import sqlalchemy as sa

    other = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"])

    class FastCallbacks(RecordingChannels):
        def send_many(self, messages):  # noqa: ANN001, ANN202
            results = super().send_many(messages)
            with other.begin() as conn:  # Twilio says "delivered" before we record "sent"
                conn.execute(
                    sa.text("UPDATE outbox_messages SET state = 'delivered' WHERE id = :id"),
                    {"id": messages[0].message_id},
                )
            return results

    FastCallbacks().install(app)
    make_subscriber(audience, phone="+16462014455")
    make_campaign(audience, [{"channel": "sms", "send_time": "10:00", "body": "June"}])
    clock.set(datetime(2027, 6, 1, 15, tzinfo=UTC))
    sending.dispatch_once()
    other.dispose()
    db.session.expire_all()
    row = db.session.scalar(select(Message))
    assert row.state == "delivered"
    assert row.provider_id and row.provider_id.startswith("SM")


@pytest.mark.parametrize(
    ("mps", "workers", "lease", "expected"),
    [
        (0, 1, 300, sending.SMS_BATCH),
        (1, 1, 300, 5),
        (10, 2, 300, 25),
        (1, 4, 300, 1),
        (0.01, 1, 60, 1),
        (100, 1, 4, 200),
        (1000, 1, 300, sending.SMS_BATCH),
    ],
)
def test_paced_sms_claims_take_a_few_seconds_at_most(mps, workers, lease, expected):
    settings = {
        "OUTREACH_SMS_MPS": mps,
        "OUTREACH_SMS_WORKERS": workers,
        "OUTREACH_LEASE_SECONDS": lease,
    }
    assert sending.sms_batch_limit(settings) == min(expected, sending.SMS_BATCH)


def test_florida_hours_hold_in_florida_even_for_a_declared_central_zone(audience, channels, clock):
    make_subscriber(audience, phone="+13052014455", timezone="America/Chicago")
    make_campaign(audience, [{"channel": "sms", "send_time": "19:30", "body": "Hello"}])
    clock.set(datetime(2027, 6, 2, 0, 30, tzinfo=UTC))  # 19:30 Chicago, 20:30 Miami
    report = sending.dispatch_once()
    assert report.deferred == 1 and channels.texts == []


def test_a_text_is_not_started_seconds_before_the_window_closes(audience, channels, clock):
    make_subscriber(audience, phone="+16462014455", timezone="America/New_York")
    make_campaign(audience, [{"channel": "sms", "send_time": "20:59", "body": "Hello"}])
    clock.set(datetime(2027, 6, 2, 0, 59, 58, tzinfo=UTC))  # 20:59:58 in New York
    report = sending.dispatch_once()
    assert report.deferred == 1 and channels.texts == []
    assert db.session.scalar(select(Message)).due_at == datetime(2027, 6, 2, 12, 0, tzinfo=UTC)


def test_lanes_starting_together_claim_under_one_worker_id(monkeypatch):
    """Lanes of a fresh process ask for the worker id at the same moment: one id for all,
    or a worker's rows would be split across two names (and one lane's rows orphaned)."""
    monkeypatch.setattr(identity, "_identity", None)
    start = threading.Barrier(16)
    seen: list[str] = []

    def ask() -> None:
        start.wait()
        seen.append(identity.worker_id())

    threads = [threading.Thread(target=ask) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(seen)) == 1 and len(seen) == 16


def test_an_email_event_during_the_send_keeps_the_request_s_provider_id(
    audience, clock, app, is_postgres
):
    """A whole SendGrid request shares one X-Message-Id (one UPDATE for the batch): a row an
    event moved on meanwhile still gets it, the others are recorded sent."""
    if not is_postgres:
        pytest.skip("on SQLite the single writer lock keeps webhooks out during a send")
    import sqlalchemy as sa

    other = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"])

    class FastEvents(RecordingChannels):
        def send_batch(self, batch):  # noqa: ANN001, ANN202
            super().send_batch(batch)
            with other.begin() as conn:  # SendGrid's "delivered" before we record "sent"
                conn.execute(
                    sa.text("UPDATE outbox_messages SET state = 'delivered' WHERE id = :id"),
                    {"id": batch.recipients[0].message_id},
                )
            return [SendResult(r.message_id, Outcome.SENT, "sg-request") for r in batch.recipients]

    FastEvents().install(app)
    make_subscriber(audience, email="a@example.org")
    make_subscriber(audience, email="b@example.org")
    make_campaign(audience, [{"channel": "email", "send_time": "10:00"}])
    clock.set(datetime(2027, 6, 1, 15, tzinfo=UTC))
    assert sending.dispatch_once().sent == 2
    other.dispose()
    db.session.expire_all()
    rows = db.session.scalars(select(Message).order_by(Message.id)).all()
    assert [(r.state, r.provider_id) for r in rows] == [
        ("delivered", "sg-request"),
        ("sent", "sg-request"),
    ]
    assert all(r.sent_at is not None for r in rows)
