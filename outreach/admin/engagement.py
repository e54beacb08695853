"""The results page's opens-and-clicks card (``templates/admin/_opens.html``): a template
global, so the card needs no change to the results view."""

from __future__ import annotations

from outreach.admin import bp
from outreach.models import Campaign
from outreach.results import opens


@bp.app_template_global("campaign_engagement")
def campaign_engagement(campaign: Campaign) -> list[opens.StepEngagement]:
    """Opens (audiences with open tracking on) and clicks of every step of a campaign."""
    return opens.engagement(campaign)


@bp.app_template_global("campaign_tracks_opens")
def campaign_tracks_opens(campaign: Campaign) -> bool:
    """Whether the campaign's audience counts opens."""
    return opens.opens_tracked(campaign)
