"""Opens: SendGrid's open tracking per audience (off by default, explicitly disabled in the
request), open events through the signed webhook counted once per message (and in
total), SendGrid's clicks never counted twice next to our ``/r/`` clicks, and the results
page's card with its caveat."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy import text as sql_text

from outreach.extensions import db
from outreach.models import Campaign, Message
from outreach.results import opens
from outreach.staff import accounts
from tests.helpers import BASE_URL, PASSWORD, login, page_text, post_sendgrid
from tests.tracking import test_click_tracking as tracked

fake = tracked.fake
audience = tracked.audience
BROWSER = tracked.BROWSER
STAMP = int(datetime(2027, 6, 1, 15, 30, tzinfo=UTC).timestamp())
_ids = iter(range(1, 10**9))


def event(kind: str, message_id: int, **fields: object) -> dict:
    """A SendGrid event about one of our messages (custom_args message_id)."""
    return {
        "event": kind,
        "sg_event_id": f"open-ev-{next(_ids)}",
        "timestamp": STAMP,
        "email": "p0@example.org",
        "message_id": str(message_id),
        **fields,
    }


def post(client, events: list[dict]) -> dict:  # noqa: ANN001
    response = post_sendgrid(client, events)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["counts"]


def messages(campaign: Campaign) -> list[Message]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(Message).where(Message.campaign_id == campaign.id).order_by(Message.id)
        )
    )


def send(fake, audience, clock, *, track_opens: bool, track_links: bool = True, people=2):  # noqa: ANN001
    audience.track_opens = track_opens
    db.session.commit()
    campaign = tracked.sent_email(fake, audience, clock, people=people, track=track_links)
    return campaign, fake.email_bodies[0]["tracking_settings"]


def results_page(app, client) -> str:  # noqa: ANN001
    accounts.create_staff("viewer@clinic.example", PASSWORD, "viewer")
    db.session.commit()
    login(client, "viewer@clinic.example")
    campaign = db.session.scalars(select(Campaign)).one()
    response = client.get(f"/admin/campaigns/{campaign.id}/results")
    assert response.status_code == 200
    return response.get_data(as_text=True)


@pytest.fixture(autouse=True)
def _cheap_hashes(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(accounts, "HASH_METHOD", "pbkdf2:sha256:1000")


def test_open_tracking_is_off_by_default_and_said_so_in_the_request(
    app, client, clock, fake, audience
):
    campaign, settings = send(fake, audience, clock, track_opens=False)
    assert settings == {
        "open_tracking": {"enable": False},
        "click_tracking": {"enable": False, "enable_text": False},
    }
    first = messages(campaign)[0]
    post(client, [event("open", first.id)])  # an account-wide pixel, say
    assert opens.opens_by_step(campaign) == {}
    page = results_page(app, client)
    assert 'data-key="unique_opens">-<' in page
    assert "this audience has open tracking off" in page_text_of(page)


def page_text_of(html: str) -> str:
    class _R:
        def get_data(self, as_text: bool = True) -> str:
            return html

    return page_text(_R())


def test_opens_are_counted_once_per_message_and_in_total(app, client, clock, fake, audience):
    campaign, settings = send(fake, audience, clock, track_opens=True)
    assert settings["open_tracking"] == {"enable": True}
    assert settings["click_tracking"] == {"enable": False, "enable_text": False}  # ours on
    first, second = messages(campaign)
    batch = [
        event("open", first.id, timestamp=STAMP + 60),
        event("open", first.id, timestamp=STAMP),
        event("open", second.id),
    ]
    counts = post(client, batch)
    assert counts["open"] == 3
    assert post(client, batch) == {"received": 3, "duplicate": 3}  # SendGrid retried
    assert messages(campaign)[0].opened_at == datetime.fromtimestamp(STAMP, UTC)
    step_id = campaign.steps[0].id
    assert opens.opens_by_step(campaign) == {step_id: 2}
    assert opens.total_opens_by_step(campaign) == {step_id: 3}
    result = app.test_cli_runner().invoke(args=["outreach", "stats", "--json", str(campaign.id)])
    assert result.exit_code == 0, result.output
    engagement = json.loads(result.output)["engagement"]
    assert engagement == [
        {"step_id": step_id, "opens": 2, "total_opens": 3, "clicks": 0, "scanner_hits": 0}
    ]
    page = results_page(app, client)
    assert 'data-key="unique_opens">2<' in page and 'data-key="total_opens">3<' in page
    assert "Apple Mail Privacy Protection" in page_text_of(page)
    assert "Opens are shown only for audiences with open tracking on" in page_text_of(page)


def test_opened_and_clicked_counts_read_only_the_opened_and_clicked_rows_on_postgresql(
    app, client, clock, fake, audience, is_postgres
):
    """The results' opens and clicks per step read the partial indexes of opened / clicked
    messages (migration 4b8e2f6a1c73), not every message of the campaign."""
    if not is_postgres:
        pytest.skip("the plan is PostgreSQL's; SQLite has the same indexes")
    campaign, _ = send(fake, audience, clock, track_opens=True, people=3)
    first = messages(campaign)[0]
    post(client, [event("open", first.id)])
    step_id = campaign.steps[0].id
    assert opens.opens_by_step(campaign) == {step_id: 1}
    db.session.execute(sql_text("ANALYZE outbox_messages"))
    for count_of, index in (
        (opens.opens_by_step, "ix_outbox_messages_opened"),
        (opens.clicks_by_step, "ix_outbox_messages_clicked"),
    ):
        statement, parameters = _executed(lambda count_of=count_of: count_of(campaign))
        connection = db.session.connection()
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        plan = connection.exec_driver_sql(f"EXPLAIN {statement}", parameters).scalars().all()
        assert index in "\n".join(plan), plan
    db.session.rollback()


def _executed(run: Callable[[], object]) -> tuple[str, object]:
    """The one SQL statement ``run`` sends to the database, with its parameters."""
    seen: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        seen.append((statement, parameters))

    sa_event.listen(db.engine, "before_cursor_execute", record)
    try:
        run()
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", record)
    assert len(seen) == 1, seen
    return seen[0]


def test_a_sendgrid_click_on_our_own_link_or_a_tracked_step_is_not_counted_twice(
    app, client, clock, fake, audience
):
    campaign, _ = send(fake, audience, clock, track_opens=True)
    first, second = messages(campaign)
    code = tracked.CODE.findall(tracked.personal_html(fake))[0]
    assert client.get(f"/r/{code}", headers={"User-Agent": BROWSER}).status_code == 302
    counts = post(
        client,
        [
            event("click", first.id, url=f"{BASE_URL}/r/{code}"),  # our link, seen by SendGrid
            event("click", second.id, url="https://clinic.example/june-awareness"),
        ],
    )
    assert counts["click"] == 2 and counts["click_first_party"] == 2
    rows = messages(campaign)
    assert rows[0].clicked_at is not None  # from /r/, once
    assert rows[1].clicked_at is None  # a tracked step: SendGrid's click is not a person's
    assert opens.clicks_by_step(campaign) == {campaign.steps[0].id: 1}
    assert 'data-key="clicks">1<' in results_page(app, client)


def test_without_our_link_tracking_sendgrid_tracks_and_counts_clicks(
    app, client, clock, fake, audience
):
    campaign, settings = send(fake, audience, clock, track_opens=True, track_links=False)
    assert settings["click_tracking"] == {"enable": True, "enable_text": True}
    first, _ = messages(campaign)
    url = "https://clinic.example/june-awareness"
    post(client, [event("click", first.id, url=url), event("click", first.id, url=url)])
    assert opens.clicks_by_step(campaign) == {campaign.steps[0].id: 1}
    # but a SendGrid click on one of our /r/ addresses never counts, whatever the campaign
    _, second = messages(campaign)
    post(client, [event("click", second.id, url=f"{BASE_URL}/r/AAAAAAAAAAAA")])
    assert messages(campaign)[1].clicked_at is None
