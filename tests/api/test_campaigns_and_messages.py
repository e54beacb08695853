"""Campaigns (list, stats, pause, resume) and messages (filters, pagination) through the API."""

from __future__ import annotations

from sqlalchemy import select

from outreach.extensions import db
from outreach.models import AuditLog, Campaign, Message
from outreach.results import reports
from tests.factories import make_campaign
from tests.results.support import seed_campaign, set_states


def _campaign(clock):  # noqa: ANN001, ANN202
    campaign, people = seed_campaign(clock)
    set_states(campaign.steps[0].id, {"delivered": 2, "sent": 1, "skipped": 1}, clock.current)
    return campaign, people


def test_list_and_get_campaigns(api, clock):
    campaign, _ = _campaign(clock)
    make_campaign(campaign.audience, [{"channel": "email"}], name="Draft one", schedule=False)
    listed = api.get("/api/v1/campaigns").get_json()
    assert [c["name"] for c in listed["items"]] == ["June awareness", "Draft one"]
    drafts = api.get("/api/v1/campaigns?status=draft").get_json()["items"]
    assert [c["name"] for c in drafts] == ["Draft one"]
    one = api.get(f"/api/v1/campaigns/{campaign.id}").get_json()
    assert one["status"] == "running" and one["audience"] == "migraine-awareness"
    assert [(s["number"], s["channel"]) for s in one["steps"]] == [(1, "email"), (2, "sms")]


def test_stats_are_the_dashboard_numbers(api, clock):
    campaign, _ = _campaign(clock)
    stats = api.get(f"/api/v1/campaigns/{campaign.id}/stats").get_json()
    db.session.rollback()
    expected = reports.campaign_results(db.session.get(Campaign, campaign.id)).to_dict()
    assert stats["steps"] == expected["steps"] and stats["totals"] == expected["totals"]
    first = stats["steps"][0]
    assert first["states"]["delivered"] == 2 and first["states"]["sent"] == 1
    assert first["skipped_by_reason"] == {"no_consent": 1}
    assert stats["series"]["buckets"][0]["sent"] == 3


def test_pause_and_resume_are_audited(api, clock):
    campaign, _ = _campaign(clock)
    paused = api.post(f"/api/v1/campaigns/{campaign.id}/pause", json={"reason": "wrong date"})
    assert paused.status_code == 200
    assert paused.get_json()["status"] == "paused"
    assert paused.get_json()["paused_reason"] == "wrong date [API: test suite]"
    again = api.post(f"/api/v1/campaigns/{campaign.id}/pause")
    assert again.status_code == 409 and again.mimetype == "application/problem+json"
    resumed = api.post(f"/api/v1/campaigns/{campaign.id}/resume")
    assert resumed.status_code == 200 and resumed.get_json()["status"] == "running"
    assert api.post(f"/api/v1/campaigns/{campaign.id}/resume").status_code == 409
    db.session.rollback()
    actions = db.session.scalars(select(AuditLog.action).order_by(AuditLog.id)).all()
    assert actions == ["campaign.pause", "campaign.resume"]
    bad = api.post(f"/api/v1/campaigns/{campaign.id}/pause", json={"reason": 5})
    assert bad.status_code == 422


def test_messages_filter_by_subscriber_campaign_and_state(api, clock):
    campaign, people = _campaign(clock)
    everything = api.get("/api/v1/messages?limit=200").get_json()["items"]
    assert len(everything) == 8
    mine = api.get(f"/api/v1/messages?subscriber={people[0].public_id}").get_json()["items"]
    assert {(m["subscriber"], m["channel"]) for m in mine} == {
        (people[0].public_id, "email"),
        (people[0].public_id, "sms"),
    }
    delivered = api.get(f"/api/v1/messages?campaign={campaign.id}&state=delivered").get_json()
    assert [m["state"] for m in delivered["items"]] == ["delivered", "delivered"]
    assert api.get("/api/v1/messages?campaign=999").get_json()["items"] == []
    skipped = api.get("/api/v1/messages?state=skipped").get_json()["items"]
    assert [m["skip_reason"] for m in skipped] == ["no_consent"]

    ids, cursor = [], None
    for _ in range(10):
        query = {"limit": 3, "campaign": campaign.id, **({"cursor": cursor} if cursor else {})}
        page = api.get("/api/v1/messages", query_string=query).get_json()
        ids += [m["id"] for m in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    db.session.rollback()
    assert ids == list(db.session.scalars(select(Message.id).order_by(Message.id)))
