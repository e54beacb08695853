"""Which language a public page speaks: the visitor's choice (``?lang=es``, the form's
language field), else the subscriber's stored language on their own links, else the
browser's ``Accept-Language``. Staff pages and the API stay in English."""

from __future__ import annotations

from flask import g, has_request_context, request
from flask_babel import refresh

from outreach.i18n import DEFAULT_LANGUAGE, LANGUAGES, language_or_none

#: Paths whose pages are for staff or machines: always English.
ENGLISH_ONLY = ("/admin", "/api", "/webhooks")


def chosen_language() -> str | None:
    """The language the visitor picked on this request (query string or form), if any."""
    return language_or_none(request.args.get("lang")) or language_or_none(
        request.form.get("language") if request.method == "POST" else None
    )


def select_locale() -> str:
    """Flask-Babel's locale selector."""
    if not has_request_context() or request.path.startswith(ENGLISH_ONLY):
        return DEFAULT_LANGUAGE
    if "language" in g:
        return g.language
    return chosen_language() or request.accept_languages.best_match(LANGUAGES) or "en"


def use_language(stored: str | None) -> str:
    """On a subscriber's own link: their stored language, unless they picked one here."""
    g.language = chosen_language() or language_or_none(stored) or select_locale()
    refresh()
    return g.language


def page_language() -> str:
    """The language this request's page is in."""
    return select_locale()
