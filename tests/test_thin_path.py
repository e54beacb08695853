"""The walking skeleton, end to end through the public surface:
subscribe -> confirm -> dispatch -> console mailbox -> STOP -> no further texts."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from outreach.devtools import mailbox as console_mailbox
from tests.factories import make_audience, make_campaign, make_subscriber
from tests.helpers import post_twilio, submit_form


def _mailbox() -> list[dict]:
    return console_mailbox.recent_messages(limit=1000)


def test_subscribe_confirm_send_stop(app, client, cli, clock):
    audience = make_audience()
    clock.set(datetime(2027, 5, 31, 13, 0, tzinfo=UTC))

    page = submit_form(
        client,
        "/subscribe/migraine-awareness",
        {
            "email": "Ann.Reader@Example.ORG",
            "phone": "(917) 555-0142",
            "first_name": "Ann",
            "timezone": "America/New_York",
            "consent_email": "y",
            "consent_sms": "y",
        },
    )
    assert page.status_code == 200
    assert "please confirm" in page.get_data(as_text=True).lower()

    confirmation = [m for m in _mailbox() if m["kind"] == "email"]
    assert len(confirmation) == 1 and confirmation[0]["to"] == "ann.reader@example.org"
    texts = [m for m in _mailbox() if m["kind"] == "sms"]
    assert len(texts) == 1 and "reply YES" in texts[0]["body"]
    assert "Msg & data rates may apply" in texts[0]["body"]

    path = re.search(r"https?://[^/]+(/confirm/[^\"\s<]+)", confirmation[0]["html"]).group(1)
    confirmed = submit_form(client, path, {})
    assert confirmed.status_code == 200
    assert "You're subscribed" in confirmed.get_data(as_text=True)

    yes = post_twilio(
        client,
        "/webhooks/twilio/sms",
        {"MessageSid": "SM" + "1" * 32, "From": "+19175550142", "Body": "yes"},
    )
    assert yes.status_code == 200

    # A second subscriber who never says STOP: proves the later step really goes out.
    make_subscriber(audience, email="ben@example.org", phone="+16462014455", first_name="Ben")

    make_campaign(
        audience,
        [
            {
                "channel": "email",
                "day_offset": 0,
                "send_time": "10:00",
                "subject": "June is Migraine Awareness Month",
            },
            {
                "channel": "sms",
                "day_offset": 0,
                "send_time": "10:00",
                "body": "June is Migraine & Headache Awareness Month.",
            },
            {
                "channel": "sms",
                "day_offset": 2,
                "send_time": "10:00",
                "body": "Know your triggers: stress, sleep, some foods.",
            },
        ],
    )
    before = len(_mailbox())
    clock.set(datetime(2027, 6, 1, 15, 0, tzinfo=UTC))  # 11:00 in New York
    result = cli.invoke(args=["outreach", "dispatch", "--once"])
    assert result.exit_code == 0, result.output
    assert "sent 4" in result.output

    new = _mailbox()[: len(_mailbox()) - before]
    emails = [m for m in new if m["kind"] == "email"]
    sms = [m for m in new if m["kind"] == "sms"]
    assert sorted(m["to"] for m in emails) == ["ann.reader@example.org", "ben@example.org"]
    ann_email = next(m for m in emails if m["to"] == "ann.reader@example.org")
    assert "Hello Ann" in ann_email["html"]
    assert ann_email["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert sorted(m["to"] for m in sms) == ["+16462014455", "+19175550142"]
    assert all(m["body"].startswith("NeuroMedici Migraine Awareness:") for m in sms)

    stop = post_twilio(
        client,
        "/webhooks/twilio/sms",
        {"MessageSid": "SM" + "2" * 32, "From": "+19175550142", "Body": " Stop "},
    )
    assert stop.status_code == 200
    assert "unsubscribed" in stop.get_data(as_text=True)

    before = len(_mailbox())
    clock.set(datetime(2027, 6, 3, 15, 0, tzinfo=UTC))
    result = cli.invoke(args=["outreach", "dispatch", "--once"])
    assert result.exit_code == 0, result.output
    later = _mailbox()[: len(_mailbox()) - before]
    assert [m["to"] for m in later if m["kind"] == "sms"] == ["+16462014455"]
