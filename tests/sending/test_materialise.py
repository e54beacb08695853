"""Materialisation: due steps become outbox rows, per time zone, idempotently."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, func, select

from outreach.campaigns import lifecycle
from outreach.consent import ledger as consent_ledger
from outreach.consent import subscriptions
from outreach.extensions import db
from outreach.models import Message, Subscription
from outreach.sending import materialise as materialising
from tests.factories import make_audience, make_campaign, make_subscriber

ZONES = {
    "Pacific/Honolulu": "+18082014455",
    "America/New_York": "+16462014455",
    "Asia/Kolkata": "+919876543210",
    "Australia/Lord_Howe": "+61412345678",
}


def _rows() -> list[Message]:
    return list(db.session.scalars(select(Message).order_by(Message.id)))


@pytest.fixture
def world(app, clock):
    clock.set(datetime(2027, 5, 20, tzinfo=UTC))
    audience = make_audience()
    people = {
        tz: make_subscriber(
            audience, email=f"{tz.split('/')[1].lower()}@example.org", phone=phone, timezone=tz
        )
        for tz, phone in ZONES.items()
    }
    campaign = make_campaign(
        audience, [{"channel": "email", "day_offset": 0, "send_time": "10:00"}]
    )
    return audience, people, campaign


def test_each_zone_gets_its_own_local_ten_oclock(world, clock):
    _, people, _ = world
    expected = {
        "Asia/Kolkata": datetime(2027, 6, 1, 4, 30, tzinfo=UTC),
        "Australia/Lord_Howe": datetime(2027, 5, 31, 23, 30, tzinfo=UTC),  # +10:30 in June
        "America/New_York": datetime(2027, 6, 1, 14, 0, tzinfo=UTC),
        "Pacific/Honolulu": datetime(2027, 6, 1, 20, 0, tzinfo=UTC),
    }
    clock.set(datetime(2027, 6, 2, tzinfo=UTC))
    materialising.materialise_due()
    due = {row.subscriber_id: row.due_at for row in _rows()}
    for tz, when in expected.items():
        assert due[people[tz].id] == when, tz


def test_rows_appear_zone_by_zone_as_the_day_moves_west(world, clock):
    _, people, _ = world
    clock.set(datetime(2027, 5, 31, 23, 45, tzinfo=UTC))  # 10:15 on Lord Howe only
    materialising.materialise_due()
    assert [r.subscriber_id for r in _rows()] == [people["Australia/Lord_Howe"].id]
    clock.set(datetime(2027, 6, 1, 14, 1, tzinfo=UTC))
    materialising.materialise_due()
    got = {r.subscriber_id for r in _rows()}
    assert got == {
        people[tz].id for tz in ("Australia/Lord_Howe", "Asia/Kolkata", "America/New_York")
    }


def _insert_statements(per_zone: bool = False) -> tuple[int, list[str]]:
    """Rows added by one tick and the outbox INSERT statements it sent."""
    statements: list[str] = []

    def count(conn, cursor, statement, *args):  # noqa: ANN001, ANN202
        if "INSERT INTO OUTBOX_MESSAGES" in statement.upper():
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        added = materialising.materialise_due(per_zone=per_zone)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return added, statements


def test_one_insert_statement_per_step_not_per_subscriber_or_zone(world, clock):
    audience, _, _ = world
    for n in range(30):
        make_subscriber(audience, email=f"ny{n}@example.org", timezone="America/New_York")
    clock.set(datetime(2027, 6, 2, tzinfo=UTC))
    added, statements = _insert_statements()
    assert added == 34
    assert len(statements) == 1


def test_the_per_zone_path_sends_one_statement_per_zone(world, clock):
    audience, _, _ = world
    for n in range(30):
        make_subscriber(audience, email=f"ny{n}@example.org", timezone="America/New_York")
    clock.set(datetime(2027, 6, 2, tzinfo=UTC))
    added, statements = _insert_statements(per_zone=True)
    assert added == 34
    assert len(statements) == len(ZONES)


def test_materialising_twice_adds_nothing(world, clock):
    clock.set(datetime(2027, 6, 2, tzinfo=UTC))
    assert materialising.materialise_due() == 4
    assert materialising.materialise_due() == 0
    assert len(_rows()) == 4


def test_only_active_confirmed_subscriptions(world, clock):
    audience, people, _ = world
    sub = db.session.scalar(
        select(Subscription).filter_by(subscriber_id=people["Asia/Kolkata"].id, channel="email")
    )
    subscriptions.revoke(sub, consent_ledger.Evidence(source="admin"))
    make_subscriber(audience, email="pending@example.org", confirmed=False)
    db.session.commit()
    clock.set(datetime(2027, 6, 2, tzinfo=UTC))
    materialising.materialise_due()
    ids = {r.subscriber_id for r in _rows()}
    assert people["Asia/Kolkata"].id not in ids
    assert len(ids) == 3


def test_late_joiner_does_not_get_a_past_calendar_step(world, clock):
    audience, _, campaign = world
    clock.set(datetime(2027, 6, 1, 16, 0, tzinfo=UTC))  # after 10:00 in New York
    materialising.materialise_due()
    late = make_subscriber(audience, email="late@example.org", timezone="America/New_York")
    materialising.materialise_due()
    assert late.id not in {r.subscriber_id for r in _rows()}
    campaign.steps[0].include_late_joiners = True
    db.session.commit()
    materialising.materialise_due()
    assert late.id in {r.subscriber_id for r in _rows()}


def test_subscriber_who_joins_before_the_local_time_still_gets_it(world, clock):
    audience, _, _ = world
    clock.set(datetime(2027, 6, 1, 12, 0, tzinfo=UTC))  # 08:00 in New York
    materialising.materialise_due()
    early = make_subscriber(audience, email="early@example.org", timezone="America/New_York")
    clock.set(datetime(2027, 6, 1, 14, 5, tzinfo=UTC))
    materialising.materialise_due()
    assert early.id in {r.subscriber_id for r in _rows()}


def test_confirmation_anchored_step_uses_each_confirmation_time(app, clock):
    audience = make_audience()
    clock.set(datetime(2027, 6, 1, 12, 0, tzinfo=UTC))
    campaign = make_campaign(
        audience,
        [{"channel": "email", "after_minutes": 0}, {"channel": "email", "after_minutes": 90}],
        anchor=None,
        anchor_kind="confirmation",
    )
    clock.advance(minutes=10)
    person = make_subscriber(audience, email="new@example.org")
    materialising.materialise_due()
    rows = _rows()
    assert [(r.step_id, r.due_at) for r in rows] == [(campaign.steps[0].id, clock.current)]
    clock.advance(minutes=89)
    materialising.materialise_due()
    assert len(_rows()) == 2
    second = [r for r in _rows() if r.step_id == campaign.steps[1].id][0]
    assert abs(
        second.due_at - (clock.current - timedelta(minutes=89) + timedelta(minutes=90))
    ) < timedelta(seconds=1)
    assert second.subscriber_id == person.id


def test_subscribers_confirmed_before_a_welcome_series_started_are_not_enrolled(app, clock):
    audience = make_audience()
    clock.set(datetime(2027, 6, 1, 12, 0, tzinfo=UTC))
    make_subscriber(audience, email="old@example.org")
    clock.advance(hours=1)
    make_campaign(
        audience,
        [{"channel": "email", "after_minutes": 0}],
        anchor=None,
        anchor_kind="confirmation",
    )
    materialising.materialise_due()
    assert db.session.scalar(select(func.count(Message.id))) == 0


def test_draft_and_paused_campaigns_do_not_materialise(world, clock):

    _, _, campaign = world
    lifecycle.pause(campaign, "checking copy")
    db.session.commit()
    clock.set(datetime(2027, 6, 2, tzinfo=UTC))
    assert materialising.materialise_due() == 0
    lifecycle.resume(campaign)
    db.session.commit()
    assert materialising.materialise_due() == 4
