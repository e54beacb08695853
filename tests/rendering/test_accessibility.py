"""Accessibility checks of a rendered email (rendering/accessibility.py, contrast.py) and
their preflight warnings: lang, title, alt text, link text in English and Spanish, heading
order, contrast of the layout's and the staff's colours, links in the text part."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outreach.campaigns.preflight.accessibility_rules import sample_email
from outreach.campaigns.preflight.findings import has_errors
from outreach.rendering import accessibility, contrast
from outreach.rendering.accessibility import audit, problems
from tests.campaigns.test_preflight import check, email, make, only


def page(body: str, *, lang: str = ' lang="en"', title: str = "June") -> str:
    return (
        f"<!DOCTYPE html><html{lang}><head><title>{title}</title></head><body>{body}</body></html>"
    )


def messages(html: str, text: str = "") -> list[str]:
    return [message for _, message in problems(html, text)]


# --------------------------------------------------------------------------- contrast


@pytest.mark.parametrize(
    ("fg", "bg", "expected"),
    [("#000", "#fff", 21.0), ("#ffffff", "#ffffff", 1.0), ("#767676", "#ffffff", 4.54),
     ("#777777", "white", 4.48), ("rgb(29, 78, 216)", "#ffffff", 6.7)],
)  # fmt: skip
def test_contrast_ratios_match_wcag(fg, bg, expected):
    value = contrast.ratio(contrast.parse_color(fg), contrast.parse_color(bg))
    assert value == pytest.approx(expected, abs=0.02)


@pytest.mark.parametrize("value", ["transparent", "inherit", "rgba(0,0,0,0.5)", "var(--x)", "#12"])
def test_colours_we_cannot_judge_are_left_alone(value):
    assert contrast.parse_color(value) is None


@given(st.tuples(*[st.integers(0, 255)] * 3), st.tuples(*[st.integers(0, 255)] * 3))
def test_contrast_is_symmetric_and_between_1_and_21(a, b):
    value = contrast.ratio(a, b)
    assert 1 <= value <= 21.0001 and value == pytest.approx(contrast.ratio(b, a))


def test_large_text_needs_3_to_1():
    assert contrast.required(24, False) == 3 and contrast.required(19, True) == 3
    assert contrast.required(16, True) == 4.5 and contrast.required(None, False) == 4.5


def test_the_shipped_layout_meets_aa_for_every_text_and_button(app):
    html = '<h1>June</h1><p>Text <a href="https://x.example/">the guide</a></p>'
    html += '<p><a class="button" href="https://x.example/b">Read the guide</a></p>'
    html += "<blockquote>q</blockquote>"
    rendered = sample_email(make(email(html=html)).steps[0], None)
    found = audit(rendered.html)
    assert found.low_contrast == []
    assert found.lang == "en" and found.title == "June is Migraine Awareness Month"


def test_low_contrast_from_staff_colours_is_reported_once_per_pair():
    body = (
        '<div style="background-color:#ffffff"><p style="color:#aaaaaa">pale one</p>'
        '<p style="color:#aaaaaa">pale two</p><p style="color:#1f2937">fine</p>'
        '<p style="font-size:30px;color:#888888">big and grey</p>'
        '<p style="display:none;color:#fff">hidden preheader</p></div>'
    )
    (finding,) = [m for m in messages(page(body)) if "contrast" in m]
    assert "#aaaaaa on #ffffff" in finding and "2.3:1" in finding and "'pale one'" in finding
    assert "4.5:1" in finding


def test_a_button_with_white_text_on_a_light_background_is_reported():
    style = "background-color:#fbbf24;color:#ffffff"
    body = f'<a style="{style}" href="https://x.example/">Join the walk</a>'
    found = messages(page(body), "https://x.example/")
    assert any("#ffffff on #fbbf24" in m for m in found)


# --------------------------------------------------------------------------- structure


def test_lang_and_title_are_required():
    found = messages(page("<p>hi</p>", lang="", title=""))
    assert any("no lang" in m for m in found) and any("no title" in m for m in found)


def test_images_need_alt_but_decoration_may_have_it_empty():
    body = '<img src="https://x.example/a.png"><img src="b.png" alt=""><img src="c.png" alt="Logo">'
    found = [m for m in messages(page(body)) if "alt text" in m]
    assert len(found) == 1 and "https://x.example/a.png" in found[0]


@pytest.mark.parametrize(
    "words",
    ["click here", "Click here!", "here", "Read more…", "read more", "Learn more →",
     "haz clic aquí", "Haz clic aqui", "aquí", "AQUÍ", "Leer más"],
)  # fmt: skip
def test_link_text_that_says_nothing_alone_is_warned_about(words):
    body = f'<p>For June facts <a href="https://x.example/june">{words}</a>.</p>'
    found = messages(page(body), "https://x.example/june")
    assert len(found) == 1 and "says nothing on its own" in found[0]


@pytest.mark.parametrize(
    "words",
    ["Read the June migraine guide", "Click here to read the June guide", "Lee la guía de junio",
     "Here is what the research says", "More about migraine triggers"],
)  # fmt: skip
def test_descriptive_link_text_passes(words):
    body = f'<p><a href="https://x.example/june">{words}</a></p>'
    assert messages(page(body), "https://x.example/june") == []


def test_an_image_link_takes_its_alt_as_its_text():
    body = '<a href="https://x.example/"><img src="l.png" alt="NeuroMedici home"></a>'
    assert messages(page(body), "https://x.example/") == []
    empty = '<a href="https://x.example/"><img src="l.png" alt=""></a>'
    assert any("a link has no text" in m for m in messages(page(empty), "https://x.example/"))


@pytest.mark.parametrize(
    ("levels", "skips"),
    [((1, 2, 3, 2, 3), []), ((2, 3), []), ((1, 3), [(1, 3)]), ((3,), [(1, 3)]),
     ((1, 2, 4, 2, 5), [(2, 4), (2, 5)]), ((1, 1, 2, 2), [])],
)  # fmt: skip
def test_heading_levels_do_not_skip(levels, skips):
    body = "".join(f"<h{n}>Part {i}</h{n}>" for i, n in enumerate(levels))
    found = [m for m in messages(page(body)) if "heading levels" in m]
    pairs = [re.search(r"from h(\d) to h(\d)", m).groups() for m in found]
    assert [(int(a), int(b)) for a, b in pairs] == skips


def test_the_text_part_must_carry_every_link():
    body = '<p><a href="https://x.example/a">Guide A</a> '
    body += '<a href="mailto:care@x.example">Write to us</a></p>'
    assert messages(page(body), "Guide A https://x.example/a care@x.example") == []
    (found,) = messages(page(body), "Guide A only")
    assert "lacks 2 link(s)" in found and "https://x.example/a" in found


@settings(max_examples=120, deadline=None)
@given(st.text(max_size=300))
def test_any_html_is_walked_without_a_crash(body):
    for field, message in problems(page(body), body):
        assert field in ("html", "subject", "text") and message


@settings(max_examples=80, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_any_link_text_is_judged_without_a_crash(words):
    accessibility.plain(words)
    audit(page(f'<a href="https://x.example/">{words}</a>'))


# --------------------------------------------------------------------------- preflight


def test_preflight_warns_and_never_blocks_for_accessibility():
    html = '<h1>June</h1><h3>Facts</h3><p><a href="https://x.example/">click here</a></p>'
    html += '<img src="a.png">'
    campaign = make(email(html=html, text="Read the facts."))
    found = check(campaign)
    assert not has_errors(found)
    fields = sorted({(f.step, f.field) for f in only(found, "warning")})
    assert fields == [(1, "html"), (1, "text")]
    words = " | ".join(f.message for f in found)
    assert "heading levels skip from h1 to h3" in words and "'click here'" in words
    assert "alt text" in words and "plain-text version lacks 1 link(s)" in words


def test_the_generated_text_part_carries_every_link():
    html = '<p><a href="https://x.example/a">Guide A</a> and '
    html += '<a href="https://x.example/b">B guide</a></p>'
    assert check(make(email(html=html))) == []


def test_spanish_versions_are_checked_too():
    from tests.campaigns.test_preflight_spanish import spanish, with_spanish

    campaign = with_spanish(
        make(email()), html='<p><a href="https://x.example/">haz clic aquí</a></p>'
    )
    (finding,) = spanish(check(campaign))
    assert finding.level == "warning" and finding.field == "es.html"
    assert finding.message.startswith("Spanish version: link text 'haz clic aquí'")
