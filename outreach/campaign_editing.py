"""Staff edits to campaigns and steps, previews, test sends and lifecycle (the rules).

* Audience, anchor and step order change only while a campaign is a draft.
* Step content can change until the campaign is done or cancelled. Outbox rows are
  rendered when they are sent, so an edit reaches every message not yet sent and none
  already sent.
* A step that already has outbox rows keeps its channel and timing (rows carry their due
  time) and cannot be deleted (its rows are the record of what was sent).
* Scheduling needs a preflight with no errors, and an explicit acknowledgement of any
  warnings.

Every change is written to the audit log. Functions flush; the caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import func, select

from outreach import campaigns, consent, dispatch, preflight, rendering, staff
from outreach.channels.base import EmailBatch, EmailRecipient, Outcome
from outreach.clock import now as clock_now
from outreach.contacts import InvalidContact, normalise_phone
from outreach.extensions import db
from outreach.models import Audience, Campaign, Message, StaffUser, Step, StepZone, Subscriber
from outreach.models.campaigns import ANCHORS

#: Campaign states in which nothing can be edited any more.
CLOSED = ("done", "cancelled")
#: The longest day offset and confirmation delay (same limits as campaign files).
MAX_DAY_OFFSET = 3660
MAX_AFTER_MINUTES = 366 * 24 * 60
#: public_id used for links in test sends: such links lead to "no longer valid".
TEST_PUBLIC_ID = "test-send-not-a-subscriber"
EMAIL_FIELDS = ("subject", "preheader", "html", "text")


class EditError(ValueError):
    """A change that is not allowed or not valid; ``errors`` maps fields to problems."""

    def __init__(self, errors: dict[str, str] | str) -> None:
        self.errors = errors if isinstance(errors, dict) else {"": errors}
        super().__init__("; ".join(self.errors.values()))


# --------------------------------------------------------------------------- campaigns


@dataclass
class CampaignInput:
    """What the campaign form holds."""

    name: str = ""
    audience_id: int | None = None
    anchor_kind: str = "date"
    anchor_date: str = ""


def _check_campaign(data: CampaignInput, campaign: Campaign | None) -> tuple[Audience, date | None]:
    errors: dict[str, str] = {}
    name = data.name.strip()
    if not name:
        errors["name"] = "give the campaign a name"
    elif len(name) > 200:
        errors["name"] = "at most 200 characters"
    else:
        clash = db.session.scalar(select(Campaign.id).filter_by(name=name))
        if clash is not None and (campaign is None or clash != campaign.id):
            errors["name"] = "another campaign already has this name"
    audience = db.session.get(Audience, data.audience_id) if data.audience_id else None
    if audience is None:
        errors["audience_id"] = "choose an audience"
    anchor_date = None
    if data.anchor_kind not in ANCHORS:
        errors["anchor_kind"] = "choose a calendar date or each subscriber's confirmation"
    elif data.anchor_kind == "date":
        try:
            anchor_date = date.fromisoformat(data.anchor_date.strip())
        except ValueError:
            errors["anchor_date"] = "a date like 2027-06-01"
    if errors:
        raise EditError(errors)
    return audience, anchor_date  # type: ignore[return-value]


def create_campaign(data: CampaignInput, actor_id: int | None) -> Campaign:
    """Create a draft campaign; raises EditError."""
    audience, anchor_date = _check_campaign(data, None)
    at = clock_now()
    campaign = Campaign(
        name=data.name.strip(),
        audience=audience,
        status="draft",
        anchor_kind=data.anchor_kind,
        anchor_date=anchor_date,
        created_at=at,
        updated_at=at,
    )
    db.session.add(campaign)
    db.session.flush()
    staff.audit(actor_id, "campaign.create", "campaign", campaign.id, campaign.name)
    return campaign


def update_campaign(campaign: Campaign, data: CampaignInput, actor_id: int | None) -> None:
    """Rename a campaign; audience and anchor change only while it is a draft."""
    _open(campaign)
    audience, anchor_date = _check_campaign(data, campaign)
    structural = (
        audience.id != campaign.audience_id
        or data.anchor_kind != campaign.anchor_kind
        or (data.anchor_kind == "date" and anchor_date != campaign.anchor_date)
    )
    if structural and campaign.status != "draft":
        raise EditError(
            "audience and anchor can only change while the campaign is a draft; "
            "cancel it and make a new one instead"
        )
    changed = []
    if campaign.name != data.name.strip():
        campaign.name = data.name.strip()
        changed.append("name")
    if structural:
        campaign.audience = audience
        campaign.anchor_kind = data.anchor_kind
        campaign.anchor_date = anchor_date
        changed.append("audience/anchor")
    if changed:
        campaign.updated_at = clock_now()
        staff.audit(actor_id, "campaign.update", "campaign", campaign.id, ", ".join(changed))
    db.session.flush()


def _open(campaign: Campaign) -> None:
    if campaign.status in CLOSED:
        raise EditError(f"this campaign is {campaign.status}; it can no longer change")


# --------------------------------------------------------------------------- steps


@dataclass
class StepInput:
    """What the step editor holds (strings as typed; numbers already parsed or None)."""

    channel: str = "email"
    day_offset: int | None = 0
    send_time: str = "10:00"
    after_minutes: int | None = 0
    subject: str = ""
    preheader: str = ""
    html: str = ""
    text: str = ""
    body: str = ""
    include_late_joiners: bool = False

    @classmethod
    def from_step(cls, step: Step) -> StepInput:
        """The editor's values for an existing step."""
        return cls(
            channel=step.channel,
            day_offset=step.day_offset,
            send_time=step.send_time,
            after_minutes=step.after_minutes,
            subject=step.subject or "",
            preheader=step.preheader or "",
            html=step.html or "",
            text=step.text or "",
            body=step.body or "",
            include_late_joiners=step.include_late_joiners,
        )


def row_count(step: Step) -> int:
    """How many outbox rows a step has (queued, sent, anything)."""
    if step.id is None:
        return 0
    return db.session.scalar(select(func.count(Message.id)).where(Message.step_id == step.id)) or 0


def _materialised(step: Step) -> bool:
    """Has the outbox already fanned this step out for some time zone (even to no one)?"""
    return (
        db.session.scalar(select(StepZone.id).where(StepZone.step_id == step.id).limit(1))
        is not None
    )


def _check_step(campaign: Campaign, data: StepInput) -> dict[str, str]:
    errors: dict[str, str] = {}
    if data.channel not in ("email", "sms"):
        errors["channel"] = "email or sms"
        return errors
    if campaign.anchor_kind == "date":
        if data.day_offset is None or not 0 <= data.day_offset <= MAX_DAY_OFFSET:
            errors["day_offset"] = f"a whole number of days from 0 to {MAX_DAY_OFFSET}"
        try:
            campaigns.parse_hhmm(data.send_time)
        except ValueError:
            errors["send_time"] = "a local time like 10:00"
    elif data.after_minutes is None or not 0 <= data.after_minutes <= MAX_AFTER_MINUTES:
        errors["after_minutes"] = "a delay from 0 minutes up to a year"
    fields_ = EMAIL_FIELDS if data.channel == "email" else ("body",)
    limits = {"subject": 300, "preheader": 300}
    for name in fields_:
        source = getattr(data, name)
        if name in limits and len(source) > limits[name]:
            errors[name] = f"at most {limits[name]} characters"
            continue
        problems = rendering.check_template(source) if source else []
        if problems:
            errors[name] = "; ".join(problems)
    if data.channel == "email":
        if not data.subject.strip():
            errors.setdefault("subject", "an email needs a subject")
        if not data.html.strip():
            errors.setdefault("html", "an email needs a body")
    elif not data.body.strip():
        errors.setdefault("body", "a text needs a body")
    return errors


def _hhmm(value: str) -> str:
    """ "9:05" -> "09:05" (the value has been checked with parse_hhmm)."""
    return campaigns.parse_hhmm(value).strftime("%H:%M")


def _apply_step(step: Step, data: StepInput, calendar: bool) -> None:
    step.channel = data.channel
    if calendar:
        step.day_offset = int(data.day_offset or 0)
        step.send_time = _hhmm(data.send_time)
        step.after_minutes = 0
    else:
        step.day_offset = 0
        step.after_minutes = int(data.after_minutes or 0)
    step.include_late_joiners = data.include_late_joiners
    if data.channel == "email":
        step.subject = data.subject.strip()
        step.preheader = data.preheader.strip()
        step.html = data.html
        step.text = data.text if data.text.strip() else None
        step.body = ""
    else:
        step.body = data.body
        step.subject = step.preheader = step.html = ""
        step.text = None
    step.updated_at = clock_now()


def add_step(campaign: Campaign, data: StepInput, actor_id: int | None) -> Step:
    """Append a step; raises EditError."""
    _open(campaign)
    errors = _check_step(campaign, data)
    if errors:
        raise EditError(errors)
    position = max((s.position for s in campaign.steps), default=-1) + 1
    step = Step(position=position)
    _apply_step(step, data, campaign.anchor_kind == "date")
    campaign.steps.append(step)
    campaign.updated_at = clock_now()
    db.session.flush()
    staff.audit(actor_id, "step.create", "step", step.id, f"campaign {campaign.id} {step.channel}")
    return step


def update_step(step: Step, data: StepInput, actor_id: int | None) -> None:
    """Change a step. Content edits reach every message not yet sent; raises EditError."""
    campaign = step.campaign
    _open(campaign)
    errors = _check_step(campaign, data)
    if errors:
        raise EditError(errors)
    calendar = campaign.anchor_kind == "date"
    if calendar:
        timing = (int(data.day_offset or 0), _hhmm(data.send_time))
        timing_changed = timing != (step.day_offset, _hhmm(step.send_time))
    else:
        timing_changed = int(data.after_minutes or 0) != step.after_minutes
    timing_changed = timing_changed or data.channel != step.channel
    if timing_changed:
        rows = row_count(step)
        if rows or _materialised(step):
            raise EditError(
                f"this step has gone to the outbox already ({rows} message(s)), so its channel "
                "and timing are fixed; its content can still change (it reaches messages not "
                "yet sent)"
            )
    _apply_step(step, data, calendar)
    campaign.updated_at = clock_now()
    db.session.flush()
    staff.audit(actor_id, "step.update", "step", step.id, f"campaign {campaign.id}")


def _renumber(campaign: Campaign, ordered: list[Step]) -> None:
    # Two passes: (campaign_id, position) is unique, so park every step out of the way first.
    for index, step in enumerate(ordered):
        step.position = -1 - index
    db.session.flush()
    for index, step in enumerate(ordered):
        step.position = index
    db.session.flush()


def delete_step(step: Step, actor_id: int | None) -> None:
    """Remove a step that has no outbox rows yet; raises EditError."""
    campaign = step.campaign
    _open(campaign)
    # Locked, then counted: a dispatch tick creating this step's rows holds it FOR KEY
    # SHARE until they are committed (outbox.hold_step), so the count cannot go stale.
    db.session.get(Step, step.id, with_for_update=True)
    rows = row_count(step)
    if rows:
        raise EditError(
            f"this step already has {rows} message(s) in the outbox; they are the record of "
            "what was sent, so the step stays (pause or cancel the campaign instead)"
        )
    remaining = [s for s in campaign.steps if s.id != step.id]
    staff.audit(actor_id, "step.delete", "step", step.id, f"campaign {campaign.id}")
    campaign.steps.remove(step)
    db.session.delete(step)
    db.session.flush()
    _renumber(campaign, remaining)
    campaign.updated_at = clock_now()


def move_step(step: Step, offset: int, actor_id: int | None) -> None:
    """Move a step up (-1) or down (+1) in the sequence; drafts only."""
    campaign = step.campaign
    if campaign.status != "draft":
        raise EditError("the order of steps can only change while the campaign is a draft")
    ordered = sorted(campaign.steps, key=lambda s: s.position)
    index = ordered.index(step)
    target = index + offset
    if not 0 <= target < len(ordered):
        return
    ordered[index], ordered[target] = ordered[target], ordered[index]
    _renumber(campaign, ordered)
    campaign.updated_at = clock_now()
    staff.audit(actor_id, "step.move", "step", step.id, f"to position {target + 1}")


def is_first_sms(step: Step) -> bool:
    """The first text of a campaign gets the brand and STOP wording when missing."""
    sms = [s for s in sorted(step.campaign.steps, key=lambda s: s.position) if s.channel == "sms"]
    return bool(sms) and (sms[0] is step)


# --------------------------------------------------------------------------- timeline


@dataclass(frozen=True)
class TimelineEntry:
    """One step placed in time."""

    step: Step
    number: int
    when: str
    day: date | None
    sort_key: tuple[int, int]


def describe_delay(minutes: int) -> str:
    """``0`` -> "right after confirming"; 90 -> "1 h 30 min after confirming"."""
    if not minutes:
        return "right after confirming"
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = [f"{days} day{'s' if days != 1 else ''}"] if days else []
    parts += [f"{hours} h"] if hours else []
    parts += [f"{mins} min"] if mins else []
    return " ".join(parts) + " after confirming"


def timeline(campaign: Campaign) -> list[TimelineEntry]:
    """The steps in the order they go out, each with a human description of when."""
    entries = []
    for number, step in enumerate(sorted(campaign.steps, key=lambda s: s.position), start=1):
        if campaign.anchor_kind == "date" and campaign.anchor_date is not None:
            day = campaign.anchor_date + timedelta(days=step.day_offset)
            when = f"{day:%a %d %b %Y}, {step.send_time} local time (day {step.day_offset})"
            hours, _, minutes = step.send_time.partition(":")
            key = (step.day_offset, int(hours) * 60 + int(minutes or 0))
        else:
            day = None
            when = describe_delay(step.after_minutes)
            key = (step.after_minutes, 0)
        entries.append(TimelineEntry(step, number, when, day, key))
    return sorted(entries, key=lambda e: (e.sort_key, e.number))


# --------------------------------------------------------------------------- preview


@dataclass
class Preview:
    """A step as one recipient would get it."""

    channel: str
    recipient_label: str
    subject: str = ""
    preheader: str = ""
    html: str = ""
    text: str = ""
    from_line: str = ""
    body: str = ""
    segments: rendering.Segments | None = None
    added_wording: bool = False
    error: str | None = None
    notes: list[str] = field(default_factory=list)


def _recipient(subscriber: Subscriber | None, audience: Audience) -> dispatch.Recipient:
    if subscriber is None:
        return dispatch.Recipient(
            0, TEST_PUBLIC_ID, "alex@example.org", "+12025550143", "Alex", audience.default_timezone
        )
    return dispatch.Recipient(
        subscriber.id,
        subscriber.public_id,
        subscriber.email,
        subscriber.phone,
        subscriber.first_name,
        subscriber.timezone,
    )


def _personalize(value: str, substitutions: dict[str, str]) -> str:
    for key, replacement in substitutions.items():
        value = value.replace(key, replacement)
    return value


def preview(step: Step, subscriber: Subscriber | None = None) -> Preview:
    """Render a step for one subscriber (or a sample person), exactly as dispatch would."""
    audience = step.campaign.audience
    recipient = _recipient(subscriber, audience)
    label = (
        f"{subscriber.first_name or 'subscriber'} ({subscriber.email or subscriber.phone})"
        if subscriber is not None
        else "a sample subscriber named Alex"
    )
    result = Preview(channel=step.channel, recipient_label=label)
    try:
        if step.channel == "email":
            rendered = dispatch.render_step_email(step, audience)
            subs = dispatch.substitutions_for(recipient, audience, "email")
            result.subject = _personalize(rendered.subject, subs)
            result.preheader = _personalize(rendered.preheader, subs)
            result.html = _personalize(rendered.html, subs)
            result.text = _personalize(rendered.text, subs)
            sender = audience.from_email or "(the default sender address)"
            result.from_line = f"{audience.organisation_name or audience.name} <{sender}>"
        else:
            result.body = dispatch.compose_sms(step, audience, recipient)
            result.segments = rendering.sms_segments(result.body)
            plain = rendering.render_sms(
                step.body,
                {
                    **dispatch.shared_context(audience),
                    "first_name": recipient.first_name or "there",
                },
            )
            result.added_wording = plain != result.body
    except (rendering.TemplateError, ValueError) as exc:
        result.error = str(exc)
    if subscriber is None:
        return result
    contact = subscriber.email if step.channel == "email" else subscriber.phone
    if not contact:
        kind = "email address" if step.channel == "email" else "mobile number"
        result.notes.append(f"This subscriber has no {kind}: they would not get this step.")
    elif not consent.may_contact(subscriber, step.channel, audience):
        result.notes.append(
            "This subscriber has no active consent on this channel for this audience: "
            "they would not get this step."
        )
    return result


def find_audience_subscriber(audience: Audience, query: str) -> Subscriber | None:
    """The first subscriber of an audience matching an email, phone or first name."""
    from outreach.models import Subscription

    query = (query or "").strip()
    if not query:
        return None
    like = f"%{query.lower()}%"
    digits = "".join(ch for ch in query if ch.isdigit())
    match = func.lower(Subscriber.email).like(like) | func.lower(Subscriber.first_name).like(like)
    if len(digits) >= 4:
        match = match | Subscriber.phone.like(f"%{digits}%")
    return db.session.scalar(
        select(Subscriber)
        .join(Subscription, Subscription.subscriber_id == Subscriber.id)
        .where(Subscription.audience_id == audience.id, match)
        .order_by(Subscriber.id)
        .limit(1)
    )


# --------------------------------------------------------------------------- test sends


def staff_emails() -> list[str]:
    """Addresses test emails may go to: active staff members."""
    return list(
        db.session.scalars(
            select(StaffUser.email).where(StaffUser.active.is_(True)).order_by(StaffUser.email)
        )
    )


def send_test(
    step: Step,
    *,
    to: str,
    subscriber: Subscriber | None,
    actor_id: int | None,
) -> str:
    """Send one copy of a step to a staff address (email) or phone (SMS), marked [Test].

    Personal values come from ``subscriber`` (or a sample); the unsubscribe and preference
    links lead nowhere, so a test can never change anyone's consent. Returns a
    confirmation sentence; raises EditError when it cannot be sent.
    """
    audience = step.campaign.audience
    base = _recipient(subscriber, audience)
    if step.channel == "email":
        address = to.strip().lower()
        if address not in staff_emails():
            raise EditError({"to": "test emails go to staff addresses only"})
        recipient = dispatch.Recipient(
            0, TEST_PUBLIC_ID, address, None, base.first_name, base.timezone
        )
        try:
            rendered = dispatch.render_step_email(step, audience)
        except (rendering.TemplateError, ValueError) as exc:
            raise EditError(f"the step cannot be rendered: {exc}") from None
        subs = dispatch.substitutions_for(recipient, audience, "email")
        email_channel, _ = dispatch.channels()
        results = email_channel.send_batch(
            EmailBatch(
                from_email=audience.from_email or _default_from(),
                from_name=audience.organisation_name or audience.name,
                subject=f"[Test] {rendered.subject}",
                html=rendered.html,
                text=rendered.text,
                recipients=(
                    EmailRecipient(
                        message_id=0,
                        to=address,
                        substitutions=subs,
                        headers=dispatch.unsubscribe_headers(
                            subs[rendering.tag("unsubscribe_url")]
                        ),
                    ),
                ),
                categories=("outreach", "test"),
                reply_to=audience.support_email or None,
            )
        )
        ok = all(r.outcome == Outcome.SENT for r in results)
        where = address
    else:
        try:
            phone = normalise_phone(to)
        except InvalidContact as exc:
            raise EditError({"to": str(exc)}) from None
        recipient = dispatch.Recipient(
            0, TEST_PUBLIC_ID, None, phone, base.first_name, base.timezone
        )
        try:
            body = dispatch.compose_sms(step, audience, recipient)
        except (rendering.TemplateError, ValueError) as exc:
            raise EditError(f"the step cannot be rendered: {exc}") from None
        ok = dispatch.send_sms_text(phone, f"[Test] {body}")
        where = f"the phone ending {phone[-4:]}"
    staff.audit(
        actor_id,
        "step.test_send",
        "step",
        step.id,
        f"{step.channel} to {'staff ' + where if step.channel == 'email' else where}"
        + ("" if ok else " (refused)"),
    )
    if not ok:
        raise EditError(
            {"to": "the provider did not accept the test (or the address is suppressed)"}
        )
    return f"Test sent to {where}."


def _default_from() -> str:
    from flask import current_app

    return current_app.config["OUTREACH_MAIL_FROM"]


# --------------------------------------------------------------------------- lifecycle


def check(campaign: Campaign) -> list[preflight.Finding]:
    """Preflight findings for a campaign."""
    return preflight.check_campaign(campaign)


def schedule(campaign: Campaign, *, acknowledged: bool, actor_id: int | None) -> None:
    """Schedule a draft: no preflight errors, and warnings acknowledged; raises EditError."""
    findings = check(campaign)
    if preflight.has_errors(findings):
        raise EditError("fix the errors preflight lists before scheduling")
    if preflight.warnings(findings) and not acknowledged:
        raise EditError({"acknowledge": "tick the box to confirm you have read the warnings"})
    try:
        campaigns.schedule(campaign)
    except campaigns.LifecycleError as exc:
        raise EditError(str(exc)) from None
    detail = f"{len(preflight.warnings(findings))} warning(s) acknowledged" if findings else None
    staff.audit(actor_id, "campaign.schedule", "campaign", campaign.id, detail)


def pause(campaign: Campaign, reason: str, actor_id: int | None) -> None:
    """Pause a scheduled or running campaign; queued messages wait."""
    reason = " ".join((reason or "").split())[:300] or "paused by staff"
    try:
        campaigns.pause(campaign, reason)
    except campaigns.LifecycleError as exc:
        raise EditError(str(exc)) from None
    staff.audit(actor_id, "campaign.pause", "campaign", campaign.id, reason)


def resume(campaign: Campaign, actor_id: int | None) -> None:
    """Resume a paused campaign (messages due meanwhile go out, inside their windows)."""
    try:
        campaigns.resume(campaign)
    except campaigns.LifecycleError as exc:
        raise EditError(str(exc)) from None
    staff.audit(actor_id, "campaign.resume", "campaign", campaign.id)


def cancel(campaign: Campaign, actor_id: int | None) -> int:
    """Cancel a campaign; its queued messages become cancelled. Returns how many."""
    try:
        count = campaigns.cancel(campaign)
    except campaigns.LifecycleError as exc:
        raise EditError(str(exc)) from None
    staff.audit(actor_id, "campaign.cancel", "campaign", campaign.id, f"{count} queued cancelled")
    return count
