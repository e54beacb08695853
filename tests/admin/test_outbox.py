"""The staff view of reconciliation: the results page counts ``unknown`` and re-queued rows
with their reasons, ``/admin/outbox`` lists rows with their history, and an admin settles
a row by hand (mark sent / re-queue) behind a confirmation, audit-logged."""

from __future__ import annotations

from sqlalchemy import select

from outreach.extensions import db
from outreach.models import AuditLog
from outreach.sending import reconcile, settle
from outreach.sending import run as sending
from tests.admin.support import post, text
from tests.helpers import post_twilio
from tests.sending import test_reconcile as case
from tests.sending.test_reconcile import (
    email_campaign,
    history,
    june_first,
    people,
    rows,
    run_reconcile,
    sms_campaign,
)

# The fake providers and the audience, as the reconciliation tests set them up.
fake = case.fake
audience = case.audience


def lost_texts(clock, fake, audience, count: int = 2) -> object:  # noqa: ANN001
    """Texts lost on the way to Twilio (a gateway 504 before Twilio took them)."""
    people(audience, count)
    campaign = sms_campaign(audience)
    june_first(clock, fake)
    fake.fail_next(count, status=504, api="sms")
    assert sending.dispatch_once().unknown == count
    return campaign


def audit_actions() -> list[tuple[str, str]]:
    db.session.expire_all()
    return [
        (row.action, row.target_id)
        for row in db.session.scalars(
            select(AuditLog).where(AuditLog.action.like("message.%")).order_by(AuditLog.id)
        )
    ]


def test_results_page_counts_unknown_then_requeued_rows_with_reasons(
    app, admin, cli, clock, fake, audience
):
    campaign = lost_texts(clock, fake, audience)
    (reason,) = {m.error_detail for m in rows()}

    page = admin.get(f"/admin/campaigns/{campaign.id}/results")
    assert page.status_code == 200
    body = text(page)
    assert f"Step 1 (sms): 2 unknown — {reason}" in body
    assert f"/admin/outbox?state=unknown&amp;campaign={campaign.id}" in page.get_data(True)

    clock.advance(minutes=15)
    run_reconcile(cli)
    body = text(admin.get(f"/admin/campaigns/{campaign.id}/results"))
    assert "unknown —" not in body
    assert f"Step 1 (sms): 2 re-queued — {reconcile.SMS_ABSENT}" in body
    numbers = admin.get(f"/admin/campaigns/{campaign.id}/results.json").get_json()
    assert numbers["reconciliation"]["unknown"] == 0
    assert numbers["reconciliation"]["requeued"] == 2


def test_results_page_says_why_email_waits_when_sendgrid_reports_nothing(
    app, admin, cli, clock, fake, audience
):
    people(audience, 2)
    campaign = email_campaign(audience)
    june_first(clock, fake)
    fake.fail_next(1, status=504, api="email")
    assert sending.dispatch_once().unknown == 2
    clock.advance(minutes=40)  # past the horizon, and no event webhook has ever reported
    run_reconcile(cli)
    body = text(admin.get(f"/admin/campaigns/{campaign.id}/results"))
    assert f"Step 1 (email): 2 unknown — {reconcile.EMAIL_NO_NEWS}" in body
    assert {m.state for m in rows()} == {"unknown"}


def test_outbox_lists_unknown_rows_with_names_reasons_and_history(
    app, viewer, cli, clock, fake, audience
):
    campaign = lost_texts(clock, fake, audience)
    clock.advance(minutes=2)
    run_reconcile(cli)  # too early to call them absent: they wait, saying why

    page = viewer.get(f"/admin/outbox?state=unknown&campaign={campaign.id}")
    assert page.status_code == 200
    body = text(page)
    assert "2 rows" in body and campaign.name in body
    assert body.count(reconcile.SMS_WAITING) == 2
    assert "June is Migraine" in body  # the step is named by its text, not an id
    assert "Mark sent" not in body  # only admins settle rows

    clock.advance(minutes=15)
    run_reconcile(cli)
    assert "No unknown rows" in text(viewer.get(f"/admin/outbox?campaign={campaign.id}"))
    queued = text(viewer.get(f"/admin/outbox?state=queued&campaign={campaign.id}"))
    assert "2 rows" in queued and "outreach · requeued" in queued
    assert viewer.get("/admin/outbox?state=nonsense").status_code == 404


def test_admin_marks_a_row_sent_after_confirming_and_it_is_never_sent_again(
    app, admin, clock, fake, audience
):
    lost_texts(clock, fake, audience, count=1)
    (message,) = rows()
    url = f"/admin/outbox/{message.id}/mark-sent"

    confirm = admin.get(url)
    assert confirm.status_code == 200 and "checking with the provider" in text(confirm)
    post(admin, url, {"reason": "seen in Twilio logs"})  # no confirm=yes: nothing happens
    assert rows()[0].state == "unknown" and audit_actions() == []

    done = post(admin, url, {"confirm": "yes", "reason": "seen in Twilio logs"})
    assert done.status_code == 303
    (after,) = rows()
    assert after.state == "sent" and after.sent_at == after.claimed_at
    assert after.error_detail == f"{settle.MARKED_SENT}: seen in Twilio logs"
    assert history(after) == ["marked_sent"]
    assert audit_actions() == [("message.mark_sent", str(message.id))]
    assert sending.dispatch_once().sent == 0 and fake.stats()["sms"] == 0


def test_admin_requeues_a_row_and_it_is_sent_once(app, admin, clock, fake, audience):
    lost_texts(clock, fake, audience, count=1)
    (message,) = rows()
    post(admin, f"/admin/outbox/{message.id}/requeue", {"confirm": "yes", "reason": ""})
    (after,) = rows()
    assert after.state == "queued" and after.requeued_at is not None
    assert history(after) == ["requeued_by_hand"]
    assert audit_actions() == [("message.requeue", str(message.id))]
    assert sending.dispatch_once().sent == 1
    assert fake.stats()["sms"] == 1 and fake.stats()["duplicate_sms"] == 0
    # Settled rows offer nothing more: a second attempt changes nothing.
    post(admin, f"/admin/outbox/{message.id}/requeue", {"confirm": "yes"})
    assert rows()[0].state == "sent" and len(audit_actions()) == 1


def test_only_admins_settle_rows(app, editor, viewer, clock, fake, audience):
    lost_texts(clock, fake, audience, count=1)
    (message,) = rows()
    for client in (editor, viewer):
        for move in ("mark-sent", "requeue"):
            url = f"/admin/outbox/{message.id}/{move}"
            assert client.get(url).status_code == 403
            assert post(client, url, {"confirm": "yes"}).status_code == 403
    assert rows()[0].state == "unknown" and audit_actions() == []


def test_a_callback_that_settled_the_row_first_wins_over_the_hand_move(
    app, admin, client, clock, fake, audience
):
    lost_texts(clock, fake, audience, count=1)
    (message,) = rows()
    url = f"/admin/outbox/{message.id}/requeue"
    assert admin.get(url).status_code == 200  # the admin reads the confirmation page...
    response = post_twilio(  # ...while Twilio reports the text delivered after all
        client,
        f"/webhooks/twilio/status?mid={message.id}",
        {"MessageSid": "SM" + "c" * 32, "MessageStatus": "delivered"},
    )
    assert response.status_code == 204
    answer = post(admin, url, {"confirm": "yes"}, follow_redirects=True)
    assert "nothing to do" in text(answer)
    assert rows()[0].state == "delivered" and audit_actions() == []
    assert fake.stats()["sms"] == 0
