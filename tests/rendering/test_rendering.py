"""Tests for outreach.rendering: sandbox, checks, email layout, text part, SMS segments."""

from __future__ import annotations

import contextlib
import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outreach.rendering import templates
from outreach.rendering.emails import RenderedEmail, render_email
from outreach.rendering.plain_text import html_to_text
from outreach.rendering.sms import GSM7_BASIC, GSM7_EXTENSION, Segments, render_sms, sms_segments
from outreach.rendering.templates import (
    DOCUMENTED_VARIABLES,
    PERSONAL_VARIABLES,
    TemplateError,
    check_template,
    render_text,
    tag,
)

FOOTER = {
    "organisation": "Riverside Headache Clinic",
    "postal_address": "12 Elm Street\nSpringfield, IL 62701",
    "unsubscribe_url": tag("unsubscribe_url"),
    "preferences_url": tag("preferences_url"),
    "support_email": "help@riverside.example",
    "support_phone": "+1 217 555 0100",
    "audience": "Migraine Awareness",
}
BATCH_CONTEXT = {name: tag(name) for name in PERSONAL_VARIABLES}


def email(**overrides: object) -> RenderedEmail:
    args: dict[str, object] = {
        "subject": "June is Migraine Awareness Month, {{ first_name }}",
        "preheader": "Three things worth knowing",
        "html": "<h1>Hello {{ first_name }}</h1><p>Learn more below.</p>",
        "text": None,
        "context": BATCH_CONTEXT,
        "footer": FOOTER,
    }
    args.update(overrides)
    return render_email(**args)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- API basics


def test_documented_and_personal_variables() -> None:
    assert set(DOCUMENTED_VARIABLES) == {
        "first_name",
        "request_url",
        "audience",
        "organisation",
        "postal_address",
        "support_email",
        "support_phone",
        "unsubscribe_url",
        "preferences_url",
    }
    assert all(isinstance(d, str) and d for d in DOCUMENTED_VARIABLES.values())
    assert PERSONAL_VARIABLES == ("first_name", "unsubscribe_url", "preferences_url")
    assert set(PERSONAL_VARIABLES) <= set(DOCUMENTED_VARIABLES)


def test_tag_format_and_validation() -> None:
    assert tag("first_name") == "[%first_name%]"
    assert tag("unsubscribe_url") == "[%unsubscribe_url%]"
    for bad in ("", "a b", "x%]", "<b>", "1abc"):
        with pytest.raises(ValueError):
            tag(bad)


def test_template_error_is_value_error_with_lineno() -> None:
    err = TemplateError("unexpected '}'", 3)
    assert isinstance(err, ValueError)
    assert str(err) == "line 3: unexpected '}'"
    assert err.lineno == 3
    assert str(TemplateError("boom")) == "boom"


# --------------------------------------------------------------------------- sandbox

SANDBOX_ESCAPES = [
    "{{ ''.__class__ }}",
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ ().__class__.__bases__[0].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ joiner.__init__.__globals__.os }}",
    "{{ self.__init__.__globals__ }}",
    "{{ self._TemplateReference__context }}",
    "{{ ''|attr('__class__') }}",
    "{{ first_name|attr('__class__') }}",
    "{{ first_name['__class__'] }}",
    "{{ '{0.__class__}'.format(first_name) }}",
    "{{ '{0.__init__.__globals__}'.format(first_name) }}",
    "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ config.__class__.__init__.__globals__['os'] }}",
    "{{ request.application.__globals__.__builtins__.__import__('os') }}",
]


@pytest.mark.parametrize("payload", SANDBOX_ESCAPES)
def test_sandbox_blocks_classic_escapes(payload: str) -> None:
    try:
        out = render_text(payload, {"first_name": "Ann"})
    except TemplateError:
        return
    # If it renders at all, nothing of Python's internals may come out.
    assert out == ""
    for leak in ("class", "module", "function", "built-in", "os", "uid="):
        assert leak not in out


@pytest.mark.parametrize(
    "payload",
    [
        "{{ ''.__class__ }}",
        "{{ ''|attr('__class__') }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ '{0.__class__}'.format(1) }}",
    ],
)
def test_sandbox_violation_raises_template_error_with_line(payload: str) -> None:
    with pytest.raises(TemplateError) as info:
        render_text("Hello\n\n" + payload, {})
    assert info.value.lineno == 3
    assert str(info.value).startswith("line 3: ")
    assert "not allowed" in str(info.value)


def test_html_render_is_sandboxed_too() -> None:
    with pytest.raises(TemplateError, match="not allowed"):
        email(html="<p>{{ ''.__class__.__mro__ }}</p>")


def test_no_globals_available() -> None:
    # range, lipsum, cycler, joiner, namespace, dict are removed: they are undefined
    assert render_text("{{ lipsum }}{{ cycler }}{{ dict }}", {}) == ""
    with pytest.raises(TemplateError, match="undefined"):
        render_text("{{ range(3) }}", {})


def test_includes_and_imports_fail_cleanly() -> None:
    for source in ('{% include "a.html" %}', '{% import "a.html" as a %}', '{% extends "a" %}'):
        with pytest.raises(TemplateError):
            render_text(source, {})


@pytest.mark.parametrize(
    "source",
    [
        "{{ 'a' * 100000000 }}",
        "{{ [0] * 100000000 }}",
        "{{ 2 ** 100000000 }}",
        "{{ 10 ** 5000 }}",
        '{% for a in "x" * 10000 %}{% for b in "x" * 10000 %}{{ a }}{% endfor %}{% endfor %}',
    ],
)
def test_resource_exhaustion_refused(source: str) -> None:
    with pytest.raises(TemplateError):
        render_text(source, {})


def test_small_repetition_and_powers_still_work() -> None:
    assert render_text("{{ '-' * 5 }} {{ 2 ** 10 }}", {}) == "----- 1024"


def test_runtime_errors_become_template_errors_with_line() -> None:
    with pytest.raises(TemplateError) as info:
        render_text("a\nb\n{{ 1 / 0 }}", {})
    assert info.value.lineno == 3
    assert "ZeroDivisionError" in str(info.value)
    with pytest.raises(TemplateError, match="calls itself"):
        render_text("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", {})
    with pytest.raises(TemplateError, match="must be text"):
        render_text(None, {})  # type: ignore[arg-type]


# --------------------------------------------------------------------------- render_text


def test_render_text_values_and_no_escaping() -> None:
    out = render_text(
        "Hi {{ first_name }} <{{ organisation }}>",
        {
            "first_name": "Zoë & <Bo>",
            "organisation": "R&D",
        },
    )
    assert out == "Hi Zoë & <Bo> <R&D>"


def test_undefined_variables_render_empty() -> None:
    assert render_text("Hi {{ nobody }}!", {}) == "Hi !"
    assert render_text("[{{ nobody.attr.deeper }}]", {}) == "[]"
    assert render_text("[{{ nobody['k'] }}]", {}) == "[]"
    assert render_text("{% for x in nothing %}{{ x }}{% endfor %}.", {}) == "."
    assert render_text("{{ first_name|default('friend') }}", {}) == "friend"
    assert render_text("{% if nothing %}yes{% else %}no{% endif %}", {}) == "no"


def test_filters_and_control_flow_work() -> None:
    source = "{% if audience %}{{ audience|upper }}{% endif %}|{{ first_name|title }}"
    assert render_text(source, {"audience": "june", "first_name": "ann lee"}) == "JUNE|Ann Lee"


@pytest.mark.parametrize(
    ("source", "line", "fragment"),
    [
        ("Hello\n{{ }", 2, "unexpected '}'"),
        ("a\nb\n{% if %}", 3, "Expected an expression"),
        ("x\n{% for x in y %}\nno end", 2, "endfor"),  # the unclosed block's line
        ("one\ntwo\nthree\n{{ x|nosuchfilter }}", 4, "nosuchfilter"),
        ("{{ first_name ", 1, ""),
    ],
)
def test_syntax_errors_carry_line_numbers(source: str, line: int, fragment: str) -> None:
    with pytest.raises(TemplateError) as info:
        render_text(source, {})
    assert info.value.lineno == line
    assert str(info.value).startswith(f"line {line}: ")
    assert fragment in str(info.value)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_render_text_raises_only_template_error(source: str) -> None:
    try:
        out = render_text(source, {"first_name": "Ann"})
    except TemplateError as exc:
        assert str(exc)
    else:
        assert isinstance(out, str)


JINJA_BITS = ["{{", "}}", "{%", "%}", "{#", "#}", "if", "for", "x", " in ", "end", "|", ".", "("]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(JINJA_BITS) | st.text(max_size=3), max_size=12).map("".join))
def test_render_text_jinja_fragments_raise_only_template_error(source: str) -> None:
    with contextlib.suppress(TemplateError):
        render_text(source, {})


# --------------------------------------------------------------------------- check_template


def test_check_template_clean() -> None:
    source = (
        "Hi {{ first_name }},\n"
        "{{ organisation }} at {{ postal_address }} ({{ audience }})\n"
        "{% if support_phone %}Call {{ support_phone }}{% endif %} {{ support_email|lower }}\n"
        "{% set greeting = 'hello' %}{{ greeting }}\n"
        "{% for word in ['a', 'b'] %}{{ loop.index }}{{ word }}{% endfor %}\n"
        '<a href="{{ unsubscribe_url }}">x</a> <a href="{{ preferences_url }}">y</a>'
    )
    assert check_template(source) == []


def test_check_template_unknown_variables_with_lines() -> None:
    source = "Hello {{ first_name }}\n\n{{ firstname }} {{ clinic }}\n{{ clinic }}"
    problems = check_template(source)
    assert problems[0].startswith("line 3: unknown variable 'firstname'")
    assert "did you mean 'first_name'" in problems[0]
    assert problems[1].startswith("line 3: unknown variable 'clinic'")
    assert len(problems) == 2  # each unknown name is reported once


def test_check_template_syntax_error() -> None:
    assert check_template("ok\nstill ok\n{{ oops }") == ["line 3: unexpected '}'"]
    assert check_template("{% if x %}") != []
    assert check_template("{{ x|nosuchfilter }}")[0].startswith("line 1: ")


def test_check_template_flags_unsafe_and_includes() -> None:
    assert check_template("a\n{{ audience.__class__ }}") == [
        "line 2: access to attribute '__class__' is not allowed"
    ]
    assert any("not allowed" in p for p in check_template("{{ audience['__init__'] }}"))
    assert check_template('{% include "x" %}') == [
        "line 1: include, import and extends are not available"
    ]
    # found only by the trial render
    (problem,) = check_template("{{ audience|attr('__class__') }}")
    assert problem.startswith("line 1: ") and "not allowed" in problem
    (problem,) = check_template("x\n{{ 1 / 0 }}")
    assert problem.startswith("line 2: ")


def test_check_template_flags_filters_on_personal_variables() -> None:
    (problem,) = check_template("Hi\n{{ first_name|title }}")
    assert problem.startswith("line 2: 'first_name' is filled in per recipient")
    (problem,) = check_template("{% if first_name %}Hi{% endif %}")
    assert "'first_name'" in problem
    assert check_template("{{ 'Hi ' ~ first_name ~ '!' }}") == []


# --------------------------------------------------------------------------- email


def test_render_email_returns_parts() -> None:
    msg = email()
    assert isinstance(msg, RenderedEmail)
    assert msg.subject == "June is Migraine Awareness Month, [%first_name%]"
    assert msg.preheader == "Three things worth knowing"
    assert msg.html.lstrip().lower().startswith("<!doctype html>")
    with pytest.raises(AttributeError):
        msg.subject = "x"  # type: ignore[misc]


def test_html_values_escaped_but_not_subject_or_text() -> None:
    context = {"first_name": "<b>Tom & Jerry</b>", "audience": '"quoted"'}
    msg = email(
        subject="For {{ first_name }}",
        preheader="{{ first_name }}",
        html='<p class="x">Hi {{ first_name }}</p><a href="{{ audience }}">a</a>',
        text="Hi {{ first_name }}",
        context=context,
    )
    assert "Hi &lt;b&gt;Tom &amp; Jerry&lt;/b&gt;" in msg.html
    assert "<b>Tom" not in msg.html
    assert 'href="&quot;quoted&quot;"' in msg.html or "href='\"quoted\"'" in msg.html
    assert msg.subject == "For <b>Tom & Jerry</b>"
    assert msg.preheader == "<b>Tom & Jerry</b>"
    assert msg.text.startswith("Hi <b>Tom & Jerry</b>\n")


def test_staff_html_markup_is_kept() -> None:
    msg = email(
        html='<p>Read <strong>this</strong> <a href="https://x.example/a?b=1&amp;c=2">here</a></p>'
    )
    assert "<strong>this</strong>" in msg.html
    assert 'href="https://x.example/a?b=1&amp;c=2"' in msg.html


def test_subject_and_preheader_are_single_lines() -> None:
    msg = email(subject="Line one\r\nBcc: evil@example.com\n  {{ audience }}", preheader="a\n\nb")
    assert "\n" not in msg.subject and "\r" not in msg.subject
    assert msg.subject == "Line one Bcc: evil@example.com Migraine Awareness"
    assert msg.preheader == "a b"


def test_layout_structure_mobile_ready() -> None:
    html = email().html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "<style>" in html  # kept for media queries
    assert "@media only screen and (max-width: 620px)" in html
    assert re.search(r'<table[^>]*class="container"[^>]*max-width: 600px', html)
    assert 'role="presentation"' in html
    assert "<title>June is Migraine Awareness Month, [%first_name%]</title>" in html


def test_css_is_inlined_into_style_attributes() -> None:
    html = email(html="<p>First paragraph</p><ul><li>item</li></ul>").html
    # .content p { margin: 0 0 16px 0; } from the layout's <style> block
    assert '<p style="margin: 0 0 16px 0;">First paragraph</p>' in html
    assert re.search(r'<li style="[^"]*margin: 0 0 6px 0;[^"]*">item</li>', html)
    assert re.search(r'<td class="content"[^>]*style="[^"]*font-size: 16px', html)
    assert re.search(r'<body style="[^"]*margin: 0;', html)


def test_preheader_hidden_and_first_in_body() -> None:
    html = email(preheader="Peek {{ audience }}").html
    body = html.split("<body", 1)[1]
    match = re.search(r'<div class="preheader" style="([^"]*)">Peek Migraine Awareness', body)
    assert match and "display: none" in match.group(1) and "mso-hide: all" in match.group(1)
    assert body.index("Peek") < body.index("Hello")
    assert 'class="preheader"' not in email(preheader="").html


def test_footer_in_html() -> None:
    html = email().html
    footer = html.split('class="footer"', 1)[1]
    assert "Riverside Headache Clinic" in footer
    assert "12 Elm Street<br>Springfield, IL 62701" in footer
    assert re.search(r'<a href="\[%unsubscribe_url%\]"[^>]*>Unsubscribe</a>', footer)
    assert re.search(r'<a href="\[%preferences_url%\]"[^>]*>Manage preferences</a>', footer)
    assert 'href="mailto:help@riverside.example"' in footer
    assert "+1 217 555 0100" in footer
    assert "Migraine Awareness updates" in footer


def test_footer_values_are_escaped_in_html() -> None:
    footer = {**FOOTER, "organisation": "A&B <Clinic>"}
    msg = email(footer=footer)
    assert "A&amp;B &lt;Clinic&gt;" in msg.html
    assert "A&B <Clinic>" in msg.text


def test_footer_required_keys() -> None:
    for key in ("organisation", "postal_address", "unsubscribe_url"):
        with pytest.raises(ValueError, match=key):
            email(footer={**FOOTER, key: "  "})
    minimal = {k: FOOTER[k] for k in ("organisation", "postal_address", "unsubscribe_url")}
    msg = email(footer=minimal)
    assert "Manage preferences" not in msg.html
    assert "Questions?" not in msg.text
    assert msg.text.endswith("Unsubscribe: [%unsubscribe_url%]")


def test_text_part_always_ends_with_footer() -> None:
    expected_tail = (
        "--\n"
        "Riverside Headache Clinic\n"
        "12 Elm Street\n"
        "Springfield, IL 62701\n"
        "Questions? help@riverside.example / +1 217 555 0100\n"
        "Manage preferences: [%preferences_url%]\n"
        "Unsubscribe: [%unsubscribe_url%]"
    )
    generated = email().text
    given_text = email(text="Hi {{ first_name }},\n\nJune is here.\n\n\n\n").text
    empty = email(text="").text
    assert generated.endswith("\n\n" + expected_tail)
    assert given_text == "Hi [%first_name%],\n\nJune is here.\n\n" + expected_tail
    assert empty == expected_tail
    # The footer appears once in the generated text (the layout's footer is omitted).
    assert generated.count("Riverside Headache Clinic") == 1
    assert generated.count("Unsubscribe") == 1


def test_generated_text_part() -> None:
    msg = email(
        preheader="Hidden preview",
        html=(
            "<h1>Migraine facts</h1><p>Did you know?</p>"
            "<ul><li>One in seven adults</li><li>Often <b>undiagnosed</b></li></ul>"
            '<p>Read the <a href="https://clinic.example/june">June article</a>.</p>'
        ),
    )
    assert msg.text.startswith(
        "Migraine facts\n\nDid you know?\n\n- One in seven adults\n- Often undiagnosed\n\n"
        "Read the June article (https://clinic.example/june).\n\n--\n"
    )
    assert "Hidden preview" not in msg.text
    assert "margin" not in msg.text and "{" not in msg.text  # no CSS leaked


def test_tags_survive_escaping_inlining_and_hrefs() -> None:
    msg = email(
        subject="{{ first_name }}",
        html=(
            "<p>Hi {{ first_name }}</p>"
            '<p><a href="{{ unsubscribe_url }}">Leave</a> '
            '<a href="{{ preferences_url }}?from=email">Prefs</a></p>'
        ),
        text="Hi {{ first_name }} {{ unsubscribe_url }}",
    )
    assert msg.subject == "[%first_name%]"
    assert '<p style="margin: 0 0 16px 0;">Hi [%first_name%]</p>' in msg.html
    assert 'href="[%unsubscribe_url%]"' in msg.html
    assert 'href="[%preferences_url%]?from=email"' in msg.html
    assert msg.text.startswith("Hi [%first_name%] [%unsubscribe_url%]")
    for name in PERSONAL_VARIABLES:
        assert msg.html.count(tag(name)) >= 1
    # nothing mangled them into entities or percent-encoding
    assert "%5B" not in msg.html and "&#37;" not in msg.html and "[%first_name%]" in msg.html


def test_footer_values_available_to_templates() -> None:
    msg = email(html="<p>{{ organisation }} / {{ support_email }}</p>", context={})
    assert "Riverside Headache Clinic / help@riverside.example" in msg.html


def test_email_personal_substitution_round_trip() -> None:
    from outreach.channels.base import personalize

    msg = email()
    real = {tag("first_name"): "Ann", tag("unsubscribe_url"): "https://x.example/u/T0K"}
    real[tag("preferences_url")] = "https://x.example/p/T0K"
    html = personalize(msg.html, real)
    assert "Hello Ann" in html and 'href="https://x.example/u/T0K"' in html
    assert "[%" not in html
    assert personalize(msg.text, real).endswith("Unsubscribe: https://x.example/u/T0K")


def test_template_cache_does_not_mix_escaping() -> None:
    source = "{{ first_name }}"
    assert render_text(source, {"first_name": "<i>"}) == "<i>"
    assert templates.render_html(source, {"first_name": "<i>"}) == "&lt;i&gt;"
    assert render_text(source, {"first_name": "<i>"}) == "<i>"


# --------------------------------------------------------------------------- html_to_text


def test_html_to_text_links() -> None:
    html = (
        '<p>See <a href="https://a.example/x">the guide</a> and '
        '<a href="https://a.example/y">https://a.example/y</a>. '
        'Write to <a href="mailto:help@a.example">help@a.example</a> or '
        '<a href="mailto:help@a.example">us</a>. <a href="#top">Top</a> '
        '<a href="https://a.example/z"><img src="x.png" alt=""></a></p>'
    )
    assert html_to_text(html) == (
        "See the guide (https://a.example/x) and https://a.example/y. "
        "Write to help@a.example or us (help@a.example). Top https://a.example/z"
    )


def test_html_to_text_lists_and_blocks() -> None:
    html = (
        "<html><head><title>T</title><style>p { color: red }</style></head><body>"
        "<script>alert(1)</script>"
        '<div style="display:none">preheader</div>'
        "<h2>Signs</h2>"
        "<ul>\n  <li>Aura</li>\n  <li>Light   sensitivity</li>\n</ul>"
        "<ol><li>Rest</li><li>Hydrate</li></ol>"
        "<p>Line one<br>Line&nbsp;two</p>"
        '<p hidden>gone</p><div data-plaintext="omit"><p>also <b>gone</b></p></div>'
        "<p>&amp; &lt;done&gt;</p>"
        "</body></html>"
    )
    assert html_to_text(html) == (
        "Signs\n\n- Aura\n- Light sensitivity\n\n1. Rest\n2. Hydrate\n\n"
        "Line one\nLine two\n\n& <done>"
    )


def test_html_to_text_nested_hidden_and_tables() -> None:
    html = (
        '<div style="color:red; display: none"><div>a</div><div>b</div></div>'
        "<table><tr><td>Cell 1</td></tr><tr><td>Cell 2</td></tr></table>"
        "<p>x\u200c\u034fy</p>"
    )
    assert html_to_text(html) == "Cell 1\nCell 2\n\nxy"


def test_html_to_text_tolerates_broken_html() -> None:
    assert html_to_text("<p>open <b>bold <a href='u'>link") == "open bold link"
    assert html_to_text("") == ""
    assert html_to_text("</div></p>text<").startswith("text")


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_html_to_text_never_raises(html: str) -> None:
    out = html_to_text(html)
    assert "\n\n\n" not in out and out == out.strip()


# --------------------------------------------------------------------------- SMS segments


def test_gsm_alphabet_sizes() -> None:
    assert len(GSM7_BASIC) == 127  # 128 code points minus the escape (0x1B)
    assert len(GSM7_EXTENSION) == 10
    assert not GSM7_BASIC & GSM7_EXTENSION
    assert "\x1b" not in GSM7_BASIC
    assert "ç" not in GSM7_BASIC and "Ç" in GSM7_BASIC


@pytest.mark.parametrize(
    ("length", "segments"),
    [(1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4)],
)
def test_gsm_boundaries(length: int, segments: int) -> None:
    assert sms_segments("a" * length) == Segments("GSM-7", length, segments)


def test_empty_body() -> None:
    assert sms_segments("") == Segments("GSM-7", 0, 0)


def test_extension_characters_count_double() -> None:
    assert sms_segments("€") == Segments("GSM-7", 2, 1)
    assert sms_segments("^{}\\[~]|€") == Segments("GSM-7", 18, 1)
    assert sms_segments("a" * 158 + "€") == Segments("GSM-7", 160, 1)
    assert sms_segments("a" * 159 + "€") == Segments("GSM-7", 161, 2)
    # accents from the basic table stay GSM-7 at one septet
    assert sms_segments("Crème brûlée").encoding == "UCS-2"  # û is not GSM
    body = "Café à Åre, ¿Qué? £5 §"
    assert sms_segments(body) == Segments("GSM-7", len(body), 1)
    assert sms_segments("¿sí?").encoding == "UCS-2"  # í is not in GSM 03.38 (ì is)


def test_escape_sequence_not_split_between_parts() -> None:
    # 152 plain + "€" would straddle the 153-septet boundary: it moves to part 2.
    body = "a" * 152 + "€" + "a" * 152
    assert sms_segments(body).characters == 306
    assert sms_segments(body).segments == 3


def test_one_emoji_switches_to_ucs2() -> None:
    result = sms_segments("a" * 100 + "🙂")
    assert result.encoding == "UCS-2"
    assert result.characters == 102  # the emoji is a surrogate pair
    assert result.segments == 2


@pytest.mark.parametrize(
    ("length", "segments"), [(70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)]
)
def test_ucs2_boundaries(length: int, segments: int) -> None:
    assert sms_segments("Ж" * length) == Segments("UCS-2", length, segments)


def test_ucs2_emoji_boundaries() -> None:
    assert sms_segments("🙂" * 35) == Segments("UCS-2", 70, 1)
    assert sms_segments("🙂" * 36) == Segments("UCS-2", 72, 2)
    # 66 units + a pair straddling unit 67 moves to the next part
    assert sms_segments("Ж" * 66 + "🙂" + "Ж" * 66).segments == 3


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_sms_segments_properties(body: str) -> None:
    result = sms_segments(body)
    assert result.encoding in ("GSM-7", "UCS-2")
    if not body:
        assert result.segments == 0
        return
    assert result.segments >= 1
    single, part = (160, 153) if result.encoding == "GSM-7" else (70, 67)
    if result.characters <= single:
        assert result.segments == 1
    else:
        assert result.segments >= math.ceil(result.characters / part)
        assert result.segments <= math.ceil(result.characters / (part - 1))
    if result.encoding == "UCS-2":
        assert result.characters == len(body.encode("utf-16-le")) // 2
    else:
        assert result.characters == len(body) + sum(ch in GSM7_EXTENSION for ch in body)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=sorted(GSM7_BASIC | GSM7_EXTENSION), min_size=1))
def test_gsm_only_text_stays_gsm(body: str) -> None:
    assert sms_segments(body).encoding == "GSM-7"


# --------------------------------------------------------------------------- render_sms


def test_render_sms_collapses_and_strips() -> None:
    source = (
        "  {{ organisation }}:   Hi {{ first_name }} ,\t\tJune is   here. \n\n\n\n"
        " Reply STOP to opt out.  "
    )
    out = render_sms(source, {"organisation": "Riverside", "first_name": ""})
    assert out == "Riverside: Hi , June is here.\n\nReply STOP to opt out."


def test_render_sms_errors_are_template_errors() -> None:
    with pytest.raises(TemplateError, match="^line 2: "):
        render_sms("ok\n{{ oops }", {})
    with pytest.raises(TemplateError):
        render_sms("{{ ''.__class__ }}", {})


def test_render_sms_no_escaping() -> None:
    assert render_sms("{{ v }}", {"v": "A&B <3"}) == "A&B <3"
