"""The languages the product speaks to subscribers (English and Spanish) and their message
catalogues.

Pages are translated with Flask-Babel (``outreach/translations/<lang>/LC_MESSAGES``,
extracted with ``make translations``); code outside a request (confirmation emails, the
email layout's footer) reads the same catalogue through :func:`translations`. Consent
texts are not in the catalogue: their exact words live in ``consent/wording.py``.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from babel.support import NullTranslations, Translations

LANGUAGES = ("en", "es")
DEFAULT_LANGUAGE = "en"
LANGUAGE_NAMES = {"en": "English", "es": "Español"}
TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"


#: Names a spreadsheet may use instead of a code.
_NAMES = {"english": "en", "inglés": "en", "ingles": "en", "spanish": "es", "español": "es",
          "espanol": "es", "castellano": "es"}  # fmt: skip


def language_or_none(value: object) -> str | None:
    """``en`` or ``es`` from a code such as ``ES``, ``es-MX`` or ``es_US`` (or a name such
    as "Spanish", "Español"); None otherwise."""
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    if text in _NAMES:
        return _NAMES[text]
    code = text.replace("_", "-").split("-", 1)[0]
    return code if code in LANGUAGES else None


def language_or_default(value: object) -> str:
    """A supported language, English when ``value`` names none."""
    return language_or_none(value) or DEFAULT_LANGUAGE


@cache
def translations(language: str) -> NullTranslations:
    """The compiled catalogue of a language (English: the source strings themselves)."""
    if language == DEFAULT_LANGUAGE or language not in LANGUAGES:
        return NullTranslations()
    return Translations.load(str(TRANSLATIONS_DIR), [language], domain="messages")


def gettext_for(language: str | None):  # noqa: ANN201 - a gettext callable
    """``gettext`` of a language, with ``%(name)s`` formatting like Flask-Babel's."""
    catalogue = translations(language_or_default(language))

    def translate(text: str, **values: object) -> str:
        translated = catalogue.gettext(text)
        return translated % values if values else translated

    return translate


def N_(text: str) -> str:  # noqa: N802 - the name pybabel looks for
    """Mark a message for the catalogue where it is written; the page translates it."""
    return text
