"""Tests for outreach.campaigns.files and ``flask outreach campaign ...``."""

from __future__ import annotations

import textwrap
from datetime import date
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from outreach import resources
from outreach.campaigns.files import export as campaign_export
from outreach.campaigns.files import load as campaign_files
from outreach.campaigns.files import schema as file_schema
from outreach.campaigns.files import yaml_lines
from outreach.campaigns.files.check import validate
from outreach.campaigns.files.parse import parse, parse_after
from outreach.campaigns.files.problems import CampaignFileError, Problem
from outreach.consent import wording
from outreach.extensions import db
from outreach.models import Audience, Campaign, Step, StepVariant
from outreach.rendering import sms as sms_rendering
from tests.factories import make_audience

JUNE = resources.demo_campaign_file()


def doc(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


CALENDAR = doc(
    """
    name: Calendar test
    audience: migraine-awareness
    anchor: {date: 2027-06-01}
    steps:
      - day: 0
        at: "10:00"
        channel: email
        subject: June is awareness month
        preheader: A short note
        html: |
          <p>Hi {{ first_name }},</p>
          <p>June is awareness month.</p>
      - day: 2
        at: "12:00"
        channel: sms
        body: "NeuroMedici Migraine Awareness: June facts. Reply STOP to opt out."
    """
)

CONFIRMATION = doc(
    """
    name: Welcome series
    audience: migraine-awareness
    anchor: {on: confirmation}
    steps:
      - after: 0
        channel: email
        subject: Welcome
        html: |
          <p>Hi {{ first_name }}, thanks for joining.</p>
        text: |
          Hi {{ first_name }}, thanks for joining.
        late_joiners: true
      - after: 90m
        channel: sms
        body: "NeuroMedici Migraine Awareness: welcome! Reply STOP to opt out."
      - after: 2d
        channel: email
        subject: Two days in
        html: "<p>Still here.</p>"
    """
)


SPANISH = doc(
    """
    name: Bilingual test
    audience: migraine-awareness
    anchor: {date: 2027-06-01}
    steps:
      - day: 0
        at: "10:00"
        channel: email
        subject: June is awareness month
        html: |
          <p>Hi {{ first_name }},</p>
        late_joiners: true
        es:
          subject: Junio es el mes de la migraña
          preheader: Una nota breve
          html: |
            <p>¡Hola, {{ first_name }}!</p>
            <p>Consulta a tu médico.</p>
          text: |
            ¡Hola, {{ first_name }}!
      - day: 2
        at: "12:00"
        channel: sms
        body: 'NeuroMedici Migraine Awareness: June facts. Reply STOP to opt out.'
        es:
          body: 'NeuroMedici Migraine Awareness: datos de junio. Responde ALTO para cancelar.'
      - day: 3
        at: "12:00"
        channel: sms
        body: More June facts. Reply STOP to opt out.
    """
)


def variants() -> list[tuple[int, str, str, str, str | None, str]]:
    """(step position, language, subject, html, text, body) of every stored variant."""
    rows = db.session.execute(
        select(Step.position, StepVariant)
        .join(StepVariant, StepVariant.step_id == Step.id)
        .order_by(Step.position)
    ).all()
    return [(p, v.language, v.subject, v.html, v.text, v.body) for p, v in rows]


def problems_of(text: str) -> list[Problem]:
    with pytest.raises(CampaignFileError) as caught:
        parse(text)
    return caught.value.problems


def lines(problems: list[Problem]) -> list[int | None]:
    return [p.line for p in problems]


def messages(problems: list[Problem]) -> str:
    return "\n".join(p.message for p in problems)


def step_count() -> int:
    return db.session.scalar(select(func.count(Step.id)))


def campaign_count() -> int:
    return db.session.scalar(select(func.count(Campaign.id)))


# --------------------------------------------------------------------------- parse (no database)


def test_parse_calendar_file():
    data = parse(CALENDAR)
    assert data["anchor"] == {"date": date(2027, 6, 1)}
    assert [s["channel"] for s in data["steps"]] == ["email", "sms"]
    assert data["steps"][1]["at"] == "12:00"


def test_parse_confirmation_file_converts_after_to_minutes():
    data = parse(CONFIRMATION)
    assert data["anchor"] == {"on": "confirmation"}
    assert [s["after"] for s in data["steps"]] == [0, 90, 2880]


@pytest.mark.parametrize(
    "anchor", ["{on: confirmation}", '{"on": confirmation}', "{'on': confirmation}"]
)
def test_bare_and_quoted_on_are_the_same(anchor):
    text = CONFIRMATION.replace("{on: confirmation}", anchor)
    assert parse(text)["anchor"] == {"on": "confirmation"}


def test_block_style_anchor_with_bare_on():
    text = CONFIRMATION.replace("anchor: {on: confirmation}", "anchor:\n  on: confirmation")
    assert parse(text)["anchor"] == {"on": "confirmation"}


@pytest.mark.parametrize(
    ("written", "stored"), [("10:00", "10:00"), ("9:30", "09:30"), ('"08:05"', "08:05")]
)
def test_unquoted_and_short_times_are_read_as_written(written, stored):
    text = CALENDAR.replace('at: "12:00"', f"at: {written}")
    assert parse(text)["steps"][1]["at"] == stored


@pytest.mark.parametrize(
    ("value", "minutes"),
    [(0, 0), ("0", 0), (45, 45), ("45", 45), ("90m", 90), ("3h", 180), ("2d", 2880), (" 5m ", 5)],
)
def test_parse_after(value, minutes):
    assert parse_after(value) == minutes


@pytest.mark.parametrize("value", [-1, 1.5, True, "", "h", "3 hours", "1w", "-5m", "400d"])
def test_parse_after_refuses(value):
    with pytest.raises(ValueError):
        parse_after(value)


@pytest.mark.parametrize(
    ("minutes", "shown"), [(0, 0), (90, "90m"), (120, "2h"), (2880, "2d"), (61, "61m")]
)
def test_format_after_round_trips(minutes, shown):
    assert campaign_export.format_after(minutes) == shown
    assert parse_after(shown) == minutes


def test_yaml_syntax_error_has_its_line():
    text = CALENDAR.replace("subject: June is awareness month", 'subject: "unclosed')
    problems = problems_of(text)
    assert problems[0].line is not None and problems[0].line >= 8
    assert problems[0].message.startswith("YAML:")


def test_yaml_indentation_error_line():
    text = "name: x\naudience: y\n  bad: indent\n"
    assert lines(problems_of(text)) == [3]


@pytest.mark.parametrize(
    ("old", "new", "line", "words"),
    [
        ('at: "10:00"', 'at: "25:00"', 6, 'step 1 at: must be a time like "10:00"'),
        ("channel: sms", "channel: fax", 15, "step 2 channel: must be one of: email, sms"),
        (
            "preheader: A short note",
            "preheadr: A short note",
            9,
            "unknown key 'preheadr'; did you mean 'preheader'",
        ),
        ("    subject: June is awareness month\n", "", 5, "step 1: missing 'subject'"),
        ("day: 2", "day: -1", 13, "step 2 day: -1 is less than the minimum of 0"),
        ("day: 2", "day: two", 13, "step 2 day: must be a whole number"),
        ("name: Calendar test", "name: [a]", 1, "name: must be text"),
        ("audience: migraine-awareness\n", "", 1, "missing 'audience'"),
        (
            "anchor: {date: 2027-06-01}",
            "anchor: {date: June}",
            3,
            "anchor date: must be a date like 2027-06-01",
        ),
        ("anchor: {date: 2027-06-01}", "anchor: {}", 3, "anchor: write either"),
        (
            "anchor: {date: 2027-06-01}",
            "anchor: {on: monday}",
            3,
            "anchor on: must be 'confirmation'",
        ),
        (
            "  - day: 2\n",
            "  - after: 2h\n",
            13,
            "'after' is for campaigns anchored on confirmation",
        ),
        ('    body: "N', '    subject: x\n    body: "N', 16, "an SMS step has no 'subject'"),
        ("    html: |", '    body: "x"\n    html: |', 10, "an email step has no 'body'"),
        (
            "  - day: 0\n",
            "  - day: 0\n    late_joiners: maybe\n",
            6,
            "late_joiners: must be true or false",
        ),
    ],
)
def test_schema_errors_name_the_line_and_field(old, new, line, words):
    assert old in CALENDAR
    problems = problems_of(CALENDAR.replace(old, new, 1))
    assert any(p.line == line and words in p.message for p in problems), problems


def test_confirmation_step_with_day_and_at_is_refused_on_their_lines():
    text = CONFIRMATION.replace("  - after: 90m\n", '  - day: 1\n    at: "10:00"\n')
    problems = problems_of(text)
    assert "'day' is for calendar campaigns" in messages(problems)
    assert "step 2: missing 'after'" in messages(problems)
    assert lines(problems) == [13, 13, 14]


def test_after_too_long_has_its_line():
    text = CONFIRMATION.replace("after: 2d", "after: 999d")
    problems = problems_of(text)
    assert [(p.line, p.message) for p in problems] == [(16, "step 3: after is longer than a year")]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "empty"),
        ("# only a comment\n", "empty"),
        ("- a\n- b\n", "a campaign file is a mapping"),
        ("just words", "a campaign file is a mapping"),
        ("name: a\nname: b\n", "duplicate key 'name'"),
        ("anchor: {date: 2027-02-30}\n", "not a valid date"),
        ("a: !!python/object:os.system ls\n", "YAML"),
        ("steps: []\n", "at least one step"),
    ],
)
def test_structural_problems(text, words):
    assert words in messages(problems_of(text))


def test_problems_are_sorted_by_line_and_printable():
    problems = problems_of(
        CALENDAR.replace("channel: sms", "channel: fax").replace('"10:00"', '"99"')
    )
    assert lines(problems) == sorted(lines(problems))
    assert str(problems[0]).startswith(f"line {problems[0].line}: ")
    error = CampaignFileError(problems)
    assert "line 6" in str(error)


def test_parse_spanish_copy():
    email, sms, plain = parse(SPANISH)["steps"]
    assert email["es"]["subject"] == "Junio es el mes de la migraña"
    assert email["es"]["text"] == "¡Hola, {{ first_name }}!\n"
    assert sms["es"] == {
        "body": "NeuroMedici Migraine Awareness: datos de junio. Responde ALTO para cancelar."
    }
    assert "es" not in plain


@pytest.mark.parametrize(
    ("old", "new", "line", "words"),
    [
        (
            "      subject: Junio",
            "      subjet: Junio",
            13,
            "step 1 es: unknown key 'subjet'; did you mean 'subject'?",
        ),
        ("      subject: Junio es el mes de la migraña\n", "", 12, "step 1 es: missing 'subject'"),
        (
            "      html: |\n        <p>¡Hola",
            "      body: x\n      html: |\n        <p>¡Hola",
            15,
            "step 1 es: an email step has no 'body'",
        ),
        (
            "      body: 'NeuroMedici Migraine Awareness: datos",
            "      subject: x\n      body: 'NeuroMedici Migraine Awareness: datos",
            25,
            "step 2 es: an SMS step has no 'subject'",
        ),
        (
            "      body: 'NeuroMedici Migraine Awareness: datos",
            "      preheader: x\n      body: 'NeuroMedici Migraine Awareness: datos",
            25,
            "step 2 es: an SMS step has no 'preheader'",
        ),
        (
            "      body: 'NeuroMedici Migraine Awareness: datos de junio. Responde ALTO para "
            "cancelar.'",
            '      body: ""',
            25,
            "step 2 es body: must not be empty",
        ),
        (
            "      subject: Junio es el mes de la migraña",
            "      subject: ''",
            13,
            "step 1 es subject: must not be empty",
        ),
        (
            "      subject: Junio es el mes de la migraña",
            "      subject: [a]",
            13,
            "step 1 es subject: must be text",
        ),
        (
            "    es:\n      body:",
            "    es: Hola\n    fr:\n      body:",
            24,
            "step 2 es: must be a mapping",
        ),
        ("    es:\n      body:", "    fr:\n      body:", 24, "step 2: unknown key 'fr'"),
    ],
)
def test_spanish_copy_schema_errors_name_the_line_and_field(old, new, line, words):
    assert old in SPANISH
    problems = problems_of(SPANISH.replace(old, new, 1))
    assert any(p.line == line and words in p.message for p in problems), problems


@pytest.mark.parametrize(
    ("old", "new", "line", "words"),
    [
        (
            "body: 'NeuroMedici Migraine Awareness: datos de junio. Responde ALTO para cancelar.'",
            'body: "   "',
            25,
            "step 2 es body: must not be empty",
        ),
        (
            "      subject: Junio es el mes de la migraña",
            '      subject: "  "',
            13,
            "step 1 es subject: must not be empty",
        ),
        ("      text: |\n        ¡Hola, {{ first_name }}!\n", "", None, None),  # optional
    ],
)
def test_blank_spanish_copy_is_refused(old, new, line, words):
    assert old in SPANISH
    text = SPANISH.replace(old, new, 1)
    if words is None:
        parse(text)
        return
    assert [(p.line, p.message) for p in problems_of(text)] == [(line, words)]


def test_file_size_limit():
    with pytest.raises(CampaignFileError, match="longer than"):
        parse("#" * (yaml_lines.MAX_FILE_CHARS + 1))


def test_schema_file_is_valid_draft_2020_12():
    from jsonschema import Draft202012Validator

    schema = file_schema.schema()
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is False


# --------------------------------------------------------------------------- export (no database)


def transient(kind: str, steps: list[dict]) -> Campaign:
    campaign = Campaign(
        name="Round trip",
        anchor_kind=kind,
        anchor_date=date(2027, 6, 1) if kind == "date" else None,
    )
    campaign.audience = Audience(slug="migraine-awareness", name="M")
    campaign.steps = [Step(position=i, **fields) for i, fields in enumerate(steps)]
    return campaign


def test_export_format():
    campaign = transient(
        "confirmation",
        [
            {"channel": "sms", "after_minutes": 180, "body": "yes"},
            {
                "channel": "email",
                "after_minutes": 0,
                "subject": "on",
                "html": "a\nb\n",
                "text": None,
            },
        ],
    )
    out = campaign_export.export(campaign)
    assert out == doc(
        """
        name: Round trip
        audience: migraine-awareness
        anchor: {"on": confirmation}
        steps:
          - after: 3h
            channel: sms
            body: 'yes'
          - after: 0
            channel: email
            subject: 'on'
            html: |
              a
              b
        """
    )


def test_export_calendar_quotes_times_and_writes_flow_anchor():
    campaign = transient(
        "date",
        [
            {
                "channel": "email",
                "day_offset": 3,
                "send_time": "09:30",
                "subject": "S",
                "preheader": "P",
                "html": "<p>x</p>",
                "text": "",
                "include_late_joiners": True,
            }
        ],
    )
    out = campaign_export.export(campaign)
    assert "anchor: {date: 2027-06-01}\n" in out
    assert '    at: "09:30"\n' in out
    assert "    text: ''\n    late_joiners: true\n" in out
    assert parse(out)["steps"][0]["late_joiners"] is True


def test_export_writes_spanish_copy_after_the_steps_own_fields():
    campaign = transient(
        "date",
        [
            {"channel": "email", "day_offset": 0, "send_time": "10:00", "subject": "S",
             "html": "<p>x</p>", "include_late_joiners": True},
            {"channel": "sms", "day_offset": 1, "send_time": "12:00", "body": "B"},
            {"channel": "sms", "day_offset": 2, "send_time": "12:00", "body": "C"},
        ],
    )  # fmt: skip
    email, sms, _ = campaign.steps
    email.variants = [
        StepVariant(
            language="es", subject="Asunto", preheader="", html="<p>a</p>\n<p>b</p>\n", text=""
        )
    ]
    sms.variants = [StepVariant(language="es", body="Hola")]
    out = campaign_export.export(campaign)
    assert (
        doc(
            """
        steps:
          - day: 0
            at: "10:00"
            channel: email
            subject: S
            html: <p>x</p>
            late_joiners: true
            es:
              subject: Asunto
              html: |
                <p>a</p>
                <p>b</p>
              text: ''
          - day: 1
            at: "12:00"
            channel: sms
            body: B
            es:
              body: Hola
          - day: 2
            at: "12:00"
            channel: sms
            body: C
        """
        )
        in out
    )
    assert parse(out)["steps"][0]["es"] == {
        "subject": "Asunto",
        "html": "<p>a</p>\n<p>b</p>\n",
        "text": "",
    }


_TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=120
)


_FILLED = _TEXT.filter(lambda value: campaign_export._clean(value).strip())  # noqa: SLF001


@settings(max_examples=200, deadline=None)
@given(
    subject=_TEXT,
    html=_TEXT,
    text=st.none() | _TEXT,
    body=_TEXT,
    name=_TEXT.filter(str.strip),
    es=st.none() | st.tuples(_FILLED, _TEXT, _FILLED, st.none() | _TEXT, _FILLED),
)
def test_export_then_parse_keeps_every_value(subject, html, text, body, name, es):
    campaign = transient(
        "date",
        [
            {
                "channel": "email",
                "day_offset": 0,
                "send_time": "10:00",
                "subject": subject,
                "preheader": subject,
                "html": html,
                "text": text,
            },
            {"channel": "sms", "day_offset": 1, "send_time": "12:00", "body": body},
        ],
    )
    campaign.name = name[:200]
    if es is not None:
        es_subject, es_preheader, es_html, es_text, es_body = es
        campaign.steps[0].variants = [
            StepVariant(language="es", subject=es_subject, preheader=es_preheader,
                        html=es_html, text=es_text)
        ]  # fmt: skip
        campaign.steps[1].variants = [StepVariant(language="es", body=es_body)]
    out = campaign_export.export(campaign)
    data = parse(out)
    clean = campaign_export._clean  # noqa: SLF001 - the documented export normalisation
    assert data["name"] == campaign.name
    email, sms = data["steps"]
    assert email["subject"] == clean(subject)
    assert email.get("preheader", "") == clean(subject)
    assert email["html"] == clean(html)
    assert email.get("text") == (None if text is None else clean(text))
    assert sms["body"] == clean(body)
    if es is None:
        assert "es" not in email and "es" not in sms
        return
    assert email["es"]["subject"] == clean(es_subject)
    assert email["es"].get("preheader", "") == clean(es_preheader)
    assert email["es"]["html"] == clean(es_html)
    assert email["es"].get("text") == (None if es_text is None else clean(es_text))
    assert sms["es"] == {"body": clean(es_body)}
    assert campaign_export.export(transient_from(data)) == out


def transient_from(data: dict) -> Campaign:
    """The unsaved campaign a parsed file describes (what ``load`` would store)."""
    from outreach.campaigns.files.parse import transient as file_transient

    campaign = file_transient(data, Audience(slug="migraine-awareness", name="M"))
    for position, step in enumerate(campaign.steps):
        step.position = position
    return campaign


# --------------------------------------------------------------------------- June file


def test_june_file_is_clean(app):
    make_audience()
    assert validate(JUNE.read_text(encoding="utf-8")) == []


def test_june_file_content_rules(app):
    audience = make_audience()
    data = parse(JUNE.read_text(encoding="utf-8"))
    steps = data["steps"]
    assert data["audience"] == "migraine-awareness"
    assert data["anchor"] == {"date": date(2027, 6, 1)}
    assert len(steps) >= 5
    assert sum(s["channel"] == "email" for s in steps) >= 2
    assert sum(s["channel"] == "sms" for s in steps) >= 2
    assert all(s["day"] <= 29 for s in steps)  # every step in June
    assert all("10:00" <= s["at"] <= "18:00" for s in steps)
    context = {
        "organisation": audience.organisation_name,
        "support_phone": audience.support_phone,
        "support_email": audience.support_email,
    }
    texts = [s for s in steps if s["channel"] == "sms"]
    first = sms_rendering.render_sms(texts[0]["body"], context)
    assert first.startswith(wording.program(audience) + ":")
    assert "Reply STOP to opt out" in first
    for step in texts:
        body = sms_rendering.render_sms(step["body"], context)
        segments = sms_rendering.sms_segments(body)
        assert segments.encoding == "GSM-7" and segments.segments <= 2, body
        assert "first_name" not in step["body"]
    for step in steps:
        if step["channel"] == "email":
            assert "{{ first_name }}" in (step.get("markdown") or step["html"])
            assert "first_name" not in step["subject"]
    for step in texts:
        spanish = sms_rendering.render_sms(step["es"]["body"], context)
        segments = sms_rendering.sms_segments(spanish)
        assert segments.encoding == "GSM-7" and segments.segments <= 2, spanish
        assert spanish.endswith(wording.STOP_SHORT_ES)
    assert sms_rendering.render_sms(texts[0]["es"]["body"], context).startswith(
        wording.program(audience) + ":"
    )
    everything = JUNE.read_text(encoding="utf-8")
    assert "American Society of Anesthesiologists" in everything
    assert "75%" in everything and "61" in everything and "NMDA" in everything
    assert "CHAMP" in everything and "free consultation" in everything


def test_june_file_has_spanish_copy_for_every_step(app):
    audience = make_audience()
    steps = parse(JUNE.read_text(encoding="utf-8"))["steps"]
    assert all("es" in step for step in steps)
    emails = [s["es"] for s in steps if s["channel"] == "email"]
    spanish = "\n".join("\n".join(copy.values()) for copy in (s["es"] for s in steps)).lower()
    for copy in emails:
        body = copy.get("markdown") or copy["html"]
        assert "{{ first_name }}" in body and "first_name" not in copy["subject"]
        assert "médico" in body  # "consulta a tu médico" in every email
    assert "consulta a tu médico" in spanish
    # the study's figures come with their source, and no promise of results
    assert "75 %" in spanish and "61 personas" in spanish and "nmda" in spanish
    assert "american society of anesthesiologists" in spanish and "un solo estudio" in spanish
    assert "champ" in spanish and "consulta gratuita" in spanish
    for promise in ("garantiza", "cura", "sin dolor", "milagro"):
        assert promise not in spanish
    findings = [p for p in validate(JUNE.read_text(encoding="utf-8")) if "Spanish" in p.message]
    assert findings == []
    assert audience.id


# --------------------------------------------------------------------------- validate (database)


def test_validate_reports_template_errors_at_their_file_line(app):
    make_audience()
    text = CALENDAR.replace("<p>June is awareness month.</p>", "<p>{{ frist_name }}</p>")
    problems = validate(text)
    assert [(p.line, p.message) for p in problems] == [
        (12, "step 1 html: unknown variable 'frist_name'; did you mean 'first_name'?")
    ]


def test_validate_template_syntax_error_in_quoted_value(app):
    make_audience()
    text = CALENDAR.replace("June facts.", "{% if %}")
    problems = validate(text)
    assert len(problems) == 1
    assert problems[0].line == 16 and problems[0].message.startswith("step 2 body: ")


def test_validate_reports_spanish_template_errors_at_their_file_line(app):
    make_audience()
    text = SPANISH.replace("<p>Consulta a tu médico.</p>", "<p>{{ frist_name }}</p>").replace(
        "datos de junio.", "{% if %}"
    )
    problems = validate(text)
    assert [(p.line, p.message) for p in problems] == [
        (17, "step 1 es html: unknown variable 'frist_name'; did you mean 'first_name'?"),
        (25, "step 2 es body: Expected an expression, got 'end of statement block'"),
    ]


def test_validate_spanish_preflight_findings_point_at_the_spanish_lines(app):
    make_audience()
    text = SPANISH.replace(
        "NeuroMedici Migraine Awareness: datos de junio. Responde ALTO para cancelar.",
        "Datos de junio: " + "a" * 300,
    ).replace("Junio es el mes de la migraña", "Su diagnóstico")
    problems = validate(text)
    spanish = [(p.line, p.message) for p in problems if "Spanish" in p.message]
    assert any(
        line == 13 and m.startswith("step 1 es subject: Spanish version") for line, m in spanish
    )
    assert any(line == 25 and "step 2 es body: Spanish version" in m for line, m in spanish)


def test_validate_unknown_audience(app):
    make_audience()
    problems = validate(
        CALENDAR.replace("audience: migraine-awareness", "audience: migraine-awarness")
    )
    assert [(p.line, p.message) for p in problems] == [
        (2, "unknown audience 'migraine-awarness'; did you mean 'migraine-awareness'?")
    ]


def test_validate_reports_preflight_errors_and_warnings_with_lines(app):
    make_audience()
    text = (
        CALENDAR.replace('at: "12:00"', 'at: "22:00"')
        .replace("subject: June is awareness month", "subject: Your appointment")
        .replace("<p>June is awareness month.</p>", "<p>75% of people</p>")
    )
    problems = validate(text)
    found = {(p.line, p.message.split(":")[0]) for p in problems}
    assert (8, "step 1 subject") in found
    assert (14, "step 2 at") in found
    assert (5, "warning") in found  # statistic without a source: the step's line
    assert [p.is_warning for p in problems].count(True) == 1
    assert all(p.line is not None for p in problems)


def test_validate_campaign_level_findings(app):
    make_audience(postal_address="")
    problems = validate(CALENDAR.replace("2027-06-01", "2027-01-01"))
    assert (2, "audience 'migraine-awareness' has no postal address") in {
        (p.line, p.message.split(";")[0]) for p in problems
    }
    warnings = [p for p in problems if p.is_warning]
    assert warnings and warnings[0].line == 3 and "in the past" in warnings[0].message


def test_validate_first_sms_wording_warning(app):
    make_audience()
    text = CALENDAR.replace(
        "NeuroMedici Migraine Awareness: June facts. Reply STOP to opt out.", "June facts."
    )
    problems = validate(text)
    assert [(p.line, p.is_warning) for p in problems] == [(16, True)]
    assert "added automatically" in problems[0].message


def test_validate_writes_nothing(app):
    make_audience()
    assert validate(CALENDAR) == []
    assert campaign_count() == 0 and step_count() == 0


# --------------------------------------------------------------------------- load


def test_load_creates_a_draft(app):
    make_audience()
    campaign = campaign_files.load(CALENDAR)
    db.session.commit()
    assert campaign.id and campaign.status == "draft"
    assert campaign.anchor_kind == "date" and campaign.anchor_date == date(2027, 6, 1)
    assert [(s.position, s.channel, s.day_offset, s.send_time) for s in campaign.steps] == [
        (0, "email", 0, "10:00"),
        (1, "sms", 2, "12:00"),
    ]
    assert campaign.steps[0].text is None and campaign.steps[0].preheader == "A short note"


def test_load_stores_spanish_copy_as_step_variants(app):
    make_audience()
    campaign = campaign_files.load(SPANISH)
    db.session.commit()
    assert variants() == [
        (0, "es", "Junio es el mes de la migraña",
         "<p>¡Hola, {{ first_name }}!</p>\n<p>Consulta a tu médico.</p>\n",
         "¡Hola, {{ first_name }}!\n", ""),
        (1, "es", "", "", None,
         "NeuroMedici Migraine Awareness: datos de junio. Responde ALTO para cancelar."),
    ]  # fmt: skip
    assert campaign.steps[0].variant("es").preheader == "Una nota breve"
    assert campaign.steps[2].variants == []


def test_load_again_replaces_and_removes_spanish_copy(app):
    make_audience()
    campaign_files.load(SPANISH)
    db.session.commit()
    email_es = SPANISH[SPANISH.index("    es:\n      subject") : SPANISH.index("  - day: 2\n")]
    campaign_files.load(SPANISH.replace(email_es, "").replace("datos de junio", "otros datos"))
    db.session.commit()
    assert [(p, lang, body) for p, lang, _, _, _, body in variants()] == [
        (1, "es", "NeuroMedici Migraine Awareness: otros datos. Responde ALTO para cancelar.")
    ]
    assert db.session.scalar(select(func.count(StepVariant.id))) == 1


def test_load_confirmation_file(app):
    make_audience()
    campaign = campaign_files.load(CONFIRMATION)
    assert campaign.anchor_kind == "confirmation" and campaign.anchor_date is None
    assert [s.after_minutes for s in campaign.steps] == [0, 90, 2880]
    assert [s.include_late_joiners for s in campaign.steps] == [True, False, False]


def test_load_twice_replaces_steps_without_duplicates(app):
    make_audience()
    first = campaign_files.load(CALENDAR)
    db.session.commit()
    again = campaign_files.load(CALENDAR.replace("June facts.", "More June facts."))
    db.session.commit()
    assert again.id == first.id
    assert campaign_count() == 1 and step_count() == 2
    assert "More June facts." in again.steps[1].body


def test_load_with_fewer_steps_removes_the_rest(app):
    make_audience()
    campaign_files.load(CALENDAR)
    db.session.commit()
    shorter = CALENDAR.split("  - day: 2")[0]
    campaign = campaign_files.load(shorter)
    db.session.commit()
    assert len(campaign.steps) == 1 and step_count() == 1


@pytest.mark.parametrize("status", ["scheduled", "running", "paused", "done", "cancelled"])
def test_load_refuses_a_campaign_that_is_not_a_draft(app, status):
    make_audience()
    campaign = campaign_files.load(CALENDAR)
    campaign.status = status
    db.session.commit()
    with pytest.raises(CampaignFileError) as caught:
        campaign_files.load(CALENDAR.replace("June facts.", "Changed."))
    assert f"campaign 'Calendar test' is already {status}" in str(caught.value)
    assert "export a copy" in str(caught.value)
    assert caught.value.problems[0].line == 1
    db.session.rollback()
    assert "June facts." in db.session.get(Campaign, campaign.id).steps[1].body


def test_load_refuses_file_problems_and_changes_nothing(app):
    make_audience()
    with pytest.raises(CampaignFileError, match="unknown variable"):
        campaign_files.load(CALENDAR.replace("June facts.", "{{ nope }}"))
    with pytest.raises(CampaignFileError, match="unknown audience"):
        campaign_files.load(CALENDAR.replace("audience: migraine-awareness", "audience: other"))
    with pytest.raises(CampaignFileError, match="YAML"):
        campaign_files.load("name: [")
    assert campaign_count() == 0


def test_load_keeps_a_draft_with_preflight_errors(app):
    make_audience()
    campaign = campaign_files.load(CALENDAR.replace('at: "12:00"', 'at: "22:00"'))
    assert campaign.status == "draft" and campaign.steps[1].send_time == "22:00"


def test_schedule_refused_when_preflight_has_errors(app):
    make_audience()
    with pytest.raises(CampaignFileError) as caught:
        campaign_files.load(CALENDAR.replace('at: "12:00"', 'at: "22:00"'), schedule=True)
    problems = caught.value.problems
    assert "preflight" in problems[0].message
    assert any(p.line == 14 and "outside the legal window" in p.message for p in problems)
    assert campaign_count() == 0


def test_schedule_when_clean(app):
    make_audience()
    campaign = campaign_files.load(CALENDAR, schedule=True)
    db.session.commit()
    assert campaign.status in ("scheduled", "running")


def test_schedule_allowed_with_warnings_only(app):
    make_audience()
    campaign = campaign_files.load(CALENDAR.replace('at: "12:00"', 'at: "20:30"'), schedule=True)
    assert campaign.status in ("scheduled", "running")


def test_load_path_and_demo_file(app):
    make_audience()
    campaign = campaign_files.load_path(JUNE)
    assert campaign.name == "National Migraine and Headache Awareness Month 2027"
    assert len(campaign.steps) >= 5


def test_load_path_refuses_non_utf8(app, tmp_path):
    make_audience()
    path = tmp_path / "bad.yaml"
    path.write_bytes(b"name: \xff\xfe\n")
    with pytest.raises(CampaignFileError, match="not UTF-8"):
        campaign_files.load_path(path)


# --------------------------------------------------------------------------- round trip


@pytest.mark.parametrize(
    "source", [JUNE.read_text(encoding="utf-8"), CONFIRMATION, CALENDAR, SPANISH]
)
def test_export_load_export_is_byte_identical(app, source):
    make_audience()
    first = campaign_export.export(campaign_files.load(source))
    db.session.commit()
    second = campaign_export.export(campaign_files.load(first))
    db.session.commit()
    assert first == second
    assert campaign_count() == 1
    assert validate(first) == []


def test_export_of_a_loaded_file_keeps_its_spanish_copy(app):
    make_audience()
    assert campaign_export.export(campaign_files.load(SPANISH)) == SPANISH
    june = campaign_export.export(campaign_files.load(JUNE.read_text(encoding="utf-8")))
    assert june.count("    es:\n") == 6


def test_export_of_bare_on_file_quotes_on(app):
    make_audience()
    out = campaign_export.export(campaign_files.load(CONFIRMATION))
    assert 'anchor: {"on": confirmation}' in out
    assert "  - after: 90m\n" in out and "  - after: 2d\n" in out
    assert yaml.safe_load(out)["anchor"] == {"on": "confirmation"}


def test_export_normalises_windows_newlines_and_trailing_spaces(app):
    make_audience()
    campaign = campaign_files.load(CALENDAR)
    campaign.steps[0].html = "<p>a</p>  \r\n<p>b</p>\r\n"
    out = campaign_export.export(campaign)
    assert "    html: |\n      <p>a</p>\n      <p>b</p>\n" in out


# --------------------------------------------------------------------------- CLI


def write(tmp_path: Path, text: str, name: str = "campaign.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_cli_validate_clean(app, cli):
    make_audience()
    result = cli.invoke(args=["outreach", "campaign", "validate", str(JUNE)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "ok: 6 steps"


def test_cli_validate_errors_exit_1_with_file_and_line(app, cli, tmp_path):
    make_audience()
    path = write(tmp_path, CALENDAR.replace('at: "12:00"', 'at: "22:00"'))
    result = cli.invoke(args=["outreach", "campaign", "validate", str(path)])
    assert result.exit_code == 1
    assert f"{path}:14: step 2 at: texts at 22:00 fall outside the legal window" in result.output


def test_cli_validate_yaml_error(app, cli, tmp_path):
    make_audience()
    path = write(tmp_path, "name: [\n")
    result = cli.invoke(args=["outreach", "campaign", "validate", str(path)])
    assert result.exit_code == 1 and f"{path}:2: YAML:" in result.output


def test_cli_validate_warnings_alone_exit_0(app, cli, tmp_path):
    make_audience()
    path = write(tmp_path, CALENDAR.replace('at: "12:00"', 'at: "20:30"'))
    result = cli.invoke(args=["outreach", "campaign", "validate", str(path)])
    assert result.exit_code == 0, result.output
    assert f"{path}:14: warning: step 2 at:" in result.output
    assert "ok: 2 steps, 1 warning(s)" in result.output


def test_cli_validate_missing_file(app, cli, tmp_path):
    result = cli.invoke(args=["outreach", "campaign", "validate", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2


def test_cli_load_commits_and_reports(app, cli, tmp_path):
    make_audience()
    path = write(tmp_path, CALENDAR)
    result = cli.invoke(args=["outreach", "campaign", "load", str(path)])
    assert result.exit_code == 0, result.output
    assert "created with 2 steps; status: draft" in result.output
    db.session.remove()
    assert campaign_count() == 1
    result = cli.invoke(args=["outreach", "campaign", "load", str(path)])
    assert result.exit_code == 0 and "updated with 2 steps" in result.output
    db.session.remove()
    assert campaign_count() == 1 and step_count() == 2


def test_cli_load_schedule(app, cli, tmp_path):
    make_audience()
    path = write(tmp_path, CALENDAR)
    result = cli.invoke(args=["outreach", "campaign", "load", str(path), "--schedule"])
    assert result.exit_code == 0, result.output
    db.session.remove()
    assert db.session.scalar(select(Campaign.status)) in ("scheduled", "running")


def test_cli_load_schedule_refused_with_preflight_errors(app, cli, tmp_path):
    make_audience()
    path = write(tmp_path, CALENDAR.replace('at: "12:00"', 'at: "07:00"'))
    result = cli.invoke(args=["outreach", "campaign", "load", str(path), "--schedule"])
    assert result.exit_code == 1
    assert f"{path}:14: step 2 at:" in result.output and "nothing was changed" in result.output
    db.session.remove()
    assert campaign_count() == 0


def test_cli_load_refuses_running_campaign(app, cli, tmp_path):
    make_audience()
    campaign = campaign_files.load(CALENDAR)
    campaign.status = "running"
    db.session.commit()
    path = write(tmp_path, CALENDAR)
    result = cli.invoke(args=["outreach", "campaign", "load", str(path)])
    assert result.exit_code == 1
    assert f"{path}:1: campaign 'Calendar test' is already running" in result.output


def test_cli_export_by_name_and_id(app, cli, tmp_path):
    make_audience()
    campaign = campaign_files.load(CONFIRMATION)
    db.session.commit()
    by_name = cli.invoke(args=["outreach", "campaign", "export", "Welcome series"])
    assert by_name.exit_code == 0, by_name.output
    assert by_name.output == campaign_export.export(campaign)
    out = tmp_path / "out.yaml"
    by_id = cli.invoke(args=["outreach", "campaign", "export", str(campaign.id), "-o", str(out)])
    assert by_id.exit_code == 0, by_id.output
    assert out.read_text(encoding="utf-8") == by_name.output


def test_cli_validate_load_export_spanish_copy(app, cli, tmp_path):
    make_audience()
    bad = write(
        tmp_path, SPANISH.replace("      subject: Junio", "      subjet: Junio"), "bad.yaml"
    )
    refused = cli.invoke(args=["outreach", "campaign", "validate", str(bad)])
    assert refused.exit_code == 1
    assert f"{bad}:13: step 1 es: unknown key 'subjet'; did you mean 'subject'?" in refused.output
    path = write(tmp_path, SPANISH)
    assert (
        cli.invoke(args=["outreach", "campaign", "validate", str(path)]).output == "ok: 3 steps\n"
    )
    loaded = cli.invoke(args=["outreach", "campaign", "load", str(path)])
    assert loaded.exit_code == 0, loaded.output
    db.session.remove()
    assert len(variants()) == 2
    exported = cli.invoke(args=["outreach", "campaign", "export", "Bilingual test"])
    assert exported.exit_code == 0 and exported.output == SPANISH


def test_cli_export_unknown_campaign(app, cli):
    result = cli.invoke(args=["outreach", "campaign", "export", "nope"])
    assert result.exit_code == 1 and "No campaign 'nope'" in result.output


def test_demo_command_loads_the_june_file(app, cli):
    result = cli.invoke(args=["outreach", "demo"])
    assert result.exit_code == 0, result.output
    assert "loaded as a draft with 6 steps" in result.output
    assert [lang for _, lang, *_ in variants()] == ["es"] * 6


# --------------------------------------------------------------------------- never raises


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=st.text(max_size=400))
def test_validate_never_raises_on_arbitrary_text(app, text):
    problems = validate(text)
    assert all(isinstance(p, Problem) for p in problems)
    assert not any(p.message.startswith("could not check") for p in problems)


_SCALARS = st.none() | st.booleans() | st.integers(-5, 5000) | st.text(max_size=20) | st.dates()
_KEYS = st.sampled_from(
    [
        "name",
        "audience",
        "anchor",
        "steps",
        "date",
        "on",
        "day",
        "at",
        "after",
        "channel",
        "subject",
        "html",
        "text",
        "body",
        "preheader",
        "late_joiners",
        "es",
        "other",
    ]
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=6),
    max_leaves=25,
)
_DOCS = st.fixed_dictionaries(
    {},
    optional={
        "name": _VALUES,
        "audience": st.sampled_from(["migraine-awareness", "other"]) | _VALUES,
        "anchor": st.sampled_from([{"date": date(2027, 6, 1)}, {"on": "confirmation"}]) | _VALUES,
        "steps": st.lists(
            st.dictionaries(_KEYS, _VALUES | st.sampled_from(["email", "sms", "10:00", "90m"])),
            max_size=4,
        ),
    },
)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(document=_DOCS)
def test_validate_never_raises_on_structured_yaml(app, document):
    if not db.session.scalar(select(Audience.id)):
        make_audience()
    problems = validate(yaml.safe_dump(document))
    assert not any(p.message.startswith("could not check") for p in problems)
