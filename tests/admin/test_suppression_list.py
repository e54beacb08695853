"""The suppression list page: search (by address, or by hash for an erased one), filters,
and removal only of what staff may lift, with a reason in the consent ledger."""

from __future__ import annotations

from sqlalchemy import select

from outreach.consent import suppression
from outreach.extensions import db
from outreach.models import AuditLog, ConsentEvent, Suppression
from tests.admin.support import post, text
from tests.factories import make_audience, make_subscriber


def entry(channel: str, address: str) -> Suppression:
    return db.session.scalar(select(Suppression).filter_by(channel=channel, address=address))


def seed() -> None:
    audience = make_audience()
    make_subscriber(audience, email="ann@example.org", phone="+19175550142")
    suppression.suppress("email", "ann@example.org", "hard_bounce")
    suppression.suppress("sms", "+19175550142", "sms_stop")
    suppression.suppress("email", "gone@example.org", "erased", keep_address=False)
    db.session.commit()


def test_search_and_filter(viewer):
    seed()
    page = text(viewer.get("/admin/suppressions"))
    assert "ann@example.org" in page and "+19175550142" in page and "(erased" in page
    assert "replied STOP" in page and "hard bounce" in page
    by_phone = text(viewer.get("/admin/suppressions?q=(917) 555-0142"))
    assert "+19175550142" in by_phone and "ann@example.org" not in by_phone
    erased = text(viewer.get("/admin/suppressions?q=gone@example.org"))
    assert "(erased: kept as a hash)" in erased and "ann@example.org" not in erased
    stops = text(viewer.get("/admin/suppressions?reason=sms_stop"))
    assert "+19175550142" in stops and "ann@example.org" not in stops
    assert "Remove" not in page  # viewers read only


def test_a_hard_bounce_is_lifted_with_a_reason_in_the_ledger(editor):
    seed()
    bounce = entry("email", "ann@example.org")
    confirm = text(editor.get(f"/admin/suppressions/{bounce.id}/remove"))
    assert "Contact this address again?" in confirm

    no_reason = post(
        editor, f"/admin/suppressions/{bounce.id}/remove", {"confirm": "yes"}, follow_redirects=True
    )
    assert "say why the address may be contacted again" in text(no_reason)
    assert entry("email", "ann@example.org") is not None

    done = post(
        editor,
        f"/admin/suppressions/{bounce.id}/remove",
        {"confirm": "yes", "reason": "Mailbox fixed after the mail server move"},
    )
    assert done.status_code == 303
    db.session.expire_all()
    assert entry("email", "ann@example.org") is None
    assert not suppression.is_suppressed("email", "ann@example.org")
    row = db.session.scalar(select(ConsentEvent).filter_by(action="unsuppressed"))
    assert row.channel == "email" and "Mailbox fixed" in row.note and row.actor_id is not None
    assert db.session.scalar(select(AuditLog).filter_by(action="suppression.remove"))


def test_a_stop_is_never_lifted_by_staff(editor):
    seed()
    stop = entry("sms", "+19175550142")
    assert "Remove" not in text(editor.get("/admin/suppressions?reason=sms_stop"))
    refused = post(
        editor,
        f"/admin/suppressions/{stop.id}/remove",
        {"confirm": "yes", "reason": "They asked us on the phone"},
        follow_redirects=True,
    )
    assert "only the person can lift this entry" in text(refused)
    db.session.expire_all()
    assert suppression.is_suppressed("sms", "+19175550142")
    assert db.session.scalar(select(ConsentEvent).filter_by(action="unsuppressed")) is None


def test_viewers_cannot_remove(viewer):
    seed()
    bounce = entry("email", "ann@example.org")
    answer = post(
        viewer,
        f"/admin/suppressions/{bounce.id}/remove",
        {"confirm": "yes", "reason": "Mailbox fixed"},
    )
    assert answer.status_code == 403
