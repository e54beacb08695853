"""The campaign results dashboard: counts by step, channel and state (skip reasons too),
opt-outs attributed to steps, complaint rates, a server-rendered chart; and
`flask outreach stats` printing the same numbers."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from sqlalchemy import select

from outreach.consent import ledger as consent_ledger
from outreach.consent import subscriptions, suppression
from outreach.extensions import db
from outreach.models import Audience, Message, Subscription
from outreach.results import reports
from outreach.sending import compose
from outreach.sending import materialise as materialising
from outreach.sending import run as sending
from tests.factories import make_subscriber
from tests.helpers import post_sendgrid, post_twilio
from tests.results.support import isolated_client, login, make_staff, seed_campaign, set_states

ROW = re.compile(r'<tr data-step="(\w+)" data-channel="(\w+)">(.*?)</tr>', re.S)
CELL = re.compile(r'<td data-key="(\w+)">(?:<b>)?([^<]*)(?:</b>)?</td>')


def dashboard_table(html: str, table_id: str = "results") -> dict[tuple[str, str], dict[str, str]]:
    """{(step number or "all", channel): {column: text}} from one table of the results page
    ("results": the outcomes; "states-table": the outbox states)."""
    body = html[html.index(f'<table id="{table_id}"') :]
    body = body[: body.index("</table>")]
    return {(step, channel): dict(CELL.findall(row)) for step, channel, row in ROW.findall(body)}


def cli_table(output: str, title: str = "outcomes:") -> dict[tuple[str, str], dict[str, str]]:
    """The same shape from one table of `flask outreach stats` output ("outcomes:" or
    "outbox states:")."""
    lines = output.splitlines()
    start = lines.index(title) + 1
    header = lines[start].split()
    assert header[:2] == ["step", "channel"], header
    table = {}
    for line in lines[start + 1 :]:
        cells = line.split()
        if len(cells) != len(header):
            break
        row = dict(zip(header, cells, strict=True))
        table[(row.pop("step"), row.pop("channel"))] = row
    return table


def _messages(channel: str) -> dict[str, Message]:
    """{email or phone: outbox row} for a channel."""
    db.session.rollback()
    from outreach.models import Subscriber

    rows = db.session.execute(
        select(Message, Subscriber)
        .join(Subscriber, Subscriber.id == Message.subscriber_id)
        .where(Message.channel == channel)
    ).all()
    return {(p.email if channel == "email" else p.phone): m for m, p in rows}


def _run_campaign(app, clock):  # noqa: ANN001, ANN202
    """Six people; one address suppressed; real dispatch; provider feedback; opt-outs."""
    campaign, people = seed_campaign(clock, people=6)
    suppression.suppress("email", people[5].email, "hard_bounce")
    db.session.commit()
    report = sending.dispatch_once(clock.current)
    assert (report.sent, report.skipped) == (11, 1)
    client = isolated_client(app)
    emails, texts = _messages("email"), _messages("sms")
    events = [
        {
            "event": "delivered",
            "sg_event_id": f"d{n}",
            "email": people[n].email,
            "message_id": str(emails[people[n].email].id),
            "timestamp": int((clock.current + timedelta(minutes=2)).timestamp()),
        }
        for n in range(4)
    ]
    events.append(
        {
            "event": "spamreport",
            "sg_event_id": "spam0",
            "email": people[0].email,
            "message_id": str(emails[people[0].email].id),
        }
    )
    assert post_sendgrid(client, events).status_code in (200, 204)
    for n in range(3):
        message = texts[people[n].phone]
        response = post_twilio(
            client,
            f"/webhooks/twilio/status?mid={message.id}",
            {"MessageSid": message.provider_id, "MessageStatus": "delivered"},
        )
        assert response.status_code == 204
    # A day later: one person unsubscribes from the email (one click), one texts STOP.
    clock.advance(hours=30)
    link = compose.personal_links(people[1].public_id, campaign.audience, "email")
    one_click = client.post(
        link["unsubscribe_url"].removeprefix("https://outreach.example.org"),
        data={"List-Unsubscribe": "One-Click"},
    )
    assert one_click.status_code == 200
    stop = post_twilio(
        client,
        "/webhooks/twilio/sms",
        {"MessageSid": "SMstop2", "From": people[2].phone, "To": "+15550100", "Body": "STOP"},
    )
    assert stop.status_code == 200
    # Eight days after the send: too late to blame the campaign.
    clock.advance(days=8)
    post_twilio(
        client,
        "/webhooks/twilio/sms",
        {"MessageSid": "SMstop3", "From": people[3].phone, "To": "+15550100", "Body": "stop"},
    )
    db.session.rollback()
    return campaign


def test_dashboard_and_cli_show_the_same_numbers(app, clock, cli, monkeypatch):
    make_staff(monkeypatch)
    campaign = _run_campaign(app, clock)
    viewer = isolated_client(app)
    login(viewer, "viewer@clinic.example")
    page = viewer.get(f"/admin/campaigns/{campaign.id}/results")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    table = dashboard_table(html)

    email, sms = table[("1", "email")], table[("2", "sms")]
    assert email == {
        "sent": "5",
        "delivered": "4",
        "unique_clicks": "0",
        "click_rate": "0.00%",
        "clicks": "0",
        "requests": "0",
        "opt_outs": "1",
        "complaints": "1",
        "complaint_rate": "20.00%",
    }
    assert (sms["sent"], sms["delivered"], sms["opt_outs"], sms["complaints"]) == (
        "6",
        "3",
        "1",
        "0",
    )
    assert sms["complaint_rate"] == "-"
    assert table[("all", "email")]["sent"] == "5" and table[("all", "sms")]["opt_outs"] == "1"
    states = dashboard_table(html, "states-table")
    assert states[("1", "email")] == {
        "total": "6",
        "queued": "0",
        "sending": "0",
        "sent": "1",
        "delivered": "4",
        "failed": "0",
        "bounced": "0",
        "skipped": "1",
        "unknown": "0",
        "cancelled": "0",
    }
    assert states[("all", "email")]["total"] == "6"
    assert 'data-state="skipped" data-reason="suppressed"' in html

    # The chart: inline SVG, no script, bars adding up to the sends and deliveries.
    svg = html[html.index('<svg xmlns="http://www.w3.org/2000/svg" id="chart"') :]
    svg = svg[: svg.index("</svg>")]
    assert not re.search(r"<script[^>]*src=|//cdn", html, re.I)
    assert sum(map(int, re.findall(r'data-sent="(\d+)"', svg))) == 11
    assert sum(map(int, re.findall(r'data-delivered="(\d+)"', svg))) == 7

    result = cli.invoke(args=["outreach", "stats", str(campaign.id)])
    assert result.exit_code == 0, result.output
    assert cli_table(result.output) == table
    assert cli_table(result.output, "outbox states:") == states
    assert "step 1 skipped: suppressed 1" in result.output
    by_name = cli.invoke(args=["outreach", "stats", campaign.name])
    assert cli_table(by_name.output) == table

    as_json = viewer.get(f"/admin/campaigns/{campaign.id}/results.json").get_json()
    assert as_json["steps"][0]["complaint_rate"] == 0.2
    json_cli = cli.invoke(args=["outreach", "stats", str(campaign.id), "--json"])
    assert json.loads(json_cli.output)["steps"] == as_json["steps"]


def test_opt_out_attribution_rules(app, clock):
    start = clock.current
    campaign, people = seed_campaign(
        clock,
        people=5,
        steps=[{"channel": "email"}, {"channel": "email", "day_offset": 3}],
    )

    materialising.materialise_due(start + timedelta(days=5))
    first, second = campaign.steps
    set_states(first.id, {"delivered": 5}, start)
    set_states(second.id, {"sent": 5}, start + timedelta(days=3))
    other = Audience(slug="other", name="Other")
    db.session.add(other)
    db.session.commit()
    make_subscriber(other, email=people[3].email)

    def withdraw(person, at, audience_id=campaign.audience_id, state="unsubscribed"):  # noqa: ANN001, ANN202
        clock.set(at)
        sub = db.session.scalar(
            select(Subscription).filter_by(
                subscriber_id=person.id, audience_id=audience_id, channel="email"
            )
        )
        subscriptions.revoke(sub, consent_ledger.Evidence(source="preference_page"), state=state)
        db.session.commit()

    withdraw(people[0], start + timedelta(days=1))  # after step 1 only
    withdraw(people[1], start + timedelta(days=4))  # after step 2: step 2 gets it
    withdraw(people[2], start + timedelta(days=3 + 8))  # too late for either
    withdraw(people[3], start + timedelta(days=1), audience_id=other.id)  # another list
    withdraw(people[4], start + timedelta(days=1), state="bounced")  # not an opt-out
    assert reports.opt_outs(campaign) == {first.id: 1, second.id: 1}


def test_the_dashboard_needs_a_login_and_a_real_campaign(app, clock, monkeypatch):
    make_staff(monkeypatch)
    campaign, _ = seed_campaign(clock, people=1)
    anonymous = isolated_client(app)
    assert anonymous.get(f"/admin/campaigns/{campaign.id}/results").status_code == 302
    viewer = isolated_client(app)
    login(viewer, "viewer@clinic.example")
    assert viewer.get("/admin/campaigns/999/results").status_code == 404
    empty = viewer.get(f"/admin/campaigns/{campaign.id}/results").get_data(as_text=True)
    assert "Nothing has been sent yet" in empty
    assert dashboard_table(empty, "states-table")[("1", "email")]["queued"] == "1"
