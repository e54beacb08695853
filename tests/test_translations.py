"""The Spanish catalogue is complete, well-formed and compiled from what the pages say:
a new English sentence without its Spanish, or a stale compiled file, fails here."""

from __future__ import annotations

import io
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from outreach import i18n

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = i18n.TRANSLATIONS_DIR / "es" / "LC_MESSAGES"


def spanish():  # noqa: ANN201
    with open(CATALOGUE / "messages.po", "rb") as handle:
        return read_po(handle, locale="es")


def test_every_sentence_the_pages_say_is_in_the_spanish_catalogue():
    with open(ROOT / "babel.cfg", encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    spoken = {
        message[2] if isinstance(message[2], str) else message[2][0]
        for message in extract_from_dir(str(ROOT), method_map, options_map)
    }
    catalogue = spanish()
    missing = sorted(m for m in spoken if not (catalogue.get(m) and catalogue.get(m).string))
    assert missing == [], "run `make translations` and translate: " + "; ".join(missing)


def test_translations_keep_their_placeholders_and_markup():
    catalogue = spanish()
    problems = [(message.id, errors) for message, errors in catalogue.check() if errors]
    assert problems == []
    for message in catalogue:
        if not message.id:
            continue
        for token in ("{{ audience }}", "{{ first_name", "<strong>", "{{ organisation"):
            assert (token in message.id) == (token in message.string), message.id


def test_the_compiled_catalogue_is_built_from_the_current_po_file():
    compiled = io.BytesIO()
    write_mo(compiled, spanish())
    assert (CATALOGUE / "messages.mo").read_bytes() == compiled.getvalue(), (
        "run `make translations` (pybabel compile) and commit messages.mo"
    )


def test_the_service_gettext_reads_the_same_catalogue():
    say = i18n.gettext_for("es")
    assert say("Unsubscribe:") == "Cancelar suscripción:"
    assert say("Join %(audience)s", audience="Migraine News") == "Únete a Migraine News"
    assert i18n.gettext_for("fr")("Unsubscribe:") == "Unsubscribe:"
    assert i18n.language_or_none("es-MX") == "es" and i18n.language_or_none("fr") is None
