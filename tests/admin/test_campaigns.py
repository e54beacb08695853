"""Campaigns and steps: editor, timeline, preview, test sends, preflight, lifecycle."""

from __future__ import annotations

import html
import re
from datetime import datetime

from sqlalchemy import func, select

from outreach.devtools import mailbox as console_mailbox
from outreach.extensions import db
from outreach.models import AuditLog, Campaign, Message, Step
from outreach.sending import materialise as materialising
from tests.admin.support import post, text
from tests.factories import make_audience, make_campaign, make_subscriber

EMAIL = {
    "day_offset": "0",
    "send_time": "10:00",
    "subject": "June is Migraine Awareness Month",
    "preheader": "What sets off a migraine",
    "html": "<h1>Hello {{ first_name }}</h1><p>Stress, sleep and skipped meals are common "
    "triggers.</p>",
}
SMS = {
    "day_offset": "2",
    "send_time": "12:30",
    "body": "Migraine month: keep a headache diary to spot your triggers.",
}


def _new_campaign(client, audience, **fields) -> int:  # noqa: ANN001
    form = {
        "name": "June awareness",
        "audience_id": str(audience.id),
        "anchor_kind": "date",
        "anchor_date": "2027-06-01",
        **fields,
    }
    response = post(client, "/admin/campaigns/new", form)
    assert response.status_code == 303, text(response)
    return int(response.headers["Location"].rsplit("/", 1)[1])


def _add(client, campaign_id: int, channel: str, form: dict):  # noqa: ANN001, ANN202
    return post(client, f"/admin/campaigns/{campaign_id}/steps/new", {"channel": channel, **form})


def test_build_a_sequence_and_see_its_timeline(editor):
    audience = make_audience()
    campaign_id = _new_campaign(editor, audience)
    assert _add(editor, campaign_id, "email", EMAIL).status_code == 303
    assert _add(editor, campaign_id, "sms", SMS).status_code == 303
    third = {**EMAIL, "day_offset": "29", "send_time": "9:00", "subject": "Last day of June"}
    assert _add(editor, campaign_id, "email", third).status_code == 303

    page = text(editor.get(f"/admin/campaigns/{campaign_id}"))
    assert "Step 1 · Tue 01 Jun 2027, 10:00 local time (day 0)" in page
    assert "Step 2 · Thu 03 Jun 2027, 12:30 local time (day 2)" in page
    assert "Step 3 · Wed 30 Jun 2027, 09:00 local time (day 29)" in page
    assert "June is Migraine Awareness Month" in page
    assert "brand “NeuroMedici Migraine Awareness:” and STOP wording are added" in page
    assert "Tue 01 Jun 10:00 · email (step 1)" in page  # calendar
    assert "nothing in the outbox yet" in page
    steps = db.session.scalars(select(Step).order_by(Step.position)).all()
    assert [(s.channel, s.day_offset, s.send_time) for s in steps] == [
        ("email", 0, "10:00"),
        ("sms", 2, "12:30"),
        ("email", 29, "09:00"),
    ]
    actions = db.session.scalars(select(AuditLog.action).order_by(AuditLog.id)).all()
    assert actions == ["campaign.create", "step.create", "step.create", "step.create"]


def test_a_welcome_series_counts_from_confirmation(editor):
    audience = make_audience()
    campaign_id = _new_campaign(editor, audience, anchor_kind="confirmation", anchor_date="")
    form = {"after_days": "2", "after_hours": "3", "after_mins": "0", "body": "Welcome!"}
    assert _add(editor, campaign_id, "sms", form).status_code == 303
    assert "2 days 3 h after confirming" in text(editor.get(f"/admin/campaigns/{campaign_id}"))
    assert db.session.scalar(select(Step.after_minutes)) == 2 * 1440 + 180


def test_campaign_form_explains_mistakes(editor):
    audience = make_audience()
    no_date = post(
        editor,
        "/admin/campaigns/new",
        {"name": "June", "audience_id": str(audience.id), "anchor_kind": "date"},
    )
    assert no_date.status_code == 400 and "a date like 2027-06-01" in text(no_date)
    _new_campaign(editor, audience)
    again = post(
        editor,
        "/admin/campaigns/new",
        {"name": "June awareness", "audience_id": str(audience.id), "anchor_date": "2027-06-01"},
    )
    assert again.status_code == 400 and "another campaign already has this name" in text(again)
    assert db.session.scalar(select(func.count(Campaign.id))) == 1


def test_templates_are_checked_before_they_are_saved(editor):
    audience = make_audience()
    campaign_id = _new_campaign(editor, audience)
    typo = _add(editor, campaign_id, "email", {**EMAIL, "subject": "Hi {{ first_nme }}"})
    assert typo.status_code == 400
    assert "unknown variable 'first_nme'; did you mean 'first_name'?" in text(typo)
    escape = _add(editor, campaign_id, "sms", {**SMS, "body": "{{ audience.__class__ }}"})
    assert escape.status_code == 400
    assert "access to attribute '__class__' is not allowed" in text(escape)
    late = _add(editor, campaign_id, "sms", {**SMS, "send_time": "25:00"})
    assert late.status_code == 400 and "a local time like 10:00" in text(late)
    # what was typed is still in the editor
    assert "{{ audience.__class__ }}" in html.unescape(escape.get_data(as_text=True))
    assert db.session.scalar(select(func.count(Step.id))) == 0


def test_the_editor_documents_variables_and_counts_sms_segments(editor):
    audience = make_audience()
    campaign_id = _new_campaign(editor, audience)
    email_editor = editor.get(f"/admin/campaigns/{campaign_id}/steps/new?channel=email")
    page = text(email_editor)
    for name in ("first_name", "audience", "organisation", "unsubscribe_url", "preferences_url"):
        assert f"{{{{ {name} }}}}" in html.unescape(email_editor.get_data(as_text=True))
        assert name in page
    assert "Leave empty to generate it from the HTML" in page
    sms_editor = editor.get(f"/admin/campaigns/{campaign_id}/steps/new?channel=sms")
    body = sms_editor.get_data(as_text=True)
    assert 'id="sms-counter"' in body and "sms-counter.js" in body
    assert "first text" in text(sms_editor) and "Reply STOP to opt out." in text(sms_editor)
    _add(editor, campaign_id, "sms", SMS)
    second = text(editor.get(f"/admin/campaigns/{campaign_id}/steps/new?channel=sms"))
    assert "first text" not in second


def test_reorder_and_delete_steps_in_a_draft(editor):
    audience = make_audience()
    campaign_id = _new_campaign(editor, audience)
    _add(editor, campaign_id, "email", EMAIL)
    _add(editor, campaign_id, "sms", SMS)
    _add(editor, campaign_id, "email", {**EMAIL, "subject": "Third"})
    first, second, third = db.session.scalars(select(Step.id).order_by(Step.position)).all()

    assert post(editor, f"/admin/steps/{first}/move", {"direction": "down"}).status_code == 303
    db.session.expire_all()
    assert db.session.scalars(select(Step.id).order_by(Step.position)).all() == [
        second,
        first,
        third,
    ]
    confirm = editor.get(f"/admin/steps/{first}/delete")
    assert "Delete step 2?" in text(confirm)
    assert post(editor, f"/admin/steps/{first}/delete").status_code == 200  # no confirm=yes
    assert db.session.get(Step, first) is not None
    gone = post(editor, f"/admin/steps/{first}/delete", {"confirm": "yes"})
    assert gone.status_code == 303
    db.session.expire_all()
    rows = db.session.execute(select(Step.id, Step.position).order_by(Step.position)).all()
    assert [tuple(r) for r in rows] == [(second, 0), (third, 1)]


def test_preview_as_a_chosen_subscriber(editor):
    audience = make_audience()
    ann = make_subscriber(audience, email="ann@example.org", phone="+19175550142")
    make_subscriber(audience, email="bo@example.org", channels=("email",), first_name="Bo")
    campaign = make_campaign(
        audience,
        [
            {"channel": "email", "subject": "Hi {{ first_name }}", "html": EMAIL["html"]},
            {"channel": "sms", "body": SMS["body"]},
        ],
        schedule=False,
    )
    email_step, sms_step = campaign.steps

    response = editor.get(f"/admin/steps/{email_step.id}/preview?who=ann@example")
    body = response.get_data(as_text=True)
    frame = re.search(
        r'<iframe class="preview" id="email-frame" sandbox="" [^>]*srcdoc="([^"]*)"', body
    )
    assert frame, "the email is shown in a sandboxed iframe"
    email_html = html.unescape(frame.group(1))
    assert "Hello Ann" in email_html
    assert "100 Example Avenue" in email_html  # the postal address footer
    assert "https://outreach.example.org/unsubscribe/" in email_html
    assert "[%" not in email_html  # every substitution tag was filled in
    assert "Subject: Hi Ann" in text(response)

    bubble = text(editor.get(f"/admin/steps/{sms_step.id}/preview?who=917 555"))
    assert (
        "NeuroMedici Migraine Awareness: Migraine month: keep a headache diary to spot your "
        "triggers. Reply STOP to opt out." in bubble
    )
    assert "brand/STOP wording added for the first text" in bubble
    bo = text(editor.get(f"/admin/steps/{sms_step.id}/preview?who=bo@"))
    assert "This subscriber has no mobile number: they would not get this step." in bo
    sample = text(editor.get(f"/admin/steps/{email_step.id}/preview"))
    assert "Subject: Hi Alex" in sample and ann.email not in sample


def test_test_sends_go_to_staff_only_and_change_no_consent(editor, client, staff_users):
    audience = make_audience()
    ann = make_subscriber(audience, email="ann@example.org", phone="+19175550142")
    campaign = make_campaign(
        audience,
        [{"channel": "email", "html": EMAIL["html"]}, {"channel": "sms", "body": SMS["body"]}],
        schedule=False,
    )
    email_step, sms_step = campaign.steps
    sent = post(
        editor,
        f"/admin/steps/{email_step.id}/test-send",
        {"to": "viewer@clinic.example", "who": "ann@example.org"},
    )
    assert sent.status_code == 303
    assert "Test sent to viewer@clinic.example" in text(editor.get(sent.headers["Location"]))
    refused = post(editor, f"/admin/steps/{email_step.id}/test-send", {"to": "ann@example.org"})
    assert "Not sent: test emails go to staff addresses only" in text(
        editor.get(refused.headers["Location"])
    )
    post(editor, f"/admin/steps/{sms_step.id}/test-send", {"to": "(646) 201-4455"})

    mailbox = console_mailbox.recent_messages(limit=10)
    assert [(m["kind"], m["to"]) for m in mailbox] == [
        ("sms", "+16462014455"),
        ("email", "viewer@clinic.example"),
    ]
    assert mailbox[0]["body"].startswith("[Test] NeuroMedici Migraine Awareness:")
    assert mailbox[1]["subject"] == "[Test] June news"
    assert "Hello Ann" in mailbox[1]["html"]
    # the test's unsubscribe link cannot unsubscribe Ann (or anyone)
    link = re.search(r"https://outreach\.example\.org(/unsubscribe/[^\"\s<]+)", mailbox[1]["html"])
    one_click = client.post(link.group(1), data={"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 400
    db.session.expire_all()
    assert {s.state for s in ann.subscriptions} == {"active"}
    actions = db.session.scalars(select(AuditLog.detail).filter_by(action="step.test_send")).all()
    assert actions == ["email to staff viewer@clinic.example", "sms to the phone ending 4455"]


def test_preflight_errors_block_scheduling_and_warnings_need_a_tick(editor):
    audience = make_audience()
    campaign_id = _new_campaign(editor, audience)
    _add(editor, campaign_id, "email", EMAIL)
    _add(editor, campaign_id, "sms", {**SMS, "send_time": "22:00"})
    preflight = text(editor.get(f"/admin/campaigns/{campaign_id}/preflight"))
    assert "1 error" in preflight
    assert "texts at 22:00 fall outside the legal window 08:00-21:00" in preflight
    assert "Fix the errors above to schedule this campaign" in preflight
    blocked = post(editor, f"/admin/campaigns/{campaign_id}/schedule", {"confirm": "yes"})
    assert blocked.status_code == 400
    assert "fix the errors preflight lists before scheduling" in text(blocked)
    assert db.session.get(Campaign, campaign_id).status == "draft"

    sms_step = db.session.scalar(select(Step).filter_by(channel="sms"))
    fixed = post(editor, f"/admin/steps/{sms_step.id}/edit", {**SMS, "send_time": "12:30"})
    assert fixed.status_code == 303
    preflight = text(editor.get(f"/admin/campaigns/{campaign_id}/preflight"))
    assert "error" not in preflight.split("Preflight", 2)[2].split("warning")[0]
    assert "1 warning" in preflight and "brand/STOP wording will be added" in preflight
    unticked = post(editor, f"/admin/campaigns/{campaign_id}/schedule", {"confirm": "yes"})
    assert unticked.status_code == 400
    assert "tick the box to confirm you have read the warnings" in text(unticked)
    db.session.expire_all()
    assert db.session.get(Campaign, campaign_id).status == "draft"
    no_confirm = post(editor, f"/admin/campaigns/{campaign_id}/schedule", {"acknowledge": "y"})
    assert no_confirm.status_code == 400

    scheduled = post(
        editor, f"/admin/campaigns/{campaign_id}/schedule", {"confirm": "yes", "acknowledge": "y"}
    )
    assert scheduled.status_code == 303
    db.session.expire_all()
    assert db.session.get(Campaign, campaign_id).status in ("scheduled", "running")
    entry = db.session.scalar(select(AuditLog).filter_by(action="campaign.schedule"))
    assert entry.detail == "1 warning(s) acknowledged"


def test_pause_resume_cancel_each_behind_a_confirmation(app, clock, editor):
    clock.set(datetime(2027, 5, 20, 15, 0))
    audience = make_audience()
    for n in range(3):
        make_subscriber(audience, email=f"p{n}@example.org", channels=("email",))
    campaign = make_campaign(
        audience, [{"channel": "email"}, {"channel": "email", "day_offset": 1}]
    )
    clock.set(datetime(2027, 6, 1, 13, 59))  # one minute before 10:00 in New York
    materialising.materialise_due(clock())
    url = f"/admin/campaigns/{campaign.id}"
    assert editor.get(url + "/counts.json").get_json()["totals"]["queued"] == 3

    ask = editor.get(url + "/pause")
    assert "Pause 'June awareness'?" in text(ask) and "Queued messages wait" in text(ask)
    assert post(editor, url + "/pause", {"reason": "x"}).status_code == 200  # not confirmed
    assert db.session.get(Campaign, campaign.id).status == "running"
    paused = post(editor, url + "/pause", {"confirm": "yes", "reason": "Checking the date"})
    assert paused.status_code == 303
    page = text(editor.get(url))
    assert "Paused: Checking the date" in page
    counts = editor.get(url + "/counts.json").get_json()
    assert counts["status"] == "paused" and counts["paused_reason"] == "Checking the date"

    assert post(editor, url + "/resume", {"confirm": "yes"}).status_code == 303
    assert editor.get(url + "/counts.json").get_json()["status"] == "running"

    ask = text(editor.get(url + "/cancel"))
    assert "Cancelling is final" in ask
    cancelled = post(editor, url + "/cancel", {"confirm": "yes"})
    assert cancelled.status_code == 303
    assert "3 queued message(s) will not be sent" in text(editor.get(url))
    counts = editor.get(url + "/counts.json").get_json()
    assert counts["status"] == "cancelled"
    assert counts["totals"]["cancelled"] == 3 and counts["totals"]["queued"] == 0
    assert editor.get(f"/admin/steps/{campaign.steps[0].id}/edit").status_code == 200
    late_edit = post(editor, f"/admin/steps/{campaign.steps[0].id}/edit", {**EMAIL})
    assert late_edit.status_code == 400 and "it can no longer change" in text(late_edit)
    actions = db.session.scalars(select(AuditLog.action).order_by(AuditLog.id)).all()
    assert actions == ["campaign.pause", "campaign.resume", "campaign.cancel"]


def test_editing_a_running_step_changes_only_messages_not_yet_sent(app, clock, cli, editor):
    clock.set(datetime(2027, 5, 20, 15, 0))
    audience = make_audience()
    make_subscriber(audience, phone="+19175550142", first_name="Ann")  # New York
    make_subscriber(
        audience, phone="+13105550199", first_name="Lee", timezone="America/Los_Angeles"
    )
    campaign = make_campaign(audience, [{"channel": "sms", "body": "Old words about triggers."}])
    step = campaign.steps[0]

    clock.set(datetime(2027, 6, 1, 15, 0))  # 11:00 in New York, 08:00 in Los Angeles
    first = cli.invoke(args=["outreach", "dispatch", "--once", "--quiet"])
    assert "sent 1" in first.output, first.output

    editor_page = text(editor.get(f"/admin/steps/{step.id}/edit"))
    assert "saving changes only the messages not yet sent" in editor_page
    assert "Channel and timing are fixed now" in editor_page
    moved = post(
        editor,
        f"/admin/steps/{step.id}/edit",
        {"day_offset": "1", "send_time": "10:00", "body": "New words."},
    )
    assert moved.status_code == 400 and "so its channel and timing are fixed" in text(moved)
    saved = post(
        editor,
        f"/admin/steps/{step.id}/edit",
        {"day_offset": "0", "send_time": "10:00", "body": "New words about triggers."},
    )
    assert saved.status_code == 303
    assert "The change applies to messages not yet sent" in text(
        editor.get(saved.headers["Location"])
    )

    clock.set(datetime(2027, 6, 1, 17, 5))  # 10:05 in Los Angeles
    second = cli.invoke(args=["outreach", "dispatch", "--once", "--quiet"])
    assert "sent 1" in second.output, second.output
    texts = {
        m["to"]: m["body"] for m in console_mailbox.recent_messages(limit=10) if m["kind"] == "sms"
    }
    assert texts == {
        "+19175550142": "NeuroMedici Migraine Awareness: Old words about triggers. "
        "Reply STOP to opt out.",
        "+13105550199": "NeuroMedici Migraine Awareness: New words about triggers. "
        "Reply STOP to opt out.",
    }
    assert db.session.scalar(select(func.count(Message.id))) == 2


def test_click_tracking_is_a_campaign_switch_on_by_default(editor):
    audience = make_audience()
    form_page = text(editor.get("/admin/campaigns/new"))
    assert "Count clicks on the links" in form_page
    assert re.search(
        r'name="track_links" value="y"\s+checked',
        editor.get("/admin/campaigns/new").get_data(as_text=True),
    )
    campaign_id = _new_campaign(editor, audience, track_links="y")
    assert db.session.get(Campaign, campaign_id).track_links is True
    step_form = editor.get(f"/admin/campaigns/{campaign_id}/steps/new?channel=sms")
    assert "data-track-base=" in step_form.get_data(as_text=True)

    switched = post(
        editor,
        f"/admin/campaigns/{campaign_id}/edit",
        {"name": "June awareness", "audience_id": str(audience.id), "anchor_kind": "date",
         "anchor_date": "2027-06-01"},
    )  # fmt: skip
    assert switched.status_code == 303
    db.session.expire_all()
    assert db.session.get(Campaign, campaign_id).track_links is False
    entry = db.session.scalar(select(AuditLog).filter_by(action="campaign.update"))
    assert entry.detail == "click tracking off"
    step_form = editor.get(f"/admin/campaigns/{campaign_id}/steps/new?channel=sms")
    assert "data-track-base=" not in step_form.get_data(as_text=True)
    assert "clicks not counted (links sent as written)" in text(
        editor.get(f"/admin/campaigns/{campaign_id}")
    )
