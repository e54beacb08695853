"""Staff page for the sending workers: one row per running worker process, from its
heartbeat (``operations/heartbeats.py``), with those gone silent marked stale."""

from __future__ import annotations

from flask import render_template
from flask_login import login_required

from outreach.admin import bp
from outreach.operations import heartbeats


@bp.get("/workers")
@login_required
def workers():  # noqa: ANN201
    """Host, pid, start, last beat, the batch in hand; stale ones flagged."""
    return render_template(
        "admin/workers.html",
        workers=heartbeats.workers(),
        stale_after=heartbeats.ago(heartbeats.stale_after().total_seconds()),
    )
