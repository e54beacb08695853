"""GET /metrics: off without a token, bearer-protected, queue depth from the database, and
counters that move when the pipeline sends, retries, expires leases, reconciles and answers
webhooks. Labels carry states, channels, codes and endpoints only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select, update

from outreach.channels.base import Outcome, SendResult
from outreach.clock import now as clock_now
from outreach.extensions import db
from outreach.models import Message
from outreach.operations import metrics
from outreach.sending import materialise as materialising
from outreach.sending import reconcile as reconciliation
from outreach.sending import run as sending
from tests.fakes import RecordingChannels
from tests.helpers import post_twilio
from tests.operations.conftest import TOKEN, bearer


def scrape(client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:  # noqa: ANN001
    """Every sample of /metrics: (name, sorted labels) -> value."""
    response = client.get("/metrics", headers=bearer())
    assert response.status_code == 200, response.status_code
    assert response.content_type.startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


def sample(name: str, **labels: str) -> float:
    """One in-process counter's current value (0 when never touched)."""
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def token(app):  # noqa: ANN001, ANN201
    app.config["OUTREACH_METRICS_TOKEN"] = TOKEN


def test_metrics_answer_404_when_no_token_is_configured(app, client):
    assert app.config["OUTREACH_METRICS_TOKEN"] == ""
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers=bearer()).status_code == 404


def test_metrics_need_the_right_bearer_token(token, client):
    missing = client.get("/metrics")
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
    assert client.get("/metrics", headers=bearer("not-the-token")).status_code == 403
    assert client.get("/metrics", headers=bearer(TOKEN + "x")).status_code == 403
    assert client.get("/metrics", headers=bearer()).status_code == 200


def test_queue_depth_comes_from_the_outbox_by_state_and_channel(token, client, due_campaign):
    materialising.materialise_due()
    email_ids = db.session.scalars(
        select(Message.id).where(Message.channel == "email").order_by(Message.id)
    ).all()
    db.session.execute(update(Message).where(Message.id == email_ids[0]).values(state="unknown"))
    db.session.execute(
        update(Message)
        .where(Message.id == email_ids[1])
        .values(state="sending", lease_until=clock_now() + timedelta(minutes=5))
    )
    db.session.commit()

    samples = scrape(client)

    def depth(state: str, channel: str) -> float:
        return samples[("outreach_queue_messages", (("channel", channel), ("state", state)))]

    assert depth("queued", "email") == 1
    assert depth("sending", "email") == 1
    assert depth("unknown", "email") == 1
    assert depth("queued", "sms") == 2
    assert depth("sending", "sms") == 0 and depth("unknown", "sms") == 0  # zeros are reported
    # Both steps were due at 10:00 New York (14:00 UTC); the clock is at 15:00 UTC.
    oldest = samples[("outreach_queue_oldest_due_seconds", (("channel", "email"),))]
    assert oldest == 3600


def test_a_dispatch_moves_the_send_error_and_latency_counters(token, app, client, due_campaign):
    refused = "p2@example.org"
    RecordingChannels(
        lambda to: (
            SendResult(0, Outcome.RETRY, error_code="429", retry_after=60)
            if to == refused
            else None
        )
    ).install(app)
    before = {
        "email": sample("outreach_sends_total", channel="email"),
        "sms": sample("outreach_sends_total", channel="sms"),
        "429": sample("outreach_provider_errors_total", channel="email", code="429"),
        "batches": sample("outreach_claim_to_send_seconds_count", channel="email"),
    }

    report = sending.dispatch_once()

    assert report.sent == 4 and report.retried == 1
    samples = scrape(client)
    sends = samples[("outreach_sends_total", (("channel", "email"),))]
    assert sends - before["email"] == 2
    assert samples[("outreach_sends_total", (("channel", "sms"),))] - before["sms"] == 2
    errors = samples[("outreach_provider_errors_total", (("channel", "email"), ("code", "429")))]
    assert errors - before["429"] == 1
    batches = samples[("outreach_claim_to_send_seconds_count", (("channel", "email"),))]
    assert batches - before["batches"] == 1
    text = client.get("/metrics", headers=bearer()).get_data(as_text=True)
    assert "example.org" not in text and "+1646" not in text  # no person in any label


def test_expired_leases_and_reconciliation_are_counted(token, client, clock, due_campaign):
    materialising.materialise_due()
    row = db.session.scalar(select(Message).where(Message.channel == "email").limit(1))
    row.state, row.lease_until, row.claimed_at = "sending", clock_now(), clock_now()
    db.session.commit()
    expired = sample("outreach_lease_expiries_total")
    waiting = sample("outreach_reconciled_total", outcome="waiting")
    clock.advance(seconds=1)

    from outreach.sending.claim import recover_expired_leases

    assert recover_expired_leases() == 1
    reconciliation.reconcile(sms_channel=object())  # the email row waits for events

    samples = scrape(client)
    assert samples[("outreach_lease_expiries_total", ())] - expired == 1
    assert samples[("outreach_reconciled_total", (("outcome", "waiting"),))] - waiting == 1


def test_webhooks_are_counted_by_endpoint_and_outcome(token, client):
    def webhooks(outcome: str) -> float:
        return sample("outreach_webhooks_total", endpoint="twilio_status", outcome=outcome)

    ok, forbidden = webhooks("ok"), webhooks("forbidden")
    params = {"MessageSid": "SM" + "5" * 32, "MessageStatus": "delivered"}
    assert post_twilio(client, "/webhooks/twilio/status", params).status_code == 204
    assert (
        post_twilio(client, "/webhooks/twilio/status", params, signature="bad").status_code == 403
    )
    assert webhooks("ok") - ok == 1
    assert webhooks("forbidden") - forbidden == 1
    samples = scrape(client)
    assert (
        samples[("outreach_webhooks_total", (("endpoint", "twilio_status"), ("outcome", "ok")))]
        >= 1
    )


def test_webhook_outcomes_and_odd_error_codes_stay_few():
    assert [metrics.webhook_outcome(s) for s in (200, 204, 400, 403, 413, 500, 503)] == [
        "ok",
        "ok",
        "rejected",
        "forbidden",
        "rejected",
        "error",
        "unavailable",
    ]
    before = sample("outreach_provider_errors_total", channel="sms", code="other")
    metrics.batch_recorded("sms", 0, ["bad code with spaces +1646"], None)
    assert sample("outreach_provider_errors_total", channel="sms", code="other") - before == 1
