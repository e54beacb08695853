"""Short versions of the benchmarks (bench/): correctness on the suite's database, not speed.

Each uses the benchmark's own building blocks (seeding, the timed worker, the load
generator's signed requests, the kill and restart loops with reconciliation) at a tiny
size, so `make bench` cannot rot unnoticed. The full runs and their figures: bench/README.md.
"""

from __future__ import annotations

import datetime as dt
import json
import random

import pytest
import sqlalchemy as sa

from bench import (
    clicks,
    emails,
    fanout,
    faults,
    faults_reconcile,
    faults_webhooks,
    memory,
    results_page,
    scaleout,
    webhooks,
)
from bench.common import (
    US_ZONES,
    FakeClient,
    bench_worker,
    make_audience,
    make_campaign,
    materialise,
    phone,
    seed,
    states,
    worker_env,
)
from outreach.campaigns import windows
from outreach.consent import tokens
from outreach.extensions import db
from outreach.sending import compose
from outreach.sending import run as sending
from outreach.tracking import codes
from tests.conftest import PG_URL
from tests.fakes.providers import FakeProviders
from tests.helpers import BASE_URL, TWILIO_TOKEN, sendgrid_headers


@pytest.fixture
def fake():
    with FakeProviders() as providers:
        yield providers


@pytest.fixture
def env(app, fake):
    return worker_env(app.config["SQLALCHEMY_DATABASE_URI"], fake.base_url)


def _count(sql: str) -> int:
    value = db.session.scalar(sa.text(sql))
    db.session.commit()
    return value


def test_fanout_5000_rows_once_per_subscriber_and_the_orm_baseline(app):
    audience_id = make_audience()
    seed(5_000, [audience_id], zones=US_ZONES)
    fanout._campaign(audience_id, "Fan-out")
    assert materialise(fanout.AT)[0] == 5_000
    assert materialise(fanout.AT)[0] == 0  # idempotent
    campaign_id, step_id = fanout._campaign(audience_id, "Baseline")
    fanout.orm_baseline(audience_id, campaign_id, step_id, 200)
    assert _count("SELECT count(*) FROM outbox_messages") == 5_200
    local_ten = {windows.local_to_utc(fanout.ANCHOR, dt.time(10), tz) for tz, _ in US_ZONES}
    assert _count("SELECT count(DISTINCT due_at) FROM outbox_messages") == len(local_ten)


def test_2000_emails_through_the_timed_worker_then_naive_and_ceiling(app, fake, env):
    audience_id = make_audience()
    seed(2_000, [audience_id])
    make_campaign(audience_id, "email")
    materialise()
    db.session.remove()
    result = bench_worker(env, "email")
    assert result["sent"] == 2_000 and result["rate"] > 0
    assert states() == {"sent": 2_000}
    assert fake.stats()["duplicate_emails"] == 0 and len(fake.sent_email_ids) == 2_000
    # One SendGrid request per claimed batch; on PostgreSQL the email lanes split a batch.
    lanes = sending.email_lanes(app.config) if db.engine.dialect.name == "postgresql" else 1
    assert fake.email_requests == [1000 // lanes] * 2 * lanes

    make_campaign(audience_id, "email", name="Naive")
    materialise()
    assert emails.naive_loop(fake.base_url, 0.2) > 0
    assert _count("SELECT count(*) FROM outbox_messages WHERE state = 'sent'") > 2_000
    assert emails.ceiling(fake.base_url, emails.prebuilt_bodies(1, 50), 50, 0.1) > 0


def test_emails_through_smtp_reach_the_local_relay_once_each(app, env):
    audience_id = make_audience()
    seed(60, [audience_id])
    result = emails.smtp_send(audience_id, env, 40)
    assert result["sent"] == 40 and result["relay_messages"] == 40
    assert result["relay_duplicates"] == 0 and result["connections"] >= 1
    assert _count("SELECT count(*) FROM outbox_messages") == 0  # cleared for the next phase


@pytest.mark.skipif(not PG_URL, reason="workers share the load through PostgreSQL")
def test_two_workers_started_together_send_every_email_once(app, fake, env):
    audience_id = make_audience()
    seed(400, [audience_id])
    make_campaign(audience_id, "email")
    materialise()
    db.session.remove()
    result = scaleout.send_with(2, {**env, "OUTREACH_BATCH_SIZE": "20"}, start_up=4.0)
    assert result["sent"] == 400 and sum(result["per_worker"]) == 400
    assert len(result["per_worker"]) == 2  # (how they share depends on start-up time)
    assert states() == {"sent": 400}
    assert fake.stats()["duplicate_emails"] == 0 and len(fake.sent_email_ids) == 400


def test_200_texts_through_the_timed_worker(app, fake, env):
    audience_id = make_audience()
    seed(200, [audience_id], channels=("sms",))
    make_campaign(audience_id, "sms")
    materialise()
    db.session.remove()
    result = bench_worker({**env, "OUTREACH_SMS_MPS": "0"}, "sms")
    assert result["sent"] == 200
    assert fake.stats()["sms"] == 200 and fake.stats()["duplicate_sms"] == 0
    assert len(fake.timeline()["sms"]) == 200


def test_the_results_page_benchmark_seeds_and_times_page_stats_and_api(app):
    campaign_id = results_page.seed_results(4_000, 300)
    assert _count("SELECT count(*) FROM outbox_messages") == 4_000
    assert _count("SELECT count(*) FROM link_clicks") == 300
    human = _count("SELECT count(*) FROM link_clicks WHERE human")
    assert 250 < human < 300  # one in ten a scanner's
    client = results_page.signed_in_client(app)
    db.session.remove()
    first, median, html = results_page.time_page(client, campaign_id, 1)
    assert first > 0 and median > 0
    assert 'id="funnel-chart"' in html and 'id="clicks-chart"' in html
    _, _, text = results_page.time_stats(app, campaign_id, 1)
    assert "outcomes:" in text and "step 1 link 1:" in text
    _, _, as_json = results_page.time_stats(app, campaign_id, 1, as_json=True)
    steps = json.loads(as_json)["steps"]
    _, _, answer = results_page.time_api(app, campaign_id, 1)
    assert answer["steps"] == steps
    # The clicks land on step 1's delivered emails; scanners' are not counted.
    assert [s["clicks"] for s in steps] == [human, 0, 0, 0]
    assert steps[0]["requests"] > 0 and steps[0]["opt_outs"] > 0
    assert sum(link["clicks"] for link in steps[0]["links"]) == human


def test_the_orm_loader_baseline_loads_due_rows_with_their_subscribers(app):
    audience_id = make_audience()
    seed(300, [audience_id])
    make_campaign(audience_id, "email")
    materialise()
    db.session.remove()
    assert memory._naive(app.config["SQLALCHEMY_DATABASE_URI"], 200) > 0


def test_20_signed_stops_record_one_opt_out_per_audience(app, client):
    audiences = [make_audience("a"), make_audience("b")]
    seed(20, audiences, channels=("sms",))
    requests_ = webhooks.stop_requests(
        [phone(i + 1) for i in range(20)], random.Random(2), BASE_URL, TWILIO_TOKEN, 0.25
    )
    assert len(requests_) > 20  # retries and second STOPs included
    for path, body, headers in requests_:
        assert client.post(path, data=body, headers=headers).status_code == 200
    revoked = db.session.execute(
        sa.text(
            "SELECT subscriber_id, count(*) FROM consent_events WHERE action = 'revoked' "
            "GROUP BY subscriber_id"
        )
    ).all()
    assert len(revoked) == 20 and {count for _, count in revoked} == {2}
    assert _count("SELECT count(*) FROM suppressions WHERE channel = 'sms'") == 20


def test_tracked_link_load_stores_every_click_and_counts_only_people(app, client):
    ids = clicks.sent_step(300)
    planned = clicks.plan(ids, 200, random.Random(3), codes.app_key())
    assert len({path for path, *_ in planned.requests}) > 150
    for path, _, headers, method in planned.requests:
        response = client.open(path, method=method, headers=headers)
        assert response.status_code == 302
    rows = _count("SELECT count(*) FROM link_clicks")
    human = _count("SELECT count(*) FROM link_clicks WHERE human")
    clicked = _count("SELECT count(*) FROM outbox_messages WHERE clicked_at IS NOT NULL")
    assert (rows, human, clicked) == (
        len(planned.requests),
        planned.human,
        planned.clicked_messages,
    )
    assert planned.human < rows  # scanners, HEADs and bursts were recorded, not counted


def test_a_signed_batch_of_events_is_applied(app, client):
    audience_id = make_audience()
    seed(300, [audience_id])
    make_campaign(audience_id, "email")
    materialise()
    db.session.execute(
        sa.text("UPDATE outbox_messages SET state = 'sent', provider_id = 'sg' || id")
    )
    db.session.commit()
    rows = db.session.execute(
        sa.text(
            "SELECT m.id, m.provider_id, s.email FROM outbox_messages m "
            "JOIN subscribers s ON s.id = m.subscriber_id"
        )
    ).all()
    (batch, *_) = webhooks._event_batches([tuple(r) for r in rows], 1000)
    body = json.dumps(batch)
    response = client.post(webhooks.EVENTS_PATH, data=body, headers=sendgrid_headers(body))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert _count("SELECT count(*) FROM delivery_events") == len(batch)
    assert _count("SELECT count(*) FROM outbox_messages WHERE state = 'delivered'") >= 290


def _signed_poster(client):  # noqa: ANN001, ANN202
    def post(body: bytes) -> int:
        text = body.decode()
        response = client.post(webhooks.EVENTS_PATH, data=text, headers=sendgrid_headers(text))
        return response.status_code

    return post


def test_sigkills_then_reconciliation_duplicate_lose_and_leave_unknown_nothing(app, client, fake):
    fake.configure(latency=0.01)
    run = faults_reconcile.kill_and_reconcile(
        app.config["SQLALCHEMY_DATABASE_URI"],
        FakeClient(fake.base_url),
        _signed_poster(client),
        kills=4,
        email_rows=1_500,
        sms_rows=300,
        batch=20,
        lease=1,
    )
    tally = run.tally
    assert run.kills == {"email": 2, "sms": 2}
    assert tally.duplicates == {"email": 0, "sms": 0}
    assert (tally.lost, tally.phantom, tally.pending, tally.unknown) == (0, 0, 0, 0)
    assert tally.rows == 1_800 and set(tally.states) <= {"sent", "delivered"}
    assert 0 < sum(run.unknown_before.values()) <= run.allowed  # one batch per kill at most
    # processed + delivered for every email accepted before reconciliation, all accepted
    assert run.events >= 2 * (1_500 - run.unknown_before["email"]) and not run.event_errors
    assert run.passes
    assert run.requeued == run.resent  # what was re-queued went out, once
    assert run.passed()
    figures = faults.kill_figures(run, 1_500, 300)
    assert [f.passed for f in figures] == [True, True, True, None]


def test_sigterm_restarts_mid_send_leave_nothing_unknown_or_doubled(app, fake):
    fake.configure(latency=0.01)
    run = faults_reconcile.sigterm_restarts(
        app.config["SQLALCHEMY_DATABASE_URI"],
        FakeClient(fake.base_url),
        restarts=4,
        email_rows=600,
        sms_rows=200,
        batch=20,
        lease=1,
    )
    assert run.restarts == {"email": 2, "sms": 2}
    assert not any(loop.unclean for loop in run.loops) and run.left_sending == 0
    assert run.tally.clean() and run.tally.rows == 800
    assert faults.term_figure(run).passed is True


def test_fast_link_signer_makes_exactly_the_tokens_of_link_token(app):
    from outreach.models import Audience

    audience = Audience(slug="migraine-awareness", name="Migraine")
    for public_id in ("0" * 32, f"{5:032x}", "ab" * 16, "f00d" * 8):
        for channel in ("email", "sms"):
            links = compose.personal_links(public_id, audience, channel)
            link = tokens.LinkToken(public_id, audience.slug, channel)
            for purpose in ("unsubscribe", "preferences"):
                token = tokens.link_token(link, purpose)
                assert links[f"{purpose}_url"] == tokens.public_url(f"/{purpose}/{token}")
                assert tokens.read_link_token(token, purpose) == link


@pytest.mark.skipif(not PG_URL, reason="the outage is simulated in front of PostgreSQL")
def test_webhooks_through_a_database_outage_acknowledge_only_what_was_stored(app):
    # gunicorn in its own process, on this test's database through a proxy that is cut,
    # then silent (the shared server is never restarted), then back.
    run = faults_webhooks.webhook_outage(
        app.config["SQLALCHEMY_DATABASE_URI"], faults_webhooks.QUICK
    )
    statuses = run.statuses()
    assert not run.unstored_acks()  # no 2xx for anything the database does not hold
    stops = [job for job in run.jobs if job.kind == "stop"]
    assert stops and all(job.applied for job in stops)  # every STOP, after its retries
    assert all(job.applied for job in run.jobs) and not run.doubled
    assert set(statuses) <= {200, 503} and statuses[503] > 0  # no 500, no lost answer
    assert any(job.retried for job in stops) and not run.server_errors
    outage = run.outage_answers()
    assert outage and max(a.seconds for a in outage) < faults_webhooks.ANSWER_TARGET_SECONDS
    assert run.passed() and [f.passed for f in faults_webhooks.figures(run)] == [True] * 4
