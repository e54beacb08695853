"""Spanish inbound keywords: ALTO / BAJA / "no más mensajes" opt out, INICIO / SÍ opt in,
AYUDA asks for help, and ``read`` says which language the keyword was in."""

from __future__ import annotations

import string
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outreach.consent.keywords import Intent, classify, read
from outreach.consent.keywords_es import HELP_WORDS, OPT_IN_WORDS, OPT_OUT_WORDS

SPANISH_OPT_OUT_KEYWORDS = sorted(OPT_OUT_WORDS) + ["no mas", "no más", "darme de baja"]


def test_the_spanish_keywords_are_the_ones_the_issue_names():
    assert {"alto", "parar", "pare", "baja", "cancelar", "detener"} <= OPT_OUT_WORDS
    assert {"inicio", "si", "comenzar"} == OPT_IN_WORDS
    assert {"ayuda"} == HELP_WORDS


OPT_OUT_MESSAGES = [
    "ALTO", "alto", "Alto.", "¡ALTO!", "¡¡alto!!", "PARAR", "parar", "PARE", "Pare!", "Para",
    "PAREN", "BAJA", "baja", "Baja.", "CANCELAR", "cancelar", "DETENER", "Detener", "BASTA",
    "NO MAS", "NO MÁS", "no más", "No mas!", "no   más", "NO-MÁS", "ＡＬＴＯ", "ALTO ALTO",
    "alto por favor", "Por favor, alto", "baja ya", "BAJA, gracias", "Alto ya!!", "🛑 ALTO",
    "De baja", "darme de baja", "Dame de baja", "Denme de baja por favor", "No más mensajes",
    "cancelar suscripción", "Basta ya",
]  # fmt: skip


@pytest.mark.parametrize("body", OPT_OUT_MESSAGES)
def test_spanish_opt_out_keywords(body):
    assert read(body).intent is Intent.OPT_OUT
    assert read(body).language == "es"


REVOCATIONS = [
    "no más mensajes", "No más mensajes por favor", "no mas textos", "ya no me manden mensajes",
    "Ya no me manden más mensajes, gracias", "no me envíen más", "No me escriban",
    "quiero darme de baja", "Quiero darme de baja de esta lista", "quisiera darme de baja",
    "por favor denme de baja", "ya no quiero recibir mensajes",
    "Ya no quiero recibir estos mensajes", "no quiero más mensajes", "no deseo recibir textos",
    "dejen de enviarme mensajes", "Dejen de escribirme por favor", "deja de mandarme mensajes",
    "sáquenme de la lista", "Saquenme de su lista", "bórrenme de la lista",
    "quiten mi número de su lista", "eliminen mi número de la base de datos",
    "cancelar mi suscripción", "Quiero cancelar mi suscripción", "paren los mensajes",
    "detengan los mensajes por favor", "número equivocado", "Lo siento, número equivocado",
    "déjenme en paz", "basta de mensajes", "Alto. ¿Quién es?", "Nunca me inscribí. BAJA",
    "Hola, soy Ana. Ya no me manden mensajes", "me quiero desuscribir", "desuscribirme",
    "NO MÁS MENSAJES!!!",
]  # fmt: skip


@pytest.mark.parametrize("body", REVOCATIONS)
def test_spanish_sentences_that_ask_to_stop_are_opt_outs(body):
    assert read(body) == read(body)  # pure
    assert read(body).intent is Intent.OPT_OUT
    assert read(body).language == "es"


NEAR_MISSES = [
    "el dolor no para", "El dolor de cabeza no para desde ayer", "alto dolor de cabeza",
    "¿a qué hora abren?", "para mañana", "Para mañana a las 3?", "es para mi hija",
    "no quiero darme de baja", "No quiero que dejen de enviarme mensajes",
    "nunca pedí darme de baja", "la presión alta", "tengo la presión alta", "¿Dónde es la cita?",
    "Gracias por la información", "sí, gracias", "Si puedo ir mañana", "¿Cuándo empieza?",
    "Me ayuda mucho", "la baja de mi seguro", "gracias por los mensajes", "hola",
    "¿Tienen consultas los sábados?", "mi migraña no se detiene", "¿me pueden llamar?",
]  # fmt: skip


@pytest.mark.parametrize("body", NEAR_MISSES)
def test_spanish_near_misses_stay_ordinary_messages(body):
    assert classify(body) is Intent.OTHER


@pytest.mark.parametrize(
    ("body", "intent"),
    [
        ("INICIO", Intent.OPT_IN), ("inicio", Intent.OPT_IN), ("Inicio.", Intent.OPT_IN),
        ("SI", Intent.OPT_IN), ("SÍ", Intent.OPT_IN), ("sí", Intent.OPT_IN),
        ("Si!", Intent.OPT_IN), ("COMENZAR", Intent.OPT_IN), ("comenzar", Intent.OPT_IN),
        ("AYUDA", Intent.HELP), ("ayuda", Intent.HELP), ("¿Ayuda?", Intent.HELP),
    ],
)  # fmt: skip
def test_spanish_opt_in_and_help_keywords(body, intent):
    assert read(body).intent is intent
    assert read(body).language == "es"


@pytest.mark.parametrize(
    ("body", "language"),
    [("STOP", "en"), ("stop texting me", "en"), ("START", "en"), ("HELP", "en"),
     ("INFO", None), ("hola", None), ("ALTO", "es"), ("INICIO", "es")],
)  # fmt: skip
def test_read_names_the_language_of_the_keyword(body, language):
    assert read(body).language == language


def test_twilio_opt_out_type_wins_and_the_body_still_tells_the_language():
    assert read("ALTO", "STOP").intent is Intent.OPT_OUT
    assert read("ALTO", "STOP").language == "es"
    assert read("STOP", "STOP").language == "en"
    assert read("INICIO", "START").language == "es"
    # Twilio says STOP for a body we do not read as one: obey it, language unknown.
    assert read("fin", "STOP") == read("fin", "stop")
    assert read("fin", "STOP").intent is Intent.OPT_OUT and read("fin", "STOP").language is None


# --- properties ---------------------------------------------------------------------------

_EDGE_CHARS = string.whitespace + string.punctuation + "¡¿…«»“”‘’！？" + "🛑😡👍"


def _random_case(draw, word: str) -> str:  # noqa: ANN001
    flips = draw(st.lists(st.booleans(), min_size=len(word), max_size=len(word)))
    return "".join(c.upper() if f else c.lower() for c, f in zip(word, flips, strict=True))


@st.composite
def wrapped(draw, words: list[str]) -> str:  # noqa: ANN001
    """A keyword in any case, maybe accented or full-width, wrapped in punctuation."""
    word = draw(st.sampled_from(words))
    if " " in word:
        sep = draw(st.sampled_from([" ", "  ", "-", "_", ".", "\t", "\u00a0"]))
        word = sep.join(word.split(" "))
    if draw(st.booleans()):  # a stray accent, as phones' autocorrect adds them
        word = word.replace("a", "á", 1).replace("i", "í", 1)
    cased = _random_case(draw, word)
    if draw(st.booleans()):
        cased = unicodedata.normalize("NFD", cased)
    before = draw(st.text(alphabet=_EDGE_CHARS, max_size=10))
    after = draw(st.text(alphabet=_EDGE_CHARS, max_size=10))
    return before + cased + after


@settings(max_examples=300, deadline=None)
@given(wrapped(SPANISH_OPT_OUT_KEYWORDS))
def test_every_spanish_opt_out_word_in_any_case_accent_and_wrapping_opts_out(body):
    assert read(body) == read(body)
    assert read(body).intent is Intent.OPT_OUT
    assert read(body).language == "es"


@settings(max_examples=150, deadline=None)
@given(wrapped(sorted(OPT_IN_WORDS)))
def test_every_spanish_opt_in_word_in_any_case_and_wrapping_opts_in(body):
    assert read(body).intent is Intent.OPT_IN


@settings(max_examples=100, deadline=None)
@given(wrapped(["ayuda"]))
def test_ayuda_in_any_case_and_wrapping_is_help(body):
    assert read(body).intent is Intent.HELP


_POLITE = st.sampled_from(["por favor", "gracias", "ya", "porfa", "hola", "ahora"])


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(OPT_OUT_WORDS)), _POLITE, st.booleans())
def test_polite_filler_around_a_spanish_keyword_still_opts_out(word, polite, first):
    body = f"{polite} {word.upper()}" if first else f"{word}, {polite}"
    assert classify(body) is Intent.OPT_OUT


_SPANISH_WORDS = st.sampled_from(
    [
        "el", "la", "de", "que", "y", "en", "un", "una", "mi", "dolor", "cabeza", "cita",
        "hora", "mañana", "hoy", "consulta", "clínica", "médico", "gracias", "buenos", "días",
        "tengo", "migraña", "desde", "ayer", "pastillas", "semana", "lunes", "martes",
    ]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(_SPANISH_WORDS, min_size=1, max_size=12))
def test_ordinary_spanish_sentences_without_a_keyword_are_other(words):
    assert classify(" ".join(words)) is Intent.OTHER


@settings(max_examples=300, deadline=None)
@given(st.text(), st.one_of(st.none(), st.sampled_from(["STOP", "START", "HELP", "x"])))
def test_read_never_raises_and_agrees_with_classify(body, opt_out_type):
    reading = read(body, opt_out_type)
    assert reading.intent is classify(body, opt_out_type)
    assert reading.language in (None, "en", "es")
