"""Preview a step as one subscriber (or a sample) would get it, in either of its languages,
and send a test copy; both go through the sender's own renderer (``sending/compose.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm.attributes import set_committed_value

from outreach import transactional
from outreach.audiences.contacts import InvalidContact, normalise_phone
from outreach.campaigns.editing import EditError
from outreach.campaigns.step_input import SPANISH, StepInput, copy_values
from outreach.channels.base import Outcome
from outreach.consent import decisions
from outreach.extensions import db
from outreach.models import Audience, Campaign, StaffUser, Step, StepVariant, Subscriber
from outreach.rendering import sms as sms_rendering
from outreach.rendering import templates
from outreach.sending import batch, compose
from outreach.sending import send as sending_send
from outreach.staff import audit as staff_audit

#: public_id used for links in test sends: such links lead to "no longer valid".
TEST_PUBLIC_ID = "test-send-not-a-subscriber"


#: The language switch's labels (each in its own language) and the words for notes.
LANGUAGE_LABELS = {"en": "English", "es": "Español"}


LANGUAGE_NAMES = {"en": "English", "es": "Spanish"}


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
    segments: sms_rendering.Segments | None = None
    added_wording: bool = False
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    language: str = "en"
    languages: tuple[str, ...] = ("en",)


def preview_language(step: Step, requested: str | None, subscriber: Subscriber | None) -> str:
    """The copy to show: the language asked for, else the subscriber's, when the step has
    copy in it; else the step's own (English)."""
    languages = compose.copy_languages(step)
    for language in (requested, subscriber.language if subscriber is not None else None):
        if language in languages:
            return language
    return "en"


def _recipient(
    subscriber: Subscriber | None, audience: Audience, language: str = "en"
) -> batch.Recipient:
    if subscriber is None:
        return batch.Recipient(
            0,
            TEST_PUBLIC_ID,
            "alex@example.org",
            "+12025550143",
            "Alex",
            audience.default_timezone,
            language,
        )
    return batch.Recipient(
        subscriber.id,
        subscriber.public_id,
        subscriber.email,
        subscriber.phone,
        subscriber.first_name,
        subscriber.timezone,
        language,
    )


def draft_step(campaign: Campaign, data: StepInput, step_id: int | None = None) -> Step:
    """A step built from the editor's input, not saved (not even added to the session), so
    the live preview renders unsaved copy through the sender's renderer."""
    data = data.rendered()
    draft = Step(channel=data.channel, position=0, **copy_values(data))
    draft.id = step_id
    set_committed_value(draft, "campaign", campaign)
    variants = []
    if data.has_spanish():
        variants.append(StepVariant(language=SPANISH, **copy_values(data, SPANISH)))
    set_committed_value(draft, "variants", variants)
    return draft


def _personalize(value: str, substitutions: dict[str, str]) -> str:
    for key, replacement in substitutions.items():
        value = value.replace(key, replacement)
    return value


def preview(
    step: Step, subscriber: Subscriber | None = None, language: str | None = None
) -> Preview:
    """Render a step for one subscriber (or a sample person), exactly as dispatch would,
    in ``language`` when the step has copy in it (else the subscriber's, else English)."""
    audience = step.campaign.audience
    chosen = preview_language(step, language, subscriber)
    recipient = _recipient(subscriber, audience, chosen)
    label = (
        f"{subscriber.first_name or 'subscriber'} ({subscriber.email or subscriber.phone})"
        if subscriber is not None
        else "a sample subscriber named Alex"
    )
    result = Preview(
        channel=step.channel,
        recipient_label=label,
        language=chosen,
        languages=compose.copy_languages(step),
    )
    try:
        if step.channel == "email":
            rendered = compose.render_step_email(step, audience, chosen)
            subs = compose.substitutions_for(recipient, audience, "email")
            result.subject = _personalize(rendered.subject, subs)
            result.preheader = _personalize(rendered.preheader, subs)
            result.html = _personalize(rendered.html, subs)
            result.text = _personalize(rendered.text, subs)
            sender = audience.from_email or "(the default sender address)"
            result.from_line = f"{audience.organisation_name or audience.name} <{sender}>"
        else:
            result.body = compose.SmsComposer(step, audience, language=chosen).compose(recipient)
            result.segments = sms_rendering.sms_segments(result.body)
            plain = sms_rendering.render_sms(
                compose.StepCopy(step, chosen).body,
                {
                    **compose.shared_context(audience),
                    "first_name": compose.first_name_of(recipient),
                },
            )
            result.added_wording = plain != result.body
    except (templates.TemplateError, ValueError) as exc:
        result.error = str(exc)
    if subscriber is None:
        return result
    reads = subscriber.language or "en"
    if reads != "en" and reads not in result.languages:
        name = LANGUAGE_NAMES.get(reads, reads)
        result.notes.append(
            f"This subscriber reads {name}, but this step has no {name} version: "
            "they would get the English copy."
        )
    contact = subscriber.email if step.channel == "email" else subscriber.phone
    if not contact:
        kind = "email address" if step.channel == "email" else "mobile number"
        result.notes.append(f"This subscriber has no {kind}: they would not get this step.")
    elif not decisions.may_contact(subscriber, step.channel, audience):
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
    language: str | None = None,
) -> str:
    """Send one copy of a step to a staff address (email) or phone (SMS), marked [Test],
    in ``language`` (chosen as for the preview).

    Personal values come from ``subscriber`` (or a sample); the unsubscribe and preference
    links lead nowhere, so a test can never change anyone's consent. Returns a
    confirmation sentence; raises EditError when it cannot be sent.
    """
    audience = step.campaign.audience
    chosen = preview_language(step, language, subscriber)
    base = _recipient(subscriber, audience, chosen)
    if step.channel == "email":
        address = to.strip().lower()
        if address not in staff_emails():
            raise EditError({"to": "test emails go to staff addresses only"})
        recipient = batch.Recipient(
            0, TEST_PUBLIC_ID, address, None, base.first_name, base.timezone, chosen
        )
        try:
            rendered = compose.render_step_email(step, audience, chosen)
        except (templates.TemplateError, ValueError) as exc:
            raise EditError(f"the step cannot be rendered: {exc}") from None
        email_channel, _ = sending_send.channels()
        results = email_channel.send_batch(
            compose.email_batch(
                audience,
                rendered,
                [compose.email_recipient(0, recipient, audience)],
                categories=("outreach", "test"),
                subject_prefix="[Test] ",
            )
        )
        ok = all(r.outcome == Outcome.SENT for r in results)
        where = address
    else:
        try:
            phone = normalise_phone(to)
        except InvalidContact as exc:
            raise EditError({"to": str(exc)}) from None
        recipient = batch.Recipient(
            0, TEST_PUBLIC_ID, None, phone, base.first_name, base.timezone, chosen
        )
        try:
            body = compose.SmsComposer(step, audience, language=chosen).compose(recipient)
        except (templates.TemplateError, ValueError) as exc:
            raise EditError(f"the step cannot be rendered: {exc}") from None
        ok = transactional.send_sms_text(phone, f"[Test] {body}")
        where = f"the phone ending {phone[-4:]}"
    staff_audit.audit(
        actor_id,
        "step.test_send",
        "step",
        step.id,
        f"{step.channel} to {'staff ' + where if step.channel == 'email' else where}"
        + ("" if chosen == "en" else f", {LANGUAGE_NAMES.get(chosen, chosen)} copy")
        + ("" if ok else " (refused)"),
    )
    if not ok:
        raise EditError(
            {"to": "the provider did not accept the test (or the address is suppressed)"}
        )
    copy = "" if chosen == "en" else f" ({LANGUAGE_NAMES.get(chosen, chosen)} copy)"
    return f"Test sent to {where}{copy}."


def _default_from() -> str:
    from flask import current_app

    return current_app.config["OUTREACH_MAIL_FROM"]
