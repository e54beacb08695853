"""Requests attributed per step: the results page's "requests" column, `flask outreach
stats` (text and --json) and `GET /api/v1/campaigns/<id>/stats` give the same figures;
direct requests count in no step."""

from __future__ import annotations

import json

import jsonschema
from sqlalchemy import select

from outreach.api.openapi import document
from outreach.consultations import requests as consultation_requests
from outreach.consultations.attribution import Attribution
from outreach.extensions import db
from outreach.models import Message
from outreach.staff import api_tokens
from tests.results.support import isolated_client, login, make_staff, seed_campaign
from tests.results.test_dashboard import cli_table, dashboard_table


def add_requests(campaign, audience, per_step: dict[str, int], direct: int = 1) -> None:  # noqa: ANN001
    """``per_step`` requests attributed to a message of the step of that channel."""
    for channel, count in per_step.items():
        messages = list(
            db.session.scalars(
                select(Message).where(
                    Message.campaign_id == campaign.id, Message.channel == channel
                )
            )
        )
        for n in range(count):
            m = messages[n]
            _submit(audience, Attribution(m.id, m.campaign_id, m.step_id, m.channel))
    for _ in range(direct):
        _submit(audience, None)


def _submit(audience, attribution: Attribution | None) -> None:  # noqa: ANN001
    checked, _ = consultation_requests.check(
        consultation_requests.Typed(name="Ann", email="ann@example.org"), audience
    )
    consultation_requests.submit(audience, checked, language="en", attribution=attribution)


def test_requests_per_step_on_the_page_in_the_cli_and_the_api(app, clock, cli, monkeypatch):
    campaign, _ = seed_campaign(clock, people=4)
    add_requests(campaign, campaign.audience, {"email": 3, "sms": 1}, direct=2)
    make_staff(monkeypatch)
    viewer = isolated_client(app)
    login(viewer, "viewer@clinic.example")
    page = viewer.get(f"/admin/campaigns/{campaign.id}/results")
    html = page.get_data(as_text=True)
    table = dashboard_table(html)
    assert table[("1", "email")]["requests"] == "3" and table[("2", "sms")]["requests"] == "1"
    assert table[("all", "email")]["requests"] == "3" and table[("all", "sms")]["requests"] == "1"
    assert "last touch wins" in html

    text = cli.invoke(args=["outreach", "stats", str(campaign.id)])
    assert text.exit_code == 0, text.output
    assert cli_table(text.output) == table
    as_json = json.loads(cli.invoke(args=["outreach", "stats", str(campaign.id), "--json"]).output)
    assert [s["requests"] for s in as_json["steps"]] == [3, 1]

    _, token = api_tokens.create_api_token("results test")
    db.session.commit()
    api = isolated_client(app)
    stats = api.get(
        f"/api/v1/campaigns/{campaign.id}/stats", headers={"Authorization": f"Bearer {token}"}
    ).get_json()
    assert [s["requests"] for s in stats["steps"]] == [3, 1]
    assert stats["totals"]["email"]["requests"] == 3
    schema = document()["components"]["schemas"]["StepStats"]
    assert "requests" in schema["required"]
    for step in stats["steps"]:
        jsonschema.validate(step, schema)


def test_a_campaign_without_requests_shows_zero(app, clock, cli):
    campaign, _ = seed_campaign(clock, people=2)
    _submit(campaign.audience, None)  # a direct request belongs to no campaign
    output = cli.invoke(args=["outreach", "stats", str(campaign.id)]).output
    assert {row["requests"] for row in cli_table(output).values()} == {"0"}
