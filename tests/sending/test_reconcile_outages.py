"""Reconciliation when things go wrong while it runs: Twilio unreachable, the database
gone mid-pass, a SendGrid event that settles a request while the pass decides about it."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError

from outreach.extensions import db
from outreach.sending import reconcile
from outreach.sending import run as sending
from tests.helpers import post_sendgrid
from tests.sending import test_reconcile as case
from tests.sending.test_reconcile import (
    answers_lost,
    email_campaign,
    event,
    history,
    june_first,
    people,
    rows,
    run_reconcile,
    sms_campaign,
)

fake = case.fake
audience = case.audience


def test_twilio_unreachable_leaves_rows_unknown_until_it_answers_again(
    app, cli, clock, fake, audience
):
    people(audience, 2)
    sms_campaign(audience)
    june_first(clock, fake)
    answers_lost(fake)
    clock.advance(minutes=20)  # past the listing delay: only an answer may re-queue
    real_base = app.config["TWILIO_API_BASE"]
    app.config["TWILIO_API_BASE"] = "http://127.0.0.1:9"  # nothing listens: refused
    app.extensions.pop("outreach.channels", None)

    output = run_reconcile(cli)

    assert "2 provider errors" in output and "0 re-queued" in output
    assert {m.state for m in rows()} == {"unknown"}
    assert all("could not reach Twilio" in m.error_detail for m in rows())

    app.config["TWILIO_API_BASE"] = real_base
    app.extensions.pop("outreach.channels", None)
    assert "2 sent" in run_reconcile(cli)
    assert fake.stats()["sms"] == 2 and fake.stats()["duplicate_sms"] == 0


def test_a_database_failure_mid_pass_loses_nothing_and_the_next_pass_finishes(
    app, cli, clock, fake, audience, monkeypatch
):
    people(audience, 2)
    sms_campaign(audience)
    june_first(clock, fake)
    answers_lost(fake)
    clock.advance(minutes=20)
    real_commit = db.session.commit
    calls = {"n": 0}

    def lost_on_the_text_pass() -> None:
        calls["n"] += 1
        if calls["n"] == 2:  # the email half commits first, then the texts' moves are lost
            raise OperationalError("COMMIT", {}, Exception("server closed the connection"))
        real_commit()

    monkeypatch.setattr(db.session, "commit", lost_on_the_text_pass)
    result = cli.invoke(args=["outreach", "reconcile"])
    assert result.exit_code != 0
    monkeypatch.setattr(db.session, "commit", real_commit)
    db.session.rollback()
    assert {m.state for m in rows()} == {"unknown"}  # rolled back, not half-moved
    assert all(history(m) == [] for m in rows())

    assert "2 sent" in run_reconcile(cli)
    assert {m.state for m in rows()} == {"sent"}
    assert all(history(m) == ["reconciled_sent"] for m in rows())


def test_an_event_that_settles_the_request_during_the_pass_wins_over_a_requeue(
    app, cli, client, clock, fake, audience, monkeypatch
):
    people(audience, 2)
    email_campaign(audience)
    june_first(clock, fake)
    fake.configure(accepted_error_rate=1.0, keep_bodies=True)  # SendGrid took it; answer lost
    assert sending.dispatch_once().unknown == 2
    fake.configure(accepted_error_rate=0.0)
    lost = rows()
    clock.advance(minutes=1)
    people(audience, 1, start=10)
    assert sending.dispatch_once().sent == 1
    later = [m for m in rows() if m.state == "sent"][0]
    post_sendgrid(client, [event(later, "processed", later.claim_id)])
    clock.advance(minutes=40)  # past the horizon: the pass would re-queue the request...

    real = reconcile.latest_reported_send

    def event_arrives_meanwhile():  # noqa: ANN202
        answer = real()
        # ...but its delayed "delivered" event lands while the pass reads the rows.
        response = post_sendgrid(client, [event(lost[0], "delivered", lost[0].claim_id)])
        assert response.status_code in (200, 204)
        return answer

    monkeypatch.setattr(reconcile, "latest_reported_send", event_arrives_meanwhile)
    output = run_reconcile(cli)

    assert "0 re-queued" in output
    states = {m.id: m.state for m in rows() if m.id in {x.id for x in lost}}
    assert sorted(states.values()) == ["delivered", "sent"]
    assert sending.dispatch_once().sent == 0
    assert fake.stats()["duplicate_emails"] == 0
