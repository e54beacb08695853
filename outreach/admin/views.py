"""Staff pages: the start page, dev mailbox, inbound texts."""

from __future__ import annotations

from flask import current_app, render_template
from flask_login import login_required
from sqlalchemy import select

from outreach.admin import bp
from outreach.admin.campaign_list import campaigns as campaign_list
from outreach.devtools import mailbox as console_mailbox
from outreach.extensions import db
from outreach.models import InboundSms
from outreach.rendering.sms import sms_segments


@bp.get("/")
@login_required
def dashboard():  # noqa: ANN201
    """The workspace starts at the campaign list."""
    return campaign_list()


@bp.get("/dev/mailbox")
@login_required
def dev_mailbox():  # noqa: ANN201
    """What the console channels 'sent': emails rendered, texts as bubbles."""
    items = console_mailbox.recent_messages()
    for item in items:
        if item.get("kind") == "sms":
            item["segments"] = sms_segments(item.get("body", ""))
    return render_template(
        "admin/mailbox.html",
        items=items,
        console=current_app.config["OUTREACH_EMAIL_CHANNEL"] == "console",
    )


@bp.get("/inbound")
@login_required
def inbound():  # noqa: ANN201
    """Texts subscribers sent us."""
    rows = db.session.scalars(select(InboundSms).order_by(InboundSms.id.desc()).limit(200)).all()
    return render_template("admin/inbound.html", rows=rows)
