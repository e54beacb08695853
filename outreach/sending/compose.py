"""What each recipient gets: a step rendered once, personal values and signed links
filled in per recipient, unsubscribe headers, brand and STOP wording on first texts."""

from __future__ import annotations

import dataclasses
import hmac
from collections.abc import Callable, Iterable
from typing import Any

from flask import current_app
from itsdangerous.encoding import base64_encode
from itsdangerous.signer import HMACAlgorithm

from outreach.campaigns import timeline as campaign_timeline
from outreach.channels.base import (
    EmailBatch,
    EmailChannel,
    EmailRecipient,
    OutgoingSms,
    SendResult,
    SmsChannel,
)
from outreach.consent import tokens, wording
from outreach.models import Audience, Step
from outreach.rendering import emails, templates
from outreach.rendering import sms as sms_rendering
from outreach.sending.batch import Claimed, Recipient
from outreach.tracking import codes as link_codes
from outreach.tracking import links as tracking
from outreach.tracking import view_codes


def shared_context(audience: Audience) -> dict[str, str]:
    """The audience's values every template may use (the same for every recipient)."""
    return {
        "audience": audience.name,
        "organisation": audience.organisation_name,
        "postal_address": audience.postal_address,
        "support_email": audience.support_email,
        "support_phone": audience.support_phone,
        "request_url": tokens.public_url(f"/request/{audience.slug}"),
    }


class LinkSigner:
    """Signs a subscriber's unsubscribe and preference links: the exact tokens
    ``tokens.link_token`` makes, several times faster.

    ``link_token`` builds a serializer, derives its key and serializes the payload for every
    token: a quarter of the email path's time. Here the serializers and derived keys are
    made once, and the payload (shared by both links) is serialized once per subscriber.
    """

    PURPOSES = ("unsubscribe", "preferences")

    def __init__(self) -> None:
        serializers = {purpose: tokens._plain(purpose) for purpose in self.PURPOSES}
        self._payload = serializers["unsubscribe"].dump_payload
        self._signers = []
        #: (link prefix, HMAC key) per purpose, ``digest`` and ``sep``: for fast_compose.
        self.hmac_keys: list[tuple[str, bytes]] = []
        self.digest, self.sep = "", b"."
        for purpose, serializer in serializers.items():
            signer = serializer.make_signer()
            key = signer.derive_key()
            algorithm = signer.algorithm
            if isinstance(algorithm, HMACAlgorithm):  # one C call instead of hmac.new
                digest = self.digest = algorithm.digest_method().name
                self.hmac_keys.append((f"{tokens.public_url('/' + purpose)}/", key))
                self.sep = signer.sep

                def sign(payload: bytes, key: bytes = key, digest: str = digest) -> bytes:
                    return hmac.digest(key, payload, digest)
            else:

                def sign(payload: bytes, key: bytes = key, algorithm: Any = algorithm) -> bytes:
                    return algorithm.get_signature(key, payload)

            self._signers.append(
                (f"{tokens.public_url('/' + purpose)}/", f"{purpose}_url", signer.sep, sign)
            )

    def links(self, public_id: str, audience_slug: str, channel: str) -> dict[str, str]:
        """``{"unsubscribe_url": ..., "preferences_url": ...}`` for one subscriber."""
        link = tokens.LinkToken(public_id, audience_slug, channel)
        payload = self._payload(tokens._pack(link))
        out = {}
        for prefix, name, sep, sign in self._signers:
            out[name] = prefix + (payload + sep + base64_encode(sign(payload))).decode("ascii")
        return out


def _link_signer() -> LinkSigner:
    """This app's LinkSigner (rebuilt if the secret key or base URL changes)."""
    key = (current_app.config["SECRET_KEY"], current_app.config["OUTREACH_BASE_URL"])
    cached = current_app.extensions.get("outreach.link_signer")
    if cached is None or cached[0] != key:
        cached = current_app.extensions["outreach.link_signer"] = (key, LinkSigner())
    return cached[1]


def personal_links(public_id: str, audience: Audience, channel: str) -> dict[str, str]:
    """Unsubscribe and preference URLs for one subscriber (signed, opaque)."""
    return _link_signer().links(public_id, audience.slug, channel)


def unsubscribe_headers(unsubscribe_url: str, mailto: str | None = None) -> dict[str, str]:
    """RFC 2369 / RFC 8058 headers for one recipient."""
    token = unsubscribe_url.rsplit("/", 1)[-1]
    mailto = mailto or current_app.config["OUTREACH_UNSUBSCRIBE_MAILTO"]
    return {
        "List-Unsubscribe": f"<{unsubscribe_url}>, <mailto:{mailto}?subject=unsubscribe-{token}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


class StepCopy:
    """What a step says in one language: its variant's fields, or the step's own."""

    def __init__(self, step: Step, language: str | None = None) -> None:
        variant = step.variant(language) if language and language != "en" else None
        source = variant if variant is not None else step
        self.language = variant.language if variant is not None else "en"
        self.subject: str = source.subject
        self.preheader: str = source.preheader
        self.html: str = source.html
        self.text: str | None = source.text
        self.body: str = source.body


def copy_languages(step: Step) -> tuple[str, ...]:
    """The languages a step has copy in: ``en`` (its own) and each variant's."""
    return ("en", *sorted(v.language for v in step.variants if v.language != "en"))


def render_step_email(
    step: Step, audience: Audience, language: str | None = None, *, web_version: bool = False
) -> emails.RenderedEmail:
    """Render an email step once (in ``language`` when it has copy in it, else its own),
    with substitution tags for the personal values and a "View in your browser" link.

    ``web_version=True`` renders the page ``/view/<code>`` shows instead: placeholder values
    (the first name's fallback), no personal links (they point at the page's note).
    """
    copy = StepCopy(step, language)
    context = shared_context(audience)
    web_url = view_codes.view_url(step.id, copy.language) if step.id is not None else ""
    if web_version:
        note = f"{web_url}#web-version-note"
        personal = {
            "first_name": FIRST_NAME_FALLBACK.get(copy.language, "there"),
            "unsubscribe_url": note,
            "preferences_url": note,
        }
    else:
        personal = {name: templates.tag(name) for name in templates.PERSONAL_VARIABLES}
    context.update(personal)
    footer = {
        "organisation": audience.organisation_name,
        "postal_address": audience.postal_address,
        "support_email": audience.support_email,
        "unsubscribe_url": personal["unsubscribe_url"],
        "preferences_url": personal["preferences_url"],
    }
    return emails.render_email(
        subject=copy.subject,
        preheader=copy.preheader,
        html=copy.html,
        text=copy.text,
        context=context,
        footer=footer,
        language=copy.language,
        web_version_url="" if web_version else web_url,
        web_version=web_version,
    )


_TAGS = tuple((name, templates.tag(name)) for name in templates.PERSONAL_VARIABLES)
#: What ``{{ first_name }}`` says when a person gave no name ("Hi there", "Hola, qué tal").
FIRST_NAME_FALLBACK = {"en": "there", "es": "qué tal"}


def first_name_of(recipient: Recipient) -> str:
    """The recipient's first name, or the fallback in their language."""
    return recipient.first_name or FIRST_NAME_FALLBACK.get(recipient.language, "there")


def substitutions_for(
    recipient: Recipient, audience: Audience, channel: str, signer: LinkSigner | None = None
) -> dict[str, str]:
    """Per-recipient values for the substitution tags."""
    values = (signer or _link_signer()).links(recipient.public_id, audience.slug, channel)
    values["first_name"] = first_name_of(recipient)
    return {tag: values[name] for name, tag in _TAGS}


class SmsComposer:
    """One SMS step's text for many recipients: the template is rendered once, with
    substitution tags for the personal values, which are filled in per recipient.

    The brand and STOP wording are decided on the template's text, before any name or link
    goes in (a first name such as "Christopher" contains "stop" and must not drop it).
    """

    def __init__(
        self,
        step: Step,
        audience: Audience,
        signer: LinkSigner | None = None,
        language: str | None = None,
    ) -> None:
        copy = StepCopy(step, language)
        context = shared_context(audience)
        for name in templates.PERSONAL_VARIABLES:
            context[name] = templates.tag(name)
        body = sms_rendering.render_sms(copy.body, context)
        if campaign_timeline.is_first_text(step):
            body = wording.with_brand_and_stop(body, wording.program(audience), copy.language)
        self._tracked: list[int] = []
        if getattr(step.campaign, "track_links", False) and step.id is not None:
            base = current_app.config["OUTREACH_BASE_URL"]
            positions = tracking.register(
                step.id, tracking.numbered(tracking.urls_in_text(body), base)
            )
            body = tracking.rewrite_text(body, positions, base)
            self._tracked = sorted(set(positions.values()))
        self._body = body
        self._audience = audience
        self._signer = signer or _link_signer()
        self._link_key = link_codes.app_key() if self._tracked else b""
        self._first_name = templates.tag("first_name") in body
        self._links = [tag for name, tag in _TAGS if name != "first_name" and tag in body]

    def compose(self, recipient: Recipient, message_id: int = 0) -> str:
        """The text for one recipient (``message_id``: the outbox row, for link codes)."""
        body = self._body
        for tag, code in link_codes_for(message_id, self._tracked, self._link_key).items():
            body = body.replace(tag, code)
        if self._first_name:
            body = body.replace(templates.tag("first_name"), first_name_of(recipient))
        if self._links:
            values = substitutions_for(recipient, self._audience, "sms", self._signer)
            for tag in self._links:
                body = body.replace(tag, values[tag])
        return body


def compose_sms(step: Step, audience: Audience, recipient: Recipient) -> str:
    """Render an SMS step for one recipient (in their language when the step has copy in
    it), adding the brand and STOP wording the rules need."""
    return SmsComposer(step, audience, language=recipient.language).compose(recipient)


_UNSUBSCRIBE_TAG = templates.tag("unsubscribe_url")


def link_codes_for(
    message_id: int, positions: Iterable[int], key: bytes | None = None
) -> dict[str, str]:
    """The recipient's code for each tracked link tag of their message (``key``: the
    link-code key, looked up once per batch by the callers)."""
    key = key or link_codes.app_key()
    return {tracking.link_tag(p): link_codes.encode(key, message_id, p) for p in positions}


def track_email(
    step: Step, rendered: emails.RenderedEmail
) -> tuple[emails.RenderedEmail, list[int]]:
    """The rendered email with its staff links pointed at ``/r/`` (when the campaign tracks
    links), and the link numbers each recipient needs a code for."""
    if not getattr(step.campaign, "track_links", False):
        return rendered, []
    base = current_app.config["OUTREACH_BASE_URL"]
    urls = tracking.numbered(
        tracking.urls_in_html(rendered.html) + tracking.urls_in_text(rendered.text), base
    )
    positions = tracking.register(step.id, urls)
    if not positions:
        return rendered, []
    tracked = dataclasses.replace(
        rendered,
        html=tracking.rewrite_html(rendered.html, positions, base),
        text=tracking.rewrite_text(rendered.text, positions, base),
    )
    return tracked, sorted(set(positions.values()))


def email_recipient(
    message_id: int,
    recipient: Recipient,
    audience: Audience,
    signer: LinkSigner | None = None,
    mailto: str | None = None,
    links: Iterable[int] = (),
    link_key: bytes | None = None,
) -> EmailRecipient:
    """One recipient of a rendered step: personal values, a code per tracked link and
    one-click unsubscribe headers."""
    subs = substitutions_for(recipient, audience, "email", signer)
    if links:
        subs.update(link_codes_for(message_id, links, link_key))
    return EmailRecipient(
        message_id=message_id,
        to=recipient.email or "",
        substitutions=subs,
        headers=unsubscribe_headers(subs[_UNSUBSCRIBE_TAG], mailto),
    )


def sender_name(audience: Audience) -> str:
    """The From name every email of the audience carries (the provider keeps it)."""
    return audience.organisation_name or audience.name


def email_categories(step: Step) -> tuple[str, ...]:
    """The SendGrid categories of a step's emails: ids only, never names or wording."""
    return ("outreach", f"campaign-{step.campaign_id}", f"step-{step.id}")


def email_batch(
    audience: Audience,
    rendered: emails.RenderedEmail,
    recipients: list[EmailRecipient],
    *,
    categories: tuple[str, ...],
    subject_prefix: str = "",
    request_id: str | None = None,
    step: Step | None = None,
) -> EmailBatch:
    """The provider request for one rendered email: the audience's sender identity, reply-to
    its support address, and categories that carry no personal data. For a campaign
    ``step``, SendGrid's open tracking follows the audience; its click tracking is on only
    when the audience tracks opens and the campaign's own ``/r/`` links are off (a click is
    never counted by both). Test sends and transactional emails track nothing."""
    opens = bool(step is not None and audience.track_opens)
    clicks = opens and step is not None and not getattr(step.campaign, "track_links", True)
    return EmailBatch(
        from_email=audience.from_email or current_app.config["OUTREACH_MAIL_FROM"],
        from_name=sender_name(audience),
        subject=subject_prefix + rendered.subject,
        html=rendered.html,
        text=rendered.text,
        recipients=tuple(recipients),
        categories=categories,
        reply_to=audience.support_email or None,
        request_id=request_id,
        open_tracking=opens,
        click_tracking=clicks,
    )


def language_groups(step: Step, allowed: list[Claimed]) -> dict[str, list[Claimed]]:
    """A batch split by the copy each recipient gets: their language when the step has copy
    in it, else the step's own (``en``)."""
    languages = set(copy_languages(step))
    groups: dict[str, list[Claimed]] = {}
    for claimed in allowed:
        language = claimed.recipient.language
        groups.setdefault(language if language in languages else "en", []).append(claimed)
    return groups


def provider_call(
    step: Step,
    audience: Audience,
    allowed: list[Claimed],
    email_channel: EmailChannel,
    sms_channel: SmsChannel,
) -> Callable[[], list[SendResult]]:
    """Build the provider request(s) for a batch, each language's copy rendered once (one
    SendGrid request per language: ``send._prepare`` gave each its own request id);
    returns the call that sends them."""
    if not allowed:
        return list
    groups = language_groups(step, allowed)
    if step.channel == "email":
        mailto = current_app.config["OUTREACH_UNSUBSCRIBE_MAILTO"]
        signer = _link_signer()
        link_key = link_codes.app_key()
        batches = []
        for language, group in groups.items():
            rendered, links = track_email(step, render_step_email(step, audience, language))
            recipients = [
                email_recipient(
                    c.message_id, c.recipient, audience, signer, mailto, links, link_key
                )
                for c in group
            ]
            batches.append(
                email_batch(
                    audience,
                    rendered,
                    recipients,
                    categories=email_categories(step),
                    request_id=group[0].request_id or None,
                    step=step,
                )
            )
        if len(batches) == 1:
            return lambda: email_channel.send_batch(batches[0])
        return lambda: [result for batch in batches for result in email_channel.send_batch(batch)]
    callback = tokens.public_url("/webhooks/twilio/status")
    messages = []
    for language, group in groups.items():
        composer = SmsComposer(step, audience, language=language)
        messages += [
            OutgoingSms(
                message_id=c.message_id,
                to=c.recipient.phone or "",
                body=composer.compose(c.recipient, c.message_id),
                status_callback=f"{callback}?mid={c.message_id}",
            )
            for c in group
        ]
    return lambda: sms_channel.send_many(messages)
