"""Staff workspace."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from outreach.admin import (  # noqa: E402, F401
    account,
    audiences,
    auth,
    blocks,
    campaign_files,
    campaign_list,
    campaigns,
    engagement,
    importing,
    outbox,
    previews,
    requests,
    results,
    staff,
    step_editor,
    subscriber_edits,
    subscribers,
    suppressions,
    times,
    views,
    workers,
)
