"""``flask outreach demo --with-activity``: a labelled sample campaign whose results page
shows clicks, scanner hits, requests, opt-outs and opens; a second run adds nothing; the
June campaign's last email and text link to the consultation request page."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from outreach.extensions import db
from outreach.models import Campaign, ConsultationRequest, LinkClick, Message, Subscriber
from outreach.sending import compose
from outreach.tracking import links as tracking
from tests.helpers import BASE_URL, page_text


def cell(page: str, table_row: str, key: str) -> int:
    """The number in one ``data-key`` cell of the first row matching ``table_row``."""
    row = re.search(table_row + r".*?</tr>", page, re.S)
    assert row, table_row
    value = re.search(rf'data-key="{key}">(?:<b>)?([0-9,]+)', row.group(0))
    assert value, (key, row.group(0))
    return int(value.group(1).replace(",", ""))


def totals() -> dict[str, int]:
    return {
        model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
        for model in (Campaign, Subscriber, Message, LinkClick, ConsultationRequest)
    }


def test_demo_with_activity_fills_the_results_page_once(app, cli, admin):
    first = cli.invoke(args=["outreach", "demo", "--with-activity"])
    assert first.exit_code == 0, first.output
    assert "Sample activity" in first.output and "nothing was sent" in first.output
    made = totals()
    sample = db.session.scalar(select(Campaign).where(Campaign.name.like("Sample activity:%")))
    assert sample.status == "done"  # never sends
    people = db.session.scalars(select(Subscriber.email)).all()
    assert people and all(e.endswith("@example.org") for e in people)
    assert "sample activity" in sample.audience.name

    page = admin.get(f"/admin/campaigns/{sample.id}/results").get_data(as_text=True)
    assert "Sample activity" in page_text_of(page)
    assert cell(page, r'<tr data-step="all" data-channel="email"', "requests") > 0
    assert cell(page, r'<tr data-step="all" data-channel="sms"', "requests") > 0
    assert cell(page, r'<tr data-step="all" data-channel="email"', "opt_outs") > 0
    assert cell(page, r'<tr data-step="all" data-channel="email"', "delivered") > 0
    card = page[page.index('id="engagement"') :]
    last_email, last_text = (
        f'<tr data-step="{n}">' for n in (len(sample.steps) - 1, len(sample.steps))
    )
    assert cell(card, last_email, "clicks") > 0 and cell(card, last_text, "clicks") > 0
    assert cell(card, last_email, "scanner_hits") > 0
    assert cell(card, '<tr data-step="1">', "unique_opens") > 0

    again = cli.invoke(args=["outreach", "demo", "--with-activity"])
    assert again.exit_code == 0 and "already there" in again.output
    assert totals() == made


def page_text_of(html: str) -> str:
    class _Response:
        def get_data(self, as_text: bool = True) -> str:
            return html

    return page_text(_Response())


def test_the_june_campaigns_last_email_and_text_link_to_the_request_page(app, cli):
    assert cli.invoke(args=["outreach", "demo"]).exit_code == 0
    june = db.session.scalar(select(Campaign).where(Campaign.name.like("National%")))
    request_page = f"{BASE_URL}/request/{june.audience.slug}"
    emails = [s for s in june.steps if s.channel == "email"]
    texts = [s for s in june.steps if s.channel == "sms"]
    for language in ("en", "es"):
        last_email = compose.render_step_email(emails[-1], june.audience, language)
        assert f'href="{request_page}"' in last_email.html
        text = compose.SmsComposer(texts[-1], june.audience, language=language)._body
        assert f"{BASE_URL}/r/" in text  # a tracked link: a request is credited to the text
        assert tracking.link_url(texts[-1].id, 1) == request_page
        assert request_page not in compose.render_step_email(emails[0], june.audience).html
