"""Subscriber pages: search, detail with the consent timeline, staff opt-out, evidence."""

from __future__ import annotations

import json
from datetime import date

from flask import Response, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from outreach.admin import bp
from outreach.admin.auth import editor_required, recent_auth_required
from outreach.admin.common import confirmed, form_str, get_or_404
from outreach.audiences import finding
from outreach.campaigns import naming
from outreach.consent import evidence, subscriptions
from outreach.consent import ledger as consent_ledger
from outreach.extensions import db
from outreach.i18n import LANGUAGES
from outreach.models import Audience, Message, StaffUser, Subscriber, Subscription
from outreach.staff import audit as staff_audit


def _filter() -> finding.SubscriberFilter:
    args = request.args
    audience_id = args.get("audience", type=int)
    return finding.SubscriberFilter(
        query=(args.get("q") or "").strip()[:200],
        audience_id=audience_id if audience_id and audience_id > 0 else None,
        channel=args.get("channel", "") if args.get("channel") in finding.CHANNELS else "",
        state=args.get("state", "") if args.get("state") in finding.STATES else "",
        language=args.get("language", "") if args.get("language") in LANGUAGES else "",
        since=_day(args.get("since")),
        until=_day(args.get("until")),
    )


def _day(raw: str | None) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


@bp.get("/subscribers")
@login_required
def subscribers():  # noqa: ANN201
    """Search by email, phone or name; filter; 50 a page, newest first."""
    wanted = _filter()
    page = finding.find(wanted, before=request.args.get("before", type=int))
    states: dict[int, list[Subscription]] = {}
    if page.rows:
        for sub in db.session.scalars(
            select(Subscription)
            .where(Subscription.subscriber_id.in_([s.id for s in page.rows]))
            .order_by(Subscription.audience_id, Subscription.channel)
        ):
            states.setdefault(sub.subscriber_id, []).append(sub)
    args = {k: v for k, v in request.args.items() if k != "before" and v}
    return render_template(
        "admin/subscribers.html",
        wanted=wanted,
        query=wanted.query,
        found=page.rows,
        next_url=url_for("admin.subscribers", **args, before=page.next_before)
        if page.next_before
        else None,
        first_url=url_for("admin.subscribers", **args) if request.args.get("before") else None,
        states=states,
        audiences=db.session.scalars(select(Audience).order_by(Audience.name)).all(),
        channels=finding.CHANNELS,
        subscription_states=finding.STATES,
        languages=LANGUAGES,
    )


def _timeline(subscriber: Subscriber) -> list[dict]:
    audiences = dict(db.session.execute(select(Audience.id, Audience.name)).all())
    actors = dict(db.session.execute(select(StaffUser.id, StaffUser.email)).all())
    return [
        {
            "event": row,
            "audience": audiences.get(row.audience_id),
            "actor": actors.get(row.actor_id),
        }
        for row in reversed(consent_ledger.ledger_for(subscriber))
    ]


@bp.get("/subscribers/<int:subscriber_id>")
@login_required
def subscriber(subscriber_id: int):  # noqa: ANN201
    """One person: subscriptions, the consent ledger as a timeline, recent messages."""
    person = get_or_404(Subscriber, subscriber_id)
    subs = db.session.scalars(
        select(Subscription)
        .where(Subscription.subscriber_id == person.id)
        .order_by(Subscription.audience_id, Subscription.channel)
    ).all()
    messages = db.session.scalars(
        select(Message)
        .where(Message.subscriber_id == person.id)
        .order_by(Message.id.desc())
        .limit(50)
    ).all()
    return render_template(
        "admin/subscriber.html",
        person=person,
        subs=subs,
        timeline=_timeline(person),
        messages=messages,
        step_names=naming.step_names(m.step_id for m in messages),
    )


@bp.route("/subscribers/<int:subscriber_id>/opt-out", methods=["GET", "POST"])
@editor_required
def subscriber_opt_out(subscriber_id: int):  # noqa: ANN201
    """Staff opt-out (a call, a letter, an email reply): confirm, then record who did it."""
    person = get_or_404(Subscriber, subscriber_id)
    source = request.form if request.method == "POST" else request.args
    channel = source.get("channel", "")
    scope = source.get("scope", "audience")
    sub = None
    if source.get("subscription", "").isdigit():
        sub = db.session.get(Subscription, int(source["subscription"]))
        if sub is None or sub.subscriber_id != person.id:
            sub = None
        else:
            channel = sub.channel
    if channel not in ("email", "sms") or (scope == "audience" and sub is None):
        flash("Choose which subscription to end.", "error")
        return redirect(url_for("admin.subscriber", subscriber_id=person.id), 303)
    note = form_str("note")[:500] if request.method == "POST" else ""
    if request.method == "GET" or not confirmed():
        return render_template(
            "admin/opt_out.html", person=person, sub=sub, channel=channel, scope=scope, note=note
        )
    proof = consent_ledger.Evidence(
        source="admin",
        wording="Opt-out recorded by staff",
        actor_id=current_user.id,
        note=note or None,
    )
    if scope == "everywhere":
        changed = subscriptions.opt_out_everywhere(person, channel, proof)
    else:
        changed = int(subscriptions.revoke(sub, proof))  # type: ignore[arg-type]
    staff_audit.audit(
        current_user.id,
        "subscriber.opt_out",
        "subscriber",
        person.id,
        f"{channel}, {'all audiences' if scope == 'everywhere' else 'one audience'}: "
        f"{changed} subscription(s) ended",
    )
    db.session.commit()
    label = "Emails" if channel == "email" else "Texts"
    flash(
        f"{label} stopped: {changed} subscription(s) ended, queued messages cancelled."
        if changed
        else "Nothing to change: already opted out."
    )
    return redirect(url_for("admin.subscriber", subscriber_id=person.id), 303)


@bp.get("/subscribers/<int:subscriber_id>/evidence.<fmt>")
@login_required
@recent_auth_required
def subscriber_evidence(subscriber_id: int, fmt: str):  # noqa: ANN201
    """The consent evidence of one person as a CSV or JSON download."""
    person = get_or_404(Subscriber, subscriber_id)
    name = f"consent-evidence-{person.public_id}"
    if fmt == "csv":
        body, mimetype = evidence.ledger_csv(person), "text/csv; charset=utf-8"
    elif fmt == "json":
        body, mimetype = json.dumps(evidence.ledger_json(person), indent=2), "application/json"
    else:
        return Response("Choose csv or json.", 404)
    return Response(
        body,
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'},
    )
