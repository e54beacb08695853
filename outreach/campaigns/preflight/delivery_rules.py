"""Rules about how a step travels: its channel, SMS length, and its send time."""

from __future__ import annotations

from flask import current_app, has_app_context

from outreach.campaigns import windows
from outreach.campaigns.preflight.findings import (
    HHMM,
    MAX_SMS_SEGMENTS,
    TEMPLATE_FIELDS,
    Finding,
    as_time,
    context,
    error,
    text,
    warning,
)
from outreach.consent import wording
from outreach.models import Audience, Campaign, Step
from outreach.rendering import sms as sms_rendering
from outreach.rendering import templates
from outreach.tracking import codes as link_codes
from outreach.tracking import links as tracking

#: The address a text's links are counted at when the campaign tracks them.
SAMPLE_BASE_URL = "https://outreach.example"


def with_tracked_links(body: str, tracked: bool) -> str:
    """The body as it goes out: each link replaced by its ``/r/<code>`` address (the
    longest code) when the campaign tracks links, so segments are counted on that."""
    if not tracked:
        return body
    base = current_app.config.get("OUTREACH_BASE_URL") if has_app_context() else None
    base = base or SAMPLE_BASE_URL
    urls = tracking.numbered(tracking.urls_in_text(body), base)
    positions = {url: n for n, url in enumerate(urls, start=1)}
    out = tracking.rewrite_text(body, positions, base)
    for n in positions.values():
        out = out.replace(tracking.link_tag(n), link_codes.SAMPLE_CODE)
    return out


def rule_channel(no: int, step: Step, campaign: Campaign) -> list[Finding]:
    """A step is email or SMS, on a channel its audience offers."""
    if step.channel not in TEMPLATE_FIELDS:
        return [error(no, "channel", f"unknown channel {step.channel!r}: use email or sms")]
    audience = campaign.audience
    if audience is not None and audience.channels and step.channel not in audience.channel_list:
        return [
            warning(
                no,
                "channel",
                f"audience '{audience.slug}' does not offer {step.channel}; "
                "this step will reach no one",
            )
        ]
    return []


def rule_sms_length(
    no: int,
    step: Step,
    audience: Audience | None,
    first: bool,
    language: str = "en",
    tracked: bool = True,
) -> list[Finding]:
    """At most three segments after rendering; the first text carries brand and STOP wording
    (in Spanish copy: "Responde ALTO para cancelar.")."""
    if step.channel != "sms" or not text(step.body).strip():
        return []
    try:
        body = sms_rendering.render_sms(step.body, context(audience))
    except templates.TemplateError:
        return []  # reported by rule_templates
    flag = getattr(getattr(step, "campaign", None), "track_links", None)
    body = with_tracked_links(body, tracked if flag is None else bool(flag))
    found = []
    sent = body
    if first:
        sent = wording.with_brand_and_stop(
            body, wording.program(audience) if audience else "", language
        )
        missing = []
        brand = wording.program(audience) if audience is not None else ""
        if brand and not body.lower().startswith(brand.lower()):
            missing.append(f'the brand "{brand}: "')
        if language == "es" and "alto" not in body.lower() and "stop" not in body.lower():
            missing.append(f'"{wording.STOP_SHORT_ES}"')
        elif language != "es" and "stop" not in body.lower():
            missing.append('"Reply STOP to opt out."')
        if missing and sms_rendering.sms_segments(sent).segments > MAX_SMS_SEGMENTS:
            found.append(
                error(
                    no,
                    "body",
                    f"the first text must carry {' and '.join(missing)}; with it added the "
                    f"text needs {sms_rendering.sms_segments(sent).segments} segments "
                    f"(at most {MAX_SMS_SEGMENTS}): shorten it or add the wording yourself",
                )
            )
            return found
        if missing:
            found.append(
                warning(
                    no,
                    "body",
                    f"the first text lacks {' and '.join(missing)}; "
                    "brand/STOP wording will be added automatically",
                )
            )
    segments = sms_rendering.sms_segments(sent)
    if segments.segments > MAX_SMS_SEGMENTS:
        found.append(
            error(
                no,
                "body",
                f"the text needs {segments.segments} segments ({segments.encoding}, "
                f"{segments.characters} characters with sample values); "
                f"at most {MAX_SMS_SEGMENTS}",
            )
        )
    if segments.encoding == "UCS-2":
        odd = sorted(
            {
                ch
                for ch in sent
                if ch not in sms_rendering.GSM7_BASIC and ch not in sms_rendering.GSM7_EXTENSION
            }
        )
        shown = " ".join(repr(ch) for ch in odd[:8])
        found.append(
            warning(
                no,
                "body",
                f"characters outside GSM-7 ({shown}) make the text UCS-2: 70 characters per "
                "segment instead of 160; use straight quotes and no emoji",
            )
        )
    return found


def rule_send_time(no: int, step: Step, campaign: Campaign) -> list[Finding]:
    """Calendar steps: SMS inside 08:00-21:00 (stricter states defer); email in its window."""
    if campaign.anchor_kind == "confirmation":
        return []
    at = as_time(step.send_time)
    if at is None:
        return [error(no, "send_time", f"{step.send_time!r} is not a time like 10:00")]
    shown = at.strftime(HHMM)
    if step.channel == "sms":
        federal = windows.SMS_DEFAULT
        if not federal.contains(at):
            return [
                error(
                    no,
                    "send_time",
                    f"texts at {shown} fall outside the legal window "
                    f"{federal.start.strftime(HHMM)}-{federal.end.strftime(HHMM)} "
                    "(recipient's local time, TCPA)",
                )
            ]
        stricter = sorted(state for state, w in windows.STATE_WINDOWS.items() if not w.contains(at))
        if stricter:
            return [
                warning(
                    no,
                    "send_time",
                    f"texts at {shown} fall outside the stricter state window for "
                    f"{', '.join(stricter)} numbers; those will be deferred to the next morning",
                )
            ]
        return []
    if step.channel == "email" and campaign.audience is not None:
        start = as_time(campaign.audience.email_window_start)
        end = as_time(campaign.audience.email_window_end)
        if start and end and start < end and not (start <= at < end):
            return [
                warning(
                    no,
                    "send_time",
                    f"emails at {shown} fall outside the audience's email window "
                    f"{start.strftime(HHMM)}-{end.strftime(HHMM)}; they will be deferred",
                )
            ]
    return []
