"""The schema comes from migrations, matches the models, and enforces the key constraints."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from outreach.consent import suppression
from outreach.consent.ledger import LedgerIsAppendOnly
from outreach.database import compared_by_autogenerate
from outreach.extensions import db
from outreach.models import ConsentEvent, Message, Subscriber, Suppression
from tests.factories import make_audience, make_campaign, make_subscriber


def test_models_and_migrations_agree(app):
    with db.engine.connect() as conn:
        opts = {"compare_type": True, "include_object": compared_by_autogenerate}
        context = MigrationContext.configure(conn, opts=opts)
        diff = compare_metadata(context, db.metadata)
    assert diff == [], f"models and migrations disagree: {diff}"


def test_one_outbox_row_per_step_subscriber_channel(app):
    audience = make_audience()
    subscriber = make_subscriber(audience, email="a@example.org")
    campaign = make_campaign(audience, [{"channel": "email"}], schedule=False)
    step = campaign.steps[0]
    from outreach.models import utcnow

    row = {
        "campaign_id": campaign.id,
        "step_id": step.id,
        "subscriber_id": subscriber.id,
        "channel": "email",
        "due_at": utcnow(),
    }
    db.session.add(Message(**row))
    db.session.commit()
    db.session.add(Message(**row))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_one_suppression_per_channel_and_address(app):
    assert suppression.suppress("sms", "+19175550142", "sms_stop") is True
    assert suppression.suppress("sms", "+19175550142", "carrier_opt_out") is False
    db.session.commit()
    assert db.session.query(Suppression).count() == 1
    db.session.add(
        Suppression(
            channel="sms",
            address_hash=db.session.query(Suppression.address_hash).scalar(),
            reason="x",
        )
    )
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_email_and_phone_are_unique(app):
    db.session.add(Subscriber(email="a@example.org", phone="+19175550142"))
    db.session.commit()
    db.session.add(Subscriber(email="a@example.org"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    db.session.add(Subscriber(phone="+19175550142"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_ledger_rows_cannot_be_changed_by_the_orm_or_by_sql(app):
    audience = make_audience()
    make_subscriber(audience, email="a@example.org")
    row = db.session.query(ConsentEvent).first()
    row.note = "tampered"
    with pytest.raises(LedgerIsAppendOnly):
        db.session.commit()
    db.session.rollback()
    with pytest.raises(Exception, match="append-only"):
        db.session.execute(text("UPDATE consent_events SET note = 'x'"))
    db.session.rollback()
    with pytest.raises(Exception, match="append-only"):
        db.session.execute(text("DELETE FROM consent_events"))
    db.session.rollback()
    assert db.session.query(ConsentEvent).filter(ConsentEvent.note == "x").count() == 0
