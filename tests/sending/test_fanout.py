"""The one-statement fan-out (sending/fanout.py) against the per-zone path it replaces."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, select, text, true

from outreach import database
from outreach.campaigns import lifecycle
from outreach.consent import ledger as consent_ledger
from outreach.consent import subscriptions
from outreach.extensions import db
from outreach.models import Message, StepZone, Subscription
from outreach.sending import fanout
from outreach.sending import materialise as materialising
from tests.factories import make_subscriber
from tests.sending.test_materialise import world  # noqa: F401

LORD_HOWE_TEN = datetime(2027, 5, 31, 23, 45, tzinfo=UTC)  # 10:15 there, before anywhere else
NEXT_DAY = datetime(2027, 6, 2, tzinfo=UTC)


def _rows() -> dict[int, datetime]:
    db.session.expire_all()
    return {m.subscriber_id: m.due_at for m in db.session.scalars(select(Message))}


@pytest.mark.parametrize("first_per_zone", [True, False])
def test_either_path_after_the_other_adds_nothing(world, clock, first_per_zone):  # noqa: F811
    clock.set(NEXT_DAY)
    assert materialising.materialise_due(per_zone=first_per_zone) == 4
    assert materialising.materialise_due(per_zone=not first_per_zone) == 0
    assert materialising.materialise_due() == 0
    assert len(_rows()) == 4


def test_both_paths_give_the_same_rows_and_due_times(world, clock):  # noqa: F811
    audience, _, _ = world
    make_subscriber(audience, email="also-ny@example.org", timezone="America/New_York")
    clock.set(NEXT_DAY)
    materialising.materialise_due()
    new = _rows()
    db.session.execute(text("DELETE FROM outbox_messages"))
    db.session.execute(text("DELETE FROM step_zones"))
    db.session.commit()
    materialising.materialise_due(per_zone=True)
    assert _rows() == new


def test_a_zone_is_done_once_its_time_has_come_and_later_zones_follow(world, clock):  # noqa: F811
    _, people, campaign = world
    clock.set(LORD_HOWE_TEN)
    assert materialising.materialise_due() == 1
    done = set(db.session.scalars(select(StepZone.timezone)))
    assert done == {"Australia/Lord_Howe"}
    clock.set(NEXT_DAY)
    assert materialising.materialise_due() == 3
    assert set(_rows()) == {p.id for p in people.values()}


def test_an_unknown_zone_name_gets_the_audience_default_zone_time(world, clock):  # noqa: F811
    audience, _, _ = world
    person = make_subscriber(audience, email="nowhere@example.org")
    person.timezone = "Mars/Olympus_Mons"
    db.session.commit()
    clock.set(NEXT_DAY)
    materialising.materialise_due()
    default_ten = lifecycle.step_due_at(world[2], world[2].steps[0], audience.default_timezone)
    assert _rows()[person.id] == default_ten


def test_withdrawn_consent_erased_and_unreachable_people_get_no_row(world, clock):  # noqa: F811
    audience, people, _ = world
    sub = db.session.scalar(
        select(Subscription).filter_by(subscriber_id=people["Asia/Kolkata"].id, channel="email")
    )
    subscriptions.revoke(sub, consent_ledger.Evidence(source="admin"))
    people["Pacific/Honolulu"].erased_at = NEXT_DAY
    db.session.commit()
    clock.set(NEXT_DAY)
    assert materialising.materialise_due() == 2
    assert set(_rows()) == {people["America/New_York"].id, people["Australia/Lord_Howe"].id}


def test_late_joiners_are_added_to_done_zones_only_when_the_step_takes_them(world, clock):  # noqa: F811
    audience, _, campaign = world
    clock.set(NEXT_DAY)
    materialising.materialise_due()
    late = make_subscriber(audience, email="late@example.org", timezone="Asia/Kolkata")
    assert materialising.materialise_due() == 0
    campaign.steps[0].include_late_joiners = True
    db.session.commit()
    assert materialising.materialise_due() == 1
    assert _rows()[late.id] == datetime(2027, 6, 1, 4, 30, tzinfo=UTC)  # Kolkata's 10:00
    assert materialising.materialise_due() == 0


def test_a_row_that_appears_anyway_does_not_fail_the_tick(world, clock, monkeypatch):  # noqa: F811
    clock.set(LORD_HOWE_TEN)
    assert materialising.materialise_due(per_zone=True) == 1
    # As if another inserter without the lock had just added that row: no anti-join.
    monkeypatch.setattr(fanout, "_not_there", lambda step: true())
    clock.set(NEXT_DAY)
    assert materialising.materialise_due() == 3
    assert len(_rows()) == 4


def test_a_step_another_session_is_fanning_out_is_left_to_the_next_tick(app, world, clock):  # noqa: F811
    if not database.is_postgres():
        pytest.skip("the fan-out lock is PostgreSQL's (SQLite has one writer)")
    step = world[2].steps[0]
    other = create_engine(db.engine.url)
    try:
        with other.connect() as conn:
            conn.execute(
                text("SELECT pg_advisory_xact_lock(:kind, :step)"),
                {"kind": fanout.FANOUT_LOCK_CLASS, "step": step.id},
            )
            clock.set(NEXT_DAY)
            assert materialising.materialise_due() == 0
            conn.rollback()
        assert materialising.materialise_due() == 4
    finally:
        other.dispose()
