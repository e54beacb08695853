"""The subscriber list past the first 50 (keyset pages, newest first), its filters, editing a
profile (name, time zone, language: never consent) and resending a confirmation."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from outreach.extensions import db
from outreach.models import AuditLog, ConsentEvent, Subscriber, Subscription
from tests.admin.support import post, text
from tests.factories import make_audience, make_subscriber

EMAIL = re.compile(r"p(\d+)@example\.org")


def listed(page: str) -> list[int]:
    return [int(n) for n in EMAIL.findall(page)]


def test_pages_of_fifty_newest_first_until_the_last(viewer):
    audience = make_audience()
    for i in range(120):
        make_subscriber(audience, email=f"p{i}@example.org", channels=("email",))
    first = viewer.get("/admin/subscribers")
    assert listed(text(first)) == list(range(119, 69, -1))
    next_url = re.search(r'href="([^"]+)" rel="next"', first.get_data(as_text=True)).group(1)
    second = viewer.get(next_url.replace("&amp;", "&"))
    assert listed(text(second)) == list(range(69, 19, -1))
    third_url = re.search(r'href="([^"]+)" rel="next"', second.get_data(as_text=True)).group(1)
    third = viewer.get(third_url.replace("&amp;", "&"))
    assert listed(text(third)) == list(range(19, -1, -1))
    assert 'rel="next"' not in third.get_data(as_text=True)
    assert "First page" in text(third)


def test_filters_by_audience_channel_state_language_and_signup_date(viewer, clock):
    june = make_audience()
    clinic = make_audience(slug="clinic-news", name="Clinic news")
    make_subscriber(june, email="p1@example.org", phone="+19175550101")
    make_subscriber(june, email="p2@example.org", channels=("email",), language="es")
    make_subscriber(clinic, email="p3@example.org", channels=("email",), confirmed=False)
    clock.set(datetime(2027, 6, 20, 15, tzinfo=UTC))
    make_subscriber(june, email="p4@example.org", phone="+19175550104", channels=("sms",))

    def found(**args) -> list[int]:  # noqa: ANN003
        return sorted(listed(text(viewer.get("/admin/subscribers", query_string=args))))

    assert found(audience=clinic.id) == [3]
    assert found(channel="sms") == [1, 4]
    assert found(state="pending") == [3]
    assert found(audience=june.id, channel="email", state="active") == [1, 2]
    assert found(language="es") == [2]
    assert found(since="2027-06-10") == [4]
    assert found(until="2027-06-01") == [1, 2, 3]
    assert found(q="p2", language="en") == []
    assert found(state="nonsense", language="xx", since="June") == [1, 2, 3, 4]  # ignored


def test_editing_a_profile_changes_name_zone_language_and_never_consent(editor):
    audience = make_audience()
    ann = make_subscriber(audience, email="ann@example.org", phone="+19175550142")
    ledger_before = db.session.query(ConsentEvent).count()
    form = editor.get(f"/admin/subscribers/{ann.id}/edit")
    assert 'value="America/New_York"' in form.get_data(as_text=True)

    bad = post(
        editor,
        f"/admin/subscribers/{ann.id}/edit",
        {"first_name": "Ana", "timezone": "Mars/Olympus", "language": "fr"},
    )
    assert bad.status_code == 422
    page = text(bad)
    assert (
        "choose a time zone such as America/Chicago" in page and "choose English or Spanish" in page
    )
    assert 'value="Ana"' in bad.get_data(as_text=True)  # what was typed stays
    db.session.expire_all()
    assert db.session.get(Subscriber, ann.id).first_name == "Ann"

    saved = post(
        editor,
        f"/admin/subscribers/{ann.id}/edit",
        {"first_name": "Ana <b>", "timezone": "America/Chicago", "language": "es"},
    )
    assert saved.status_code == 303
    db.session.expire_all()
    person = db.session.get(Subscriber, ann.id)
    assert (person.first_name, person.timezone, person.language) == (
        "Ana b",
        "America/Chicago",
        "es",
    )
    assert db.session.query(ConsentEvent).count() == ledger_before
    entry = db.session.scalar(select(AuditLog).filter_by(action="subscriber.update"))
    assert entry.detail == "first_name, timezone, language"  # field names, not the values
    assert "Spanish" in text(editor.get(f"/admin/subscribers/{ann.id}"))


def test_viewers_cannot_edit(viewer):
    audience = make_audience()
    ann = make_subscriber(audience, email="ann@example.org")
    answer = post(
        viewer,
        f"/admin/subscribers/{ann.id}/edit",
        {"first_name": "X", "timezone": "America/Chicago", "language": "en"},
    )
    assert answer.status_code == 403


def test_resend_confirmation_for_a_pending_subscription(editor, app):
    audience = make_audience()
    ann = make_subscriber(audience, email="ann@example.org", channels=("email",), confirmed=False)
    sub = db.session.scalar(select(Subscription).filter_by(subscriber_id=ann.id))
    mailbox = app.config["OUTREACH_DEV_MAILBOX"]

    before = len(list(Path(mailbox).glob("*"))) if Path(mailbox).exists() else 0
    page = text(editor.get(f"/admin/subscribers/{ann.id}"))
    assert "Resend confirmation" in page
    answer = post(
        editor, f"/admin/subscriptions/{sub.id}/resend-confirmation", follow_redirects=True
    )
    assert "Confirmation request sent again." in text(answer)
    assert len(list(Path(mailbox).glob("*"))) == before + 1
    assert db.session.scalar(select(AuditLog).filter_by(action="subscription.resend_confirmation"))

    sub.state = "active"
    db.session.commit()
    again = post(
        editor, f"/admin/subscriptions/{sub.id}/resend-confirmation", follow_redirects=True
    )
    assert "no longer pending; nothing was sent" in text(again)
