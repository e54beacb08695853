"""Classify an inbound SMS body as opt-out, opt-in, help or anything else.

Pure functions: no Flask, no database. See ``COMPLIANCE.md`` (SMS section):

* Opt-out keywords (Twilio Advanced Opt-Out, FCC 24-24) match the *whole* message, any
  case, with surrounding whitespace and punctuation ignored: STOP, STOPALL, UNSUBSCRIBE,
  CANCEL, END, QUIT, REVOKE, OPTOUT, "OPT OUT", "STOP ALL".
* Revocation "by any reasonable means" (47 CFR 64.1200(a)(10)): plain sentences that clearly
  ask to stop ("please stop texting me", "take me off your list") are opt-outs too.
* Opt-in keywords START, YES, UNSTOP and help keywords HELP, INFO match the whole message.
* Spanish keywords and sentences (ALTO, BAJA, "no más mensajes", INICIO, SÍ, AYUDA ...) live
  in ``keywords_es``; ``read`` also says which language a keyword was in, so the reply can
  answer in it.

When in doubt between an opt-out and anything else, the opt-out wins: a false opt-out costs
one subscriber, a missed one breaks the law. Ordinary messages that merely contain a keyword
("I can't stop the headache", "when does the study end?") are not opt-outs.
"""

from __future__ import annotations

import re
import string
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from outreach.consent import keywords_es

__all__ = [
    "HELP_WORDS",
    "Intent",
    "OPT_IN_WORDS",
    "OPT_OUT_PHRASES",
    "OPT_OUT_WORDS",
    "Reading",
    "classify",
    "normalize",
    "read",
]


class Intent(StrEnum):
    """What an inbound text asks for."""

    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    OTHER = "other"


@dataclass(frozen=True)
class Reading:
    """What a text asks for, and the language of the keyword that said so (``"en"`` or
    ``"es"``; None when the words are the same in both, like INFO, or nothing matched)."""

    intent: Intent
    language: str | None = None


#: Single-word opt-out keywords (whole message).
OPT_OUT_WORDS = frozenset(
    {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout"}
)
#: Opt-out keywords as token tuples, including the two-word forms.
OPT_OUT_PHRASES = frozenset({(w,) for w in OPT_OUT_WORDS} | {("opt", "out"), ("stop", "all")})
#: Opt-in keywords (whole message).
OPT_IN_WORDS = frozenset({"start", "yes", "unstop"})
#: Help keywords (whole message).
HELP_WORDS = frozenset({"help", "info"})

#: Twilio's ``OptOutType`` webhook field.
_OPT_OUT_TYPE = {"stop": Intent.OPT_OUT, "start": Intent.OPT_IN, "help": Intent.HELP}

#: Raw characters looked at at all (Twilio caps a body at 1,600 characters).
_MAX_RAW = 2000
#: Normalised characters examined by the sentence rules, from the start (and from the end).
_MAX_SENTENCE = 500
_MAX_TAIL = 200
#: Most tokens a whole-message keyword can have once polite filler is counted.
_MAX_KEYWORD_TOKENS = 12

#: Polite words ignored around an opt-out keyword ("stop please", "STOP NOW!!", "stop it").
_FILLER = frozenset(
    {
        "please", "pls", "plz", "plse", "pleas", "now", "thanks", "thank", "you", "u", "thx",
        "ty", "tks", "asap", "immediately", "it", "ok", "okay", "k", "just", "right", "away",
        "hi", "hello", "hey", "sir", "maam", "again", "already", "ya", "yall", "sorry",
    }
)  # fmt: skip

#: A sentence that is exactly one of these (after filler) is an opt-out even inside a longer
#: message ("Stop. I never signed up for this", "I never signed up. STOP").
_STRONG_SENTENCE = frozenset(
    {
        ("stop",), ("stopall",), ("stop", "all"), ("unsubscribe",), ("optout",),
        ("opt", "out"), ("unsubscribe", "me"), ("opt", "me", "out"), ("remove", "me"),
        ("stop", "texting"), ("stop", "messaging"), ("stop", "texting", "me"),
        ("stop", "messaging", "me"), ("no", "more"), ("leave", "me", "alone"),
    }
)  # fmt: skip

#: Keywords that count when a mixed-case message opens or ends with them in capitals
#: ("STOP I never signed up").
_SHOUTED = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "OPTOUT"})

_APOSTROPHES = dict.fromkeys(map(ord, "'\u2018\u2019\u02bc\u02b9`\u00b4\u2032"), None)
_LINE_BREAKS = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")
_TOKEN = re.compile(r"[^\W_]+")
_DASH_BREAK = re.compile(r"\s[-\u2010-\u2015\u2212]+|[-\u2010-\u2015\u2212]+\s")
_BREAK_CATEGORIES = frozenset({"Po", "Ps", "Pe", "Pi", "Pf"})
_EDGE = string.whitespace + string.punctuation

_OBJ = (
    r"(?:texts?|texting|txts?|txting|texing|messages?|messaging|msgs?|msging|sms|smss|"
    r"notifications?|reminders?|alerts?|emails?|e\smails?|mails?|calls?|calling|spam|"
    r"spamming|subscriptions?|contacting|bothering|pinging)"
)
_MID = (
    r"(?:it|all|the|these|this|those|that|your|ur|any|with|me|us|my|sending|send|receiving|"
    r"getting|text|sms|marketing|promotional|automated)"
)
_LIST_OBJ = (
    r"(?:list|lists|mailing|database|system|contacts?|texts?|messages?|messaging|sms|"
    r"subscriptions?|program|registry|records?|notifications?|campaigns?|alerts?|"
    r"reminders?|emails?|marketing|number|numbers)"
)

_WHO = (
    r"(?:me|us|my\s(?:number|phone(?:\snumber)?|cell(?:\snumber)?|name|info|information|"
    r"contact(?:\sinfo)?|details|email))"
)

#: Phrases that are revocations unless negated ("don't stop texting me").
_GUARDED = [
    re.compile(rf"\b(?:stop|quit|cease|end|cancel|halt)\s(?:{_MID}\s){{0,4}}{_OBJ}\b"),
    re.compile(r"\bstop\s(?:receiving|getting)(?:\s(?:these|this|them|it|please|pls|now))*$"),
    re.compile(
        r"\bstop\ssending(?:\s(?:me|us|these|this|them|it|those|please|pls|now|anything|"
        r"stuff|things|junk|crap|spam))*$"
    ),
    re.compile(r"\bunsub(?:scrib\w*)?\b"),
    re.compile(r"\bopt(?:ed|ing)?\s(?:me\s|us\s)?out\b(?!\sof\b)"),
    re.compile(rf"\bopt(?:ed|ing)?\s(?:me\s|us\s)?out\sof\s(?:\w+\s){{0,3}}{_LIST_OBJ}\b"),
    re.compile(r"\boptout\b"),
    re.compile(
        rf"\b(?:remove|take|delete|drop|erase|get|scratch)\s{_WHO}\s(?:off|from|out)\b"
        rf"(?:\s\w+){{0,4}}?\s{_LIST_OBJ}\b"
    ),
    re.compile(
        rf"\b(?:remove|delete|erase|unsubscribe)\s{_WHO}"
        r"(?:\s(?:please|pls|plz|now|thanks|thank|you|asap|immediately))*$"
    ),
    re.compile(
        r"\b(?:dont|do\snot|no\slonger|never)\s(?:want|wish|need|like)\s"
        r"(?:to\s(?:receive|get|see|have)\s)?(?:(?:any|these|this|those|the|your|ur|more|"
        rf"such|all|of|em|them|further|text|sms|marketing)\s)*{_OBJ}\b"
    ),
    re.compile(
        r"\b(?:dont|do\snot|no\slonger|never)\s(?:want|wish)\sto\sbe\s"
        r"(?:contacted|texted|messaged|emailed|called|on\s(?:your|the|this|ur)\s\w*\s?list)\b"
    ),
]

#: Phrases that are revocations as they stand.
_PLAIN = [
    re.compile(
        r"\b(?:dont|do\snot|never|stop)\s(?:ever\s)?(?:text|txt|message|msg|sms|contact|email|"
        r"spam|bother|ping)\s(?:me|us|this\snumber|my\snumber|my\sphone|again)\b"
    ),
    re.compile(rf"\bno\s(?:more|further)\s(?:{_MID}\s){{0,2}}{_OBJ}\b"),
    re.compile(rf"^no\s{_OBJ}(?:\s(?:please|pls|plz|thanks|thank|you|anymore|again|ever|now))*$"),
    re.compile(
        r"^(?:(?:please|pls|plz|just|ok|okay|oh|god|omg|seriously|now)\s)*leave\sme\salone\b"
    ),
    re.compile(r"\blose\smy\snumber\b"),
    re.compile(r"\bwrong\s(?:number|person|phone)\b"),
]

#: A guarded match is ignored when the text before it ends in a negation.
_NEGATED = re.compile(
    r"\b(?:dont|didnt|doesnt|do\snot|did\snot|does\snot|not|never|cant|cannot|can\snot|"
    r"couldnt|wont|will\snot|wouldnt|shouldnt|no\sneed\sto|no\sreason\sto)"
    r"(?:\s(?:want|wish|need|mean|meant|plan|intend|trying|going|ever|really|even|just|"
    r"please|to))*\s$"
)


def normalize(body: str) -> str:
    """NFKC-normalise and casefold ``body``; drop apostrophes and invisible format characters.

    Line breaks become ``"."`` (a sentence break) and other whitespace or control characters
    a space, so ``"ＳＴＯＰ"`` becomes ``"stop"`` and ``"don’t"`` becomes ``"dont"``.
    """
    text = unicodedata.normalize("NFKC", body).casefold().translate(_APOSTROPHES)
    out = []
    for ch in text:
        if ch in _LINE_BREAKS:
            out.append(".")
            continue
        cat = unicodedata.category(ch)
        if cat in ("Cf", "Cs", "Co", "Cn"):
            continue  # zero-width joiners, soft hyphens, BOMs, lone surrogates
        out.append(" " if cat == "Cc" or ch.isspace() else ch)
    return "".join(out)


def _tokens(text: str) -> tuple[str, ...]:
    return tuple(_TOKEN.findall(text))


def _without_filler(tokens: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(t for t in tokens if t not in _FILLER)


def _chunks(text: str) -> list[str]:
    """What the sentence rules read: the first 500 characters and, of a longer message,
    its last 200 (never starting inside a word)."""
    chunks = [text[:_MAX_SENTENCE]]
    if len(text) > _MAX_SENTENCE:
        tail = text[-_MAX_TAIL:]
        cut = re.search(r"[\s.]", tail)
        chunks.append(tail[cut.end() :] if cut else "")
    return chunks


def _is_opt_out_keyword(
    tokens: tuple[str, ...],
    words: frozenset[str] = OPT_OUT_WORDS,
    phrases: frozenset[tuple[str, ...]] = OPT_OUT_PHRASES,
    filler: frozenset[str] = _FILLER,
) -> bool:
    """Keyword (or repeats of keywords, "STOP STOP"), ignoring polite filler; ``words``,
    ``phrases`` and ``filler`` are another language's lists (``keywords_es``)."""
    core = tuple(t for t in tokens if t not in filler)
    if not core:
        return False
    if core in phrases:
        return True
    return len(core) <= 6 and all(t in words for t in core)


def _sentences(text: str) -> list[str]:
    """Split normalised text at sentence punctuation (., !, ?, commas, semicolons...)."""
    pieces: list[str] = []
    current: list[str] = []
    for ch in _DASH_BREAK.sub(".", text):
        if unicodedata.category(ch) in _BREAK_CATEGORIES:
            pieces.append("".join(current))
            current = []
        else:
            current.append(ch)
    pieces.append("".join(current))
    return [" ".join(_tokens(p)) for p in pieces if _TOKEN.search(p)]


def _asks_to_stop(
    sentence: str,
    plain: list[re.Pattern[str]] = _PLAIN,
    guarded: list[re.Pattern[str]] = _GUARDED,
    negated: re.Pattern[str] = _NEGATED,
) -> bool:
    """True when one sentence (tokens joined by single spaces) asks to stop messages: a
    ``plain`` phrase, or a ``guarded`` one not preceded by a ``negated`` ending."""
    if any(p.search(sentence) for p in plain):
        return True
    for pattern in guarded:
        for match in pattern.finditer(sentence):
            if not negated.search(sentence[: match.start()]):
                return True
    return False


def _shouted_keyword(raw: str, *, first: bool = True) -> bool:
    """A mixed-case message that opens (or ends) with a capitalised keyword: "STOP I'm out".

    ``first=False`` looks only at the last word (``raw`` is then a tail cut mid-message).
    """
    words = re.findall(r"[^\W\d_]+", unicodedata.normalize("NFKC", raw))
    if len(words) < 2 or not any(w != w.upper() for w in words):
        return False
    if first and words[0] in _SHOUTED:
        return True
    if words[-1] in _SHOUTED:
        before = " ".join(_tokens(normalize(" ".join(words[:-1])))) + " "
        return not _NEGATED.search(before)
    return False


def _sentence_rules(text: str, raw: str) -> bool:
    for chunk in _chunks(text):
        for sentence in _sentences(chunk):
            tokens = tuple(sentence.split(" "))
            core = _without_filler(tokens)
            if (
                core
                and (core in _STRONG_SENTENCE or _is_opt_out_keyword(tokens))
                and (len(core) > 1 or core[0] not in {"cancel", "end", "quit", "revoke"})
            ):
                return True
            if _asks_to_stop(sentence):
                return True
    if len(raw) <= _MAX_SENTENCE:
        return _shouted_keyword(raw)
    return _shouted_keyword(raw[:_MAX_SENTENCE]) or _shouted_keyword(raw[-_MAX_TAIL:], first=False)


def classify(body: str | None, opt_out_type: str | None = None) -> Intent:
    """Classify an inbound SMS ``body``.

    ``opt_out_type`` is Twilio's ``OptOutType`` webhook field ("STOP", "START" or "HELP",
    any case); when present and recognised it wins over the body. Otherwise:

    * the whole message (case, surrounding whitespace and punctuation ignored, unicode
      NFKC-normalised) is an opt-out keyword -> ``OPT_OUT`` (polite filler such as
      "please"/"now" is allowed around it, and repeats like "STOP STOP");
    * exactly START, YES or UNSTOP -> ``OPT_IN``; exactly HELP or INFO -> ``HELP``;
    * the same in Spanish (``keywords_es``): ALTO, BAJA, "NO MÁS" ... -> ``OPT_OUT``;
      INICIO, SÍ, COMENZAR -> ``OPT_IN``; AYUDA -> ``HELP``;
    * a sentence that clearly asks to stop, in English or Spanish ("please stop texting
      me", "remove me from this list", "ya no me manden mensajes") -> ``OPT_OUT``;
    * anything else -> ``OTHER``.

    Never raises: any string (emoji, control characters, megabytes) or None is accepted; only
    the first 2,000 characters are looked at, the sentence rules read the first 500 and the
    last 200 normalised characters.
    """
    return read(body, opt_out_type).intent


def read(body: str | None, opt_out_type: str | None = None) -> Reading:
    """``classify``, plus the language of the keyword or sentence that decided it."""
    try:
        return _read(body, opt_out_type)
    except Exception:  # noqa: BLE001 - classification must never take the webhook down
        return Reading(Intent.OTHER)


def _read(body: str | None, opt_out_type: str | None) -> Reading:
    if isinstance(body, bytes | bytearray):
        body = bytes(body[: _MAX_RAW * 4]).decode("utf-8", errors="replace")
    if isinstance(opt_out_type, str):
        hint = _OPT_OUT_TYPE.get(opt_out_type.strip().casefold())
        if hint is not None:  # Twilio decided; the body still tells the language
            found = _read(body, None) if isinstance(body, str) else Reading(hint)
            return Reading(hint, found.language if found.intent == hint else None)
    if not isinstance(body, str):
        return Reading(Intent.OTHER)
    raw = body.strip(_EDGE)[:_MAX_RAW]
    if not raw:
        return Reading(Intent.OTHER)
    text = normalize(raw)
    tokens = _tokens(text)
    if not tokens:
        return Reading(Intent.OTHER)
    if len(tokens) <= _MAX_KEYWORD_TOKENS:
        if _is_opt_out_keyword(tokens):
            return Reading(Intent.OPT_OUT, "en")
        if len(tokens) == 1 and tokens[0] in OPT_IN_WORDS:
            return Reading(Intent.OPT_IN, "en")
        if len(tokens) == 1 and tokens[0] in HELP_WORDS:
            return Reading(Intent.HELP, None if tokens[0] == "info" else "en")
        spanish = _spanish_keyword(_tokens(keywords_es.fold(text)))
        if spanish is not None:
            return Reading(spanish, "es")
    if _sentence_rules(text, raw):
        return Reading(Intent.OPT_OUT, "en")
    if _spanish_sentence_rules(keywords_es.fold(text)):
        return Reading(Intent.OPT_OUT, "es")
    return Reading(Intent.OTHER)


def _spanish_keyword(tokens: tuple[str, ...]) -> Intent | None:
    """The intent of a whole message that is a Spanish keyword (folded tokens)."""
    es = keywords_es
    if _is_opt_out_keyword(tokens, es.OPT_OUT_WORDS, es.OPT_OUT_PHRASES, es.FILLER):
        return Intent.OPT_OUT
    if len(tokens) == 1 and tokens[0] in es.OPT_IN_WORDS:
        return Intent.OPT_IN
    if len(tokens) == 1 and tokens[0] in es.HELP_WORDS:
        return Intent.HELP
    return None


def _spanish_sentence_rules(folded: str) -> bool:
    es = keywords_es
    for chunk in _chunks(folded):
        for sentence in _sentences(chunk):
            core = tuple(t for t in sentence.split(" ") if t not in es.FILLER)
            if core in es.STRONG_SENTENCE:
                return True
            if _asks_to_stop(sentence, es.PLAIN, es.GUARDED, es.NEGATED):
                return True
    return False
