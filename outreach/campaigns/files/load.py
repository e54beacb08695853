"""Load a campaign file as a draft (or replace the draft of the same name)."""

from __future__ import annotations

from pathlib import Path

from outreach.campaigns import lifecycle
from outreach.campaigns.files.check import examine
from outreach.campaigns.files.parse import anchor_of, build_steps, find_campaign
from outreach.campaigns.files.problems import CampaignFileError, Problem, sorted_problems
from outreach.clock import now as clock_now
from outreach.extensions import db
from outreach.models import Campaign


def load(text: str, *, schedule: bool = False) -> Campaign:
    """Create the campaign as a draft, or replace the steps of the draft with the same name.

    Refuses (CampaignFileError, nothing changed) on file problems, on an unknown audience or
    template errors, when the campaign exists and is not a draft, and with ``schedule=True``
    when preflight finds errors (the session is rolled back then: the draft had been flushed).
    Flushes; the caller commits.
    """
    result = examine(text)
    if result.file_problems:
        raise CampaignFileError(sorted_problems(result.file_problems))
    data, audience = result.data, result.audience
    assert data is not None and audience is not None and result.campaign is not None
    existing = find_campaign(data["name"])
    if existing is not None and existing.status != "draft":
        raise CampaignFileError(
            f"campaign '{existing.name}' is already {existing.status}; only a draft can be "
            "replaced from a file: export a copy and load it under a new name",
            data.key_lines.get("name"),
        )
    if existing is None:
        campaign = result.campaign
        campaign.created_at = campaign.updated_at = clock_now()
        db.session.add(campaign)
    else:
        campaign = existing
        kind, anchor_date = anchor_of(data)
        campaign.audience = audience
        campaign.anchor_kind = kind
        campaign.anchor_date = anchor_date
        campaign.paused_reason = None
        campaign.updated_at = clock_now()
        campaign.steps.clear()
        db.session.flush()  # delete the old steps before inserting positions again
        campaign.steps.extend(build_steps(data, kind == "date"))
    db.session.flush()
    if schedule:  # asking for it on the command line acknowledges the warnings
        try:
            lifecycle.schedule(campaign, acknowledged=True)
        except lifecycle.LifecycleError as exc:
            db.session.rollback()  # the draft was flushed: refused means nothing changes
            raise CampaignFileError(
                [Problem(None, f"not scheduled: {exc}"), *result.preflight_errors]
            ) from None
    return campaign


def load_path(path: Path, *, schedule: bool = False) -> Campaign:
    """``load`` the campaign file at ``path`` (UTF-8)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CampaignFileError(f"{path}: not UTF-8 text ({exc.reason})") from None
    return load(text, schedule=schedule)
