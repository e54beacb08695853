"""Did it work? People's clicks (scanners left out), unique clicks, click rate and each
link's clicks on the results page, in `flask outreach stats` (text and --json) and in
`GET /api/v1/campaigns/<id>/stats`; the funnel and clicks-over-time charts."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import jsonschema
from sqlalchemy import select

from outreach.api.openapi import document
from outreach.extensions import db
from outreach.models import Message
from outreach.staff import api_tokens
from outreach.tracking import codes, links
from tests.results.support import isolated_client, login, make_staff, seed_campaign, set_states
from tests.results.test_dashboard import cli_table, dashboard_table

BROWSER = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15"
SCANNER = "Mozilla/5.0 (compatible; Barracuda Sentinel URL Scanner)"
GUIDE = "https://clinic.example/june-guide"
FAQ = "https://clinic.example/faq"
SMS_LINK = "https://clinic.example/diary"
LINK_ROW = re.compile(r'<tr data-step="(\d+)" data-link="(\d+)">(.*?)</tr>', re.S)
CELL = re.compile(r'<td data-key="(\w+)">([^<]*)</td>')


def _click(client, message: Message, position: int, agent: str = BROWSER, method: str = "GET"):  # noqa: ANN001, ANN202
    code = codes.encode(codes.app_key(), message.id, position)
    response = client.open(f"/r/{code}", method=method, headers={"User-Agent": agent})
    assert response.status_code == 302, response.status_code
    return response


def clicked_campaign(app, clock):  # noqa: ANN001, ANN201
    """Four people; email delivered to all four, texts to two of four (two only sent).

    Email: person 0 clicks the guide twice, person 1 the guide then (10 minutes later) the
    FAQ; a HEAD request and a scanner's GET are recorded but not counted. SMS: person 0
    clicks the diary once. Expected: email 4 clicks, 2 unique, 2/4 = 50%; SMS 1, 1, 1/2.
    """
    start = clock.current
    campaign, _ = seed_campaign(clock, people=4)
    email_step, sms_step = sorted(campaign.steps, key=lambda s: s.position)
    set_states(email_step.id, {"delivered": 4}, start)
    set_states(sms_step.id, {"delivered": 2, "sent": 2}, start)
    links.register(email_step.id, [GUIDE, FAQ])
    links.register(sms_step.id, [SMS_LINK])
    db.session.commit()
    emails = list(
        db.session.scalars(
            select(Message).where(Message.step_id == email_step.id).order_by(Message.id)
        )
    )
    texts = list(
        db.session.scalars(
            select(Message).where(Message.step_id == sms_step.id).order_by(Message.id)
        )
    )
    db.session.rollback()
    client = isolated_client(app)
    clock.advance(hours=1)
    _click(client, emails[0], 1)
    clock.advance(minutes=5)
    _click(client, emails[0], 1)
    _click(client, emails[1], 1)
    clock.advance(minutes=10)
    _click(client, emails[1], 2)
    _click(client, emails[2], 1, method="HEAD")
    clock.advance(minutes=1)
    _click(client, emails[3], 2, agent=SCANNER)
    clock.advance(hours=2)
    _click(client, texts[0], 1)
    db.session.rollback()
    return campaign


def test_clicks_on_the_page_in_the_cli_and_in_the_api(app, clock, cli, monkeypatch):
    campaign = clicked_campaign(app, clock)
    make_staff(monkeypatch)
    viewer = isolated_client(app)
    login(viewer, "viewer@clinic.example")
    page = viewer.get(f"/admin/campaigns/{campaign.id}/results")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    table = dashboard_table(html)
    email, sms = table[("1", "email")], table[("2", "sms")]
    assert (email["sent"], email["delivered"]) == ("4", "4")
    assert (email["clicks"], email["unique_clicks"], email["click_rate"]) == ("4", "2", "50.00%")
    assert (sms["sent"], sms["delivered"]) == ("4", "2")
    assert (sms["clicks"], sms["unique_clicks"], sms["click_rate"]) == ("1", "1", "50.00%")
    assert table[("all", "email")]["unique_clicks"] == "2"
    assert table[("all", "sms")]["click_rate"] == "50.00%"
    # The step label comes first, then the figures.
    header = html[html.index('<table id="results"') :]
    assert re.search(r"<thead><tr><th scope=\"col\">Step</th>\s*<th scope=\"col\">sent<", header)

    per_link = {
        (step, link): dict(CELL.findall(body)) for step, link, body in LINK_ROW.findall(html)
    }
    assert per_link == {
        ("1", "1"): {"clicks": "3", "unique_clicks": "2"},
        ("1", "2"): {"clicks": "1", "unique_clicks": "1"},
        ("2", "1"): {"clicks": "1", "unique_clicks": "1"},
    }
    assert GUIDE in html and FAQ in html

    # The funnel and clicks over time: accessible SVG, no script, a table alternative.
    assert "<script" not in html
    funnel = html[html.index('id="funnel-chart"') : html.index("</svg>", html.index("funnel"))]
    assert 'role="img"' in html[html.index("<svg") - 5 : html.index("<svg") + 200]
    assert "<title" in funnel and "<desc" in funnel
    assert re.findall(r'data-email="(\d+)"', funnel) == ["4", "4", "2", "0"]
    assert re.findall(r'data-sms="(\d+)"', funnel) == ["4", "2", "1", "0"]
    clicks_svg = html[html.index('id="clicks-chart"') :]
    clicks_svg = clicks_svg[: clicks_svg.index("</svg>")]
    assert sum(map(int, re.findall(r'data-clicks="(\d+)"', clicks_svg))) == 5
    assert ">clicks</text>" in clicks_svg and "hour (UTC)" in clicks_svg
    assert 'id="funnel-table"' in html

    text = cli.invoke(args=["outreach", "stats", str(campaign.id)])
    assert text.exit_code == 0, text.output
    assert cli_table(text.output) == table
    assert cli_table(text.output, "outbox states:") == dashboard_table(html, "states-table")
    assert f"step 1 link 1: 3 clicks, 2 unique  {GUIDE}" in text.output
    assert f"step 2 link 1: 1 clicks, 1 unique  {SMS_LINK}" in text.output

    as_json = json.loads(cli.invoke(args=["outreach", "stats", str(campaign.id), "--json"]).output)
    assert [(s["clicks"], s["unique_clicks"]) for s in as_json["steps"]] == [(4, 2), (1, 1)]
    assert [s["click_rate"] for s in as_json["steps"]] == [0.5, 0.5]
    assert as_json["steps"][0]["links"] == [
        {"position": 1, "url": GUIDE, "clicks": 3, "unique_clicks": 2},
        {"position": 2, "url": FAQ, "clicks": 1, "unique_clicks": 1},
    ]

    _, token = api_tokens.create_api_token("clicks test")
    db.session.commit()
    api = isolated_client(app)
    stats = api.get(
        f"/api/v1/campaigns/{campaign.id}/stats", headers={"Authorization": f"Bearer {token}"}
    ).get_json()
    assert stats["steps"] == as_json["steps"]
    assert [(s["sent"], s["delivered"], s["requests"]) for s in stats["steps"]] == [
        (4, 4, 0),
        (4, 2, 0),
    ]
    assert stats["totals"]["email"]["clicks"] == 4
    assert sum(b["clicks"] for b in stats["clicks_over_time"]["buckets"]) == 5
    schemas = document()["components"]["schemas"]
    for required in ("clicks", "unique_clicks", "requests", "links"):
        assert required in schemas["StepStats"]["required"]
    whole = {"$ref": "#/components/schemas/CampaignStats", "components": document()["components"]}
    jsonschema.validate(stats, whole)


def test_small_counts_get_whole_number_ticks_on_every_chart(app, clock, monkeypatch):
    campaign, _ = seed_campaign(clock, people=1)
    email_step = min(campaign.steps, key=lambda s: s.position)
    set_states(email_step.id, {"sent": 1}, clock.current - timedelta(hours=1))
    make_staff(monkeypatch)
    viewer = isolated_client(app)
    login(viewer, "viewer@clinic.example")
    html = viewer.get(f"/admin/campaigns/{campaign.id}/results").get_data(as_text=True)
    chart = html[html.index('id="chart"') :]
    chart = chart[: chart.index("</svg>")]
    ticks = re.findall(r'text-anchor="end" fill="#5b6775">([\d,]+)</text>', chart)
    assert ticks == ["0", "1"]  # not "1, 0, 0"
    assert "Nobody has clicked a tracked link yet." in html
    assert ">messages</text>" in chart
