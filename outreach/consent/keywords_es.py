"""Spanish SMS keywords and revocation sentences, read by ``keywords.classify``.

Pure data for text that ``keywords.normalize`` has already cleaned (the matching itself is
``keywords``' own, shared by both languages); ``fold`` also drops accents, so "NO MÁS",
"no mas" and "No Más!" read the same.

* Opt-out keywords (the whole message, polite filler allowed): ALTO, PARAR, PARE, PARA,
  PAREN, BAJA, CANCELAR, DETENER, BASTA, "NO MAS", "DE BAJA", "DARME DE BAJA".
* Opt-in keywords: INICIO, SI, COMENZAR. Help: AYUDA (INFO is shared with English).
* Plain sentences that clearly ask to stop ("no más mensajes", "ya no me manden mensajes",
  "quiero darme de baja", "sáquenme de la lista") are opt-outs, unless negated
  ("no quiero darme de baja").

Ordinary messages that merely contain a keyword stay ordinary ("el dolor no para", "alto
dolor de cabeza", "para mañana").
"""

from __future__ import annotations

import re
import unicodedata

#: Single-word opt-out keywords (whole message).
OPT_OUT_WORDS = frozenset(
    {"alto", "parar", "pare", "para", "paren", "baja", "cancelar", "detener", "basta"}
)
#: Opt-out keywords as token tuples, including the several-word forms.
OPT_OUT_PHRASES = frozenset(
    {(w,) for w in OPT_OUT_WORDS}
    | {
        ("no", "mas"), ("de", "baja"), ("darme", "de", "baja"), ("dame", "de", "baja"),
        ("denme", "de", "baja"), ("deme", "de", "baja"), ("no", "mas", "mensajes"),
        ("cancelar", "suscripcion"), ("basta", "ya"),
    }
)  # fmt: skip
#: Opt-in keywords (whole message).
OPT_IN_WORDS = frozenset({"inicio", "si", "comenzar"})
#: Help keywords (whole message).
HELP_WORDS = frozenset({"ayuda"})

#: Polite words ignored around a keyword ("ALTO por favor", "baja ya, gracias").
FILLER = frozenset(
    {
        "por", "favor", "porfa", "porfavor", "xfa", "xfavor", "pf", "gracias", "ya", "ahora",
        "inmediatamente", "hola", "oiga", "oye", "senor", "senora", "ok", "vale", "muchas",
    }
)  # fmt: skip

#: A sentence that is exactly one of these (after filler) is an opt-out inside a longer
#: message ("Alto. ¿Quién es?", "Nunca me inscribí. BAJA").
STRONG_SENTENCE = frozenset(
    {
        ("alto",), ("baja",), ("parar",), ("pare",), ("paren",), ("detener",), ("basta",),
        ("no", "mas"), ("darme", "de", "baja"), ("denme", "de", "baja"),
        ("dame", "de", "baja"), ("no", "mas", "mensajes"),
    }
)  # fmt: skip

_OBJ = (
    r"(?:mensajes?|mensajitos?|msjs?|msgs?|textos?|sms|notificaciones?|recordatorios?|"
    r"alertas?|avisos?|correos?|emails?|llamadas?|spam|promociones?|publicidad)"
)
_MID = (
    r"(?:de|los|las|sus|tus|su|tu|esos|esas|estos|estas|el|la|me|mas|todos|todas|ningun|"
    r"ninguna|enviar|mandar|enviarme|mandarme|recibir|texto|de\stexto)"
)
_LIST = (
    r"(?:lista|listas|base\sde\sdatos|sistema|programa|mensajes|contactos|registro|"
    r"campana|suscripcion|suscripciones)"
)
_SEND_ME = (
    r"(?:manden|mande|mandes|envien|envie|envies|escriban|escriba|escribas|contacten|"
    r"contacte|contactes|molesten|moleste|molestes|texteen|textee|llamen|llame)"
)

#: Phrases that are revocations unless negated ("no quiero darme de baja").
GUARDED = [
    re.compile(r"\b(?:darme|darse|dame|denme|deme|darnos|me\sdoy|dar)\sde\sbaja\b"),
    re.compile(
        r"\bdej(?:en|e|a|ar)\sde\s(?:enviar|mandar|escribir|textear|contactar|molestar|llamar)"
        r"(?:me|nos)?\b"
    ),
    re.compile(
        rf"\b(?:para|paren|pare|parar|detener|detengan|detenga|deten|cancelar|cancelen|"
        rf"cancele|suspender|suspendan)\s(?:{_MID}\s){{0,3}}{_OBJ}\b"
    ),
    re.compile(r"\bcancel(?:ar|en|e|a|o)\s(?:mi\s|la\s|esta\s|su\s)?suscripcion\b"),
    re.compile(r"\bdesuscrib\w*\b|\bdesinscrib\w*\b|\bdesapunt\w*\b"),
    re.compile(
        r"\b(?:borren|borrenme|borrame|borreme|eliminen|eliminenme|eliminame|elimineme|quiten|"
        r"quitenme|quitame|quiteme|saquen|saquenme|sacame|saqueme|borrar|eliminar|quitar|"
        r"sacar)(?:me)?(?:\s(?:mi\snumero|mi\stelefono|mi\scelular|mis\sdatos|a\smi))?\s"
        rf"(?:de|del)\s(?:(?:la|las|los|su|sus|tu|esta|este|el)\s)?{_LIST}\b"
    ),
]

#: Phrases that are revocations as they stand (the negation is part of the request).
PLAIN = [
    re.compile(rf"\bno\smas\s(?:{_MID}\s){{0,2}}{_OBJ}\b"),
    re.compile(rf"\b(?:ya\s)?no\s(?:me|nos)\s{_SEND_ME}\b"),
    re.compile(
        r"\b(?:ya\s)?no\s(?:quiero|quisiera|deseo|necesito)\s(?:recibir\s|seguir\srecibiendo\s"
        r"|mas\s)?(?:(?:mas|sus|tus|estos|estas|esos|esas|los|las|ningun|ninguna|de|texto)\s)*"
        rf"{_OBJ}\b"
    ),
    re.compile(r"\bdej(?:enme|ame|eme|ennos)\sen\spaz\b"),
    re.compile(r"\bnumero\s(?:equivocado|incorrecto|erroneo)\b"),
    re.compile(rf"\bbasta\sde\s(?:{_MID}\s){{0,2}}{_OBJ}\b"),
]

#: A guarded match is ignored when the text before it ends in a negation.
NEGATED = re.compile(
    r"\b(?:no|nunca|jamas|tampoco)(?:\s(?:quiero|quise|queria|deseo|pedi|dije|voy\sa|vayan\sa|"
    r"es|era|hace\sfalta|necesito|se\scomo|puedo|pueden|quiero\sque|es\spara))*(?:\sque)?\s$"
)


def fold(text: str) -> str:
    """Drop the accents of already-normalised text ("más" -> "mas", "sí" -> "si")."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
