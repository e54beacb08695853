"""Staff pages: the start page, dev mailbox, inbound texts."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import login_required
from sqlalchemy import select

from outreach.admin import bp
from outreach.admin.auth import editor_required
from outreach.admin.campaign_list import campaigns as campaign_list
from outreach.admin.common import form_str, form_text
from outreach.admin.times import staff_zone
from outreach.devtools import inbound_simulator
from outreach.devtools import mailbox as console_mailbox
from outreach.extensions import db
from outreach.models import InboundSms


@bp.get("/")
@login_required
def dashboard():  # noqa: ANN201
    """The workspace starts at the campaign list."""
    return campaign_list()


@bp.get("/dev/mailbox")
@login_required
def dev_mailbox():  # noqa: ANN201
    """What the console channels 'sent', newest first: search, pages, one open at a time."""
    found = console_mailbox.find(
        request.args.get("q", "")[:200],
        request.args.get("page", 1, type=int),
        staff_zone(),
    )
    return render_template(
        "admin/mailbox.html",
        found=found,
        console=current_app.config["OUTREACH_EMAIL_CHANNEL"] == "console",
        simulator=inbound_simulator.available(),
    )


@bp.get("/inbound")
@login_required
def inbound():  # noqa: ANN201
    """Texts subscribers sent us."""
    rows = db.session.scalars(select(InboundSms).order_by(InboundSms.id.desc()).limit(200)).all()
    return render_template("admin/inbound.html", rows=rows)


SIMULATED_AS = {
    "opt_out": "an opt-out (STOP)",
    "opt_in": "an opt-in (YES / START)",
    "help": "a HELP request",
    "other": "an ordinary message (see Replies)",
}


@bp.post("/dev/mailbox/reply")
@editor_required
def dev_mailbox_reply():  # noqa: ANN201
    """Reply to a text as the subscriber (development only)."""
    if not inbound_simulator.available():
        abort(404)
    try:
        reply = inbound_simulator.reply_as_subscriber(form_str("from"), form_text("body"))
    except ValueError as exc:
        flash(f"Not simulated: {exc}.", "error")
    else:
        handled = SIMULATED_AS.get(reply.intent.value, reply.intent.value)
        flash(f"Handled as {handled}" + ("; our reply is below." if reply.body else "."))
    return redirect(url_for("admin.dev_mailbox"), 303)
