"""The exact words the rules require: consent boxes, confirmation, HELP and STOP replies.

Pure functions of an audience's sender identity, so the form shows (and the ledger
records) exactly the text the subscriber agreed to.
"""

from __future__ import annotations

import re
from typing import Protocol

STOP_WORDING = "Reply HELP for help, STOP to opt out."
RATES_WORDING = "Msg & data rates may apply."
#: The same in Spanish, in the wording CTIA's Spanish examples use.
STOP_WORDING_ES = "Responde AYUDA para ayuda y ALTO para cancelar."
STOP_SHORT_ES = "Responde ALTO para cancelar."
RATES_WORDING_ES = "Pueden aplicarse tarifas de mensajes y datos."
LANGUAGES = ("en", "es")


class SenderIdentity(Protocol):
    """The audience fields the wording needs."""

    name: str
    organisation_name: str
    sms_program_name: str
    sms_frequency_text: str
    support_email: str
    support_phone: str


def program(audience: SenderIdentity) -> str:
    """The SMS program name, falling back to the organisation's name."""
    return audience.sms_program_name or audience.organisation_name or audience.name


def consent_wording(audience: SenderIdentity, channel: str, language: str | None = "en") -> str:
    """The sentence next to a consent box, in the page's language; stored verbatim in the
    ledger."""
    org = audience.organisation_name or audience.name
    if language == "es":
        if channel == "email":
            return (
                f"Sí, envíenme por correo electrónico noticias e información de {audience.name} "
                f"de {org}. Puedo darme de baja en cualquier momento con un clic."
            )
        return (
            f"Sí, envíenme mensajes de texto de {program(audience)} de {org} al número de "
            f"celular indicado. {_frequency_es(audience)} El consentimiento no es una "
            f"condición de compra. {RATES_WORDING_ES} {STOP_WORDING_ES}"
        )
    if channel == "email":
        return (
            f"Yes, email me {audience.name} news and awareness updates from {org}. "
            "I can unsubscribe at any time with one click."
        )
    frequency = audience.sms_frequency_text or "Message frequency varies"
    return (
        f"Yes, send me {program(audience)} text messages from {org} at the mobile number "
        f"above. {frequency.rstrip('.')}. Consent is not a condition of purchase. "
        f"{RATES_WORDING} {STOP_WORDING}"
    )


def sms_confirmation(audience: SenderIdentity, language: str | None = "en") -> str:
    """The opt-in confirmation text (CTIA): program, frequency, rates, HELP/STOP."""
    if language == "es":
        return (
            f"{program(audience)}: responde SÍ para confirmar tu suscripción. "
            f"{_frequency_es(audience)} {RATES_WORDING_ES} {STOP_WORDING_ES}"
        )
    frequency = audience.sms_frequency_text or "Message frequency varies"
    return (
        f"{program(audience)}: reply YES to confirm your texts. "
        f"{frequency.rstrip('.')}. {RATES_WORDING} {STOP_WORDING}"
    )


def sms_welcome(audience: SenderIdentity, language: str | None = "en") -> str:
    """The reply to YES/START (SÍ/INICIO): subscribed, frequency, rates, HELP/STOP."""
    if language == "es":
        return (
            f"{program(audience)}: ya tienes la suscripción activa. "
            f"{_frequency_es(audience)} {RATES_WORDING_ES} {STOP_WORDING_ES}"
        )
    frequency = audience.sms_frequency_text or "Message frequency varies"
    return (
        f"{program(audience)}: you're subscribed. {frequency.rstrip('.')}. "
        f"{RATES_WORDING} {STOP_WORDING}"
    )


def sms_help(audience: SenderIdentity, language: str | None = "en") -> str:
    """The HELP/INFO (AYUDA) reply: program, support contact, how to stop."""
    if language == "es":
        contact = " o ".join(c for c in (audience.support_phone, audience.support_email) if c)
        return (
            f"{program(audience)}: mensajes informativos de "
            f"{audience.organisation_name or audience.name}. Ayuda: "
            f"{contact or 'responde a este mensaje'}. {RATES_WORDING_ES} "
            "Responde ALTO para cancelar."
        )
    contact = " or ".join(c for c in (audience.support_phone, audience.support_email) if c)
    return (
        f"{program(audience)}: awareness texts from {audience.organisation_name or audience.name}."
        f" Help: {contact or 'reply to this message'}. {RATES_WORDING} Reply STOP to opt out."
    )


def sms_stopped(audience: SenderIdentity | None, language: str | None = "en") -> str:
    """The one confirmation text after an opt-out (FCC 24-24): no marketing in it, in the
    language of the keyword that asked for it."""
    name = program(audience) if audience is not None else "Outreach"
    if language == "es":
        return (
            f"{name}: cancelaste tu suscripción y no recibirás más mensajes de texto. "
            "Responde INICIO para volver."
        )
    return f"{name}: you're unsubscribed and will get no more texts. Reply START to rejoin."


_PERIOD_ES = {"month": "al mes", "week": "por semana", "day": "al día", "year": "al año"}
_MONTH_ES = {
    "january": "enero", "february": "febrero", "march": "marzo", "april": "abril",
    "may": "mayo", "june": "junio", "july": "julio", "august": "agosto",
    "september": "septiembre", "october": "octubre", "november": "noviembre",
    "december": "diciembre",
}  # fmt: skip
_FREQUENCY = re.compile(
    r"^up to (\d+) (?:msgs?|messages?|texts?)\s*(?:/|per |a |each )\s*(month|week|day|year)"
    r"(?: in (\w+))?$",
    re.IGNORECASE,
)


def _frequency_es(audience: SenderIdentity) -> str:
    """The frequency in Spanish. Staff write it in English ("Up to 4 msgs/month in June"):
    the usual shape is said in Spanish, anything else is quoted as written."""
    frequency = (audience.sms_frequency_text or "").strip().rstrip(".")
    if not frequency or frequency.lower() == "message frequency varies":
        return "La frecuencia de los mensajes varía."
    match = _FREQUENCY.match(frequency)
    if match is None:
        return f"Frecuencia: {frequency}."
    count, period, month = match.groups()
    month_es = _MONTH_ES.get((month or "").lower())
    noun = "mensaje" if count == "1" else "mensajes"
    return f"Hasta {count} {noun} {_PERIOD_ES[period.lower()]}" + (
        f" en {month_es}." if month_es else "."
    )


def with_brand_and_stop(body: str, brand: str | None, language: str | None = "en") -> str:
    """A campaign's first text names the program and says how to stop (CTIA): the brand is
    put in front and "Reply STOP to opt out." ("Responde ALTO para cancelar." in Spanish)
    after, where the copy lacks them."""
    if brand and not body.lower().startswith(brand.lower()):
        body = f"{brand}: {body}"
    if language == "es":
        if "alto" not in body.lower() and "stop" not in body.lower():
            body = f"{body} {STOP_SHORT_ES}"
    elif "stop" not in body.lower():
        body = f"{body} Reply STOP to opt out."
    return body
