"""Results and stats split by language: each step's English and Spanish readers, what went
out, arrived, failed or waits, on the results page, its JSON and ``flask outreach stats``."""

from __future__ import annotations

from outreach.sending import run as sending
from tests.admin.support import text
from tests.sending import test_languages as languages_case
from tests.sending import test_reconcile as case
from tests.sending.test_reconcile import june_first

fake = case.fake
audience = case.audience


def sent_campaign(clock, fake, audience):  # noqa: ANN001, ANN201
    languages_case.people(audience, english=3, spanish=2)
    campaign = languages_case.campaign_with_spanish(audience, "email")
    june_first(clock, fake)
    fake.fail_next(1, status=400, api="email")  # the first request (English) is refused
    sending.dispatch_once()
    return campaign


def test_the_results_page_and_json_split_each_step_by_language(app, viewer, clock, fake, audience):
    campaign = sent_campaign(clock, fake, audience)
    page = viewer.get(f"/admin/campaigns/{campaign.id}/results")
    assert page.status_code == 200
    body = text(page)
    assert "By language" in body and "Español" in body and "English" in body

    numbers = viewer.get(f"/admin/campaigns/{campaign.id}/results.json").get_json()
    split = {row["language"]: row for row in numbers["by_language"]}
    assert split["en"]["total"] == 3 and split["es"]["total"] == 2
    assert split["en"]["failed"] == 3 and split["en"]["sent"] == 0
    assert split["es"]["sent"] == 2 and split["es"]["failed"] == 0


def test_stats_prints_the_split_and_nothing_when_everyone_reads_english(
    app, cli, clock, fake, audience
):
    campaign = sent_campaign(clock, fake, audience)
    output = cli.invoke(args=["outreach", "stats", str(campaign.id)]).output
    lines = output.splitlines()
    assert "by language:" in lines
    en = next(line.split() for line in lines if line.split()[:3] == ["1", "email", "en"])
    es = next(line.split() for line in lines if line.split()[:3] == ["1", "email", "es"])
    assert en[3:6] == ["3", "0", "0"] and en[6] == "3"  # total, sent, delivered, failed
    assert es[3:5] == ["2", "2"]


def test_an_english_only_campaign_shows_no_split(app, viewer, cli, clock, fake, audience):
    languages_case.people(audience, english=2, spanish=0)
    campaign = languages_case.campaign_with_spanish(audience, "email")
    june_first(clock, fake)
    sending.dispatch_once()
    assert "By language" not in text(viewer.get(f"/admin/campaigns/{campaign.id}/results"))
    assert "by language:" not in cli.invoke(args=["outreach", "stats", str(campaign.id)]).output
