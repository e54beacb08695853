"""An email step composed once per batch and language, and each recipient's SendGrid
personalization written straight to JSON text.

The per-recipient path (``compose.email_recipient`` then ``SendGridChannel.personalization``
and ``json.dumps``) builds dictionaries, an ``EmailRecipient``, an itsdangerous payload and
a JSON document for every person. Here everything shared by the batch (the rendered step,
the link prefixes, the escaped ``request_id`` and mailto, the link-code numbers, the
derived HMAC keys) is prepared once, and a recipient costs one payload (shared by the
unsubscribe and preferences tokens), their two HMACs, one HMAC per tracked link and one
string format. The bytes sent are the same as the per-recipient path's (tokens, codes,
key order, escaping): ``tests/sending/test_fast_compose.py`` compares both on generated
steps and subscribers. ``OUTREACH_FAST_COMPOSE=0`` selects the per-recipient path.

Only used with ``SendGridChannel`` (the other channels read ``EmailRecipient``'s values).
"""

from __future__ import annotations

import dataclasses
import hmac
import json.encoder
import zlib
from binascii import b2a_base64
from collections.abc import Callable

from flask import current_app

from outreach.channels.base import EmailBatch, EmailChannel, EmailRecipient, SendResult, SmsChannel
from outreach.channels.sendgrid import SendGridChannel
from outreach.models import Audience, Step
from outreach.rendering import templates
from outreach.sending import compose
from outreach.sending.batch import Claimed
from outreach.tracking import codes as link_codes
from outreach.tracking import links as tracking

#: JSON string escaping as ``json.dumps`` does it: ASCII-only (SendGrid bodies) and UTF-8
#: kept (itsdangerous payloads, ``ensure_ascii=False``).
_ascii = json.encoder.encode_basestring_ascii
_utf8 = json.encoder.encode_basestring


def enabled(email_channel: EmailChannel) -> bool:
    """Whether this app composes email batches here (SendGrid, and not switched off)."""
    return (
        bool(current_app.config.get("OUTREACH_FAST_COMPOSE", True))
        and isinstance(email_channel, SendGridChannel)
        and len(compose._link_signer().hmac_keys) == 2
    )


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _b64(data: bytes) -> bytes:
    """URL-safe base64 without padding (``urlsafe_b64encode`` without its two calls)."""
    return b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=")


def _itsdangerous_payload(json_text: bytes) -> bytes:
    """``URLSafeSerializer.dump_payload`` of an already serialized value."""
    compressed = zlib.compress(json_text)
    if len(compressed) < len(json_text) - 1:
        return b"." + _b64(compressed)
    return _b64(json_text)


_NONE: dict[str, str] = {}  # shared, never written: no two empty dicts per recipient


class EmailComposer:
    """One language's copy of an email step, rendered and tracked once, and a function
    from a claimed row to its personalization JSON (``request_id`` included)."""

    def __init__(self, step: Step, audience: Audience, language: str, request_id: str) -> None:
        rendered, positions = compose.track_email(
            step, compose.render_step_email(step, audience, language)
        )
        self.rendered = rendered
        self.request_id = request_id
        signer = compose._link_signer()
        (self._unsub_prefix, self._unsub_key), (self._pref_prefix, self._pref_key) = [
            (_ascii(prefix)[1:-1], key) for prefix, key in signer.hmac_keys
        ]
        self._digest = signer.digest
        self._sep = signer.sep
        # [public_id, slug, channel] as itsdangerous writes it: the slug part is shared.
        self._payload_tail = f",{_utf8(audience.slug)},{_utf8('email')}]".encode()
        mailto = current_app.config["OUTREACH_UNSUBSCRIBE_MAILTO"]
        self._mailto = _ascii(f"<mailto:{mailto}?subject=unsubscribe-")[1:-1]
        self._link_key = link_codes.app_key() if positions else b""
        self._links = [(_ascii(tracking.link_tag(p)), link_codes.varint(p)) for p in positions]
        args = {"request_id": request_id} if request_id else {}
        self._custom_tail = json.dumps(args, separators=(",", ":"))[1:]  # '"request_id":..}'
        if self._custom_tail != "}":
            self._custom_tail = "," + self._custom_tail
        self._tags = [_ascii(templates.tag(name)) for name in templates.PERSONAL_VARIABLES]

    def personalization(self, claimed: Claimed) -> str:
        """The recipient's personalization, exactly as ``SendGridChannel`` would dump it."""
        recipient = claimed.recipient
        payload = _itsdangerous_payload(
            f"[{_utf8(recipient.public_id)}".encode() + self._payload_tail
        )
        sep, digest = self._sep, self._digest
        unsub_token = (payload + sep + _b64(hmac.digest(self._unsub_key, payload, digest))).decode(
            "ascii"
        )
        pref_token = (payload + sep + _b64(hmac.digest(self._pref_key, payload, digest))).decode(
            "ascii"
        )
        unsubscribe = self._unsub_prefix + unsub_token
        first, unsub_tag, pref_tag = self._tags
        parts = [
            '{"to":[{"email":',
            _ascii(recipient.email or ""),
            '}],"substitutions":{',
            first,
            ":",
            _ascii(compose.first_name_of(recipient)),
            ",",
            unsub_tag,
            ':"',
            unsubscribe,
            '",',
            pref_tag,
            ':"',
            self._pref_prefix,
            pref_token,
            '"',
        ]
        if self._links:
            mid = link_codes.varint(claimed.message_id)
            key = self._link_key
            for tag, position in self._links:
                raw = mid + position
                code = _b64(raw + hmac.digest(key, raw, "sha256")[: link_codes.MAC_BYTES])
                parts += [",", tag, ':"', code.decode("ascii"), '"']
        parts += [
            '},"headers":{"List-Unsubscribe":"<',
            unsubscribe,
            ">, ",
            self._mailto,
            unsub_token,
            '>","List-Unsubscribe-Post":"List-Unsubscribe=One-Click"},'
            '"custom_args":{"message_id":"',
            str(claimed.message_id),
            '"',
            self._custom_tail,
            "}",
        ]
        return "".join(parts)

    def batch(self, step: Step, audience: Audience, group: list[Claimed]) -> EmailBatch:
        """The provider request for these rows (all of this composer's language)."""
        texts = tuple(self.personalization(c) for c in group)
        # The channel reads ids (results) and addresses from these; the JSON has the rest.
        recipients = [
            EmailRecipient(c.message_id, c.recipient.email or "", _NONE, _NONE) for c in group
        ]
        batch = compose.email_batch(
            audience,
            self.rendered,
            recipients,
            categories=compose.email_categories(step),
            request_id=self.request_id or None,
            step=step,
        )
        return dataclasses.replace(batch, personalizations=texts)


def provider_call(
    step: Step,
    audience: Audience,
    allowed: list[Claimed],
    email_channel: EmailChannel,
    sms_channel: SmsChannel,
) -> Callable[[], list[SendResult]]:
    """``compose.provider_call`` for email through SendGrid: one composer per language."""
    if not allowed or step.channel != "email":
        return compose.provider_call(step, audience, allowed, email_channel, sms_channel)
    batches = []
    for language, group in compose.language_groups(step, allowed).items():
        composer = EmailComposer(step, audience, language, group[0].request_id)
        batches.append(composer.batch(step, audience, group))
    return lambda: [result for batch in batches for result in email_channel.send_batch(batch)]
