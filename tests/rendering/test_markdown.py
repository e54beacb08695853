"""Markdown bodies: CommonMark with raw HTML shown as text, personalisation kept exactly,
the button rule, and only safe link schemes."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from outreach.rendering.markdown import to_html

ALLOWED_TAGS = {
    "p", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "ul", "ol", "li", "a", "img",
    "code", "pre", "blockquote", "hr", "br",
}  # fmt: skip
TAG = re.compile(r"</?([a-zA-Z][a-zA-Z0-9]*)")


def test_the_toolbar_constructs_render_as_the_layout_expects():
    html = to_html(
        "## Keep a headache diary\n\nHi {{ first_name }}, **two weeks** is enough.\n\n"
        "- sleep\n- meals\n\n![A diary page](https://clinic.example/diary.png)\n\n"
        '[Request a free consultation]({{ request_url }} "button")\n\n'
        "[Read the article](https://clinic.example/migraine)"
    )
    assert "<h2>Keep a headache diary</h2>" in html
    assert "<p>Hi {{ first_name }}, <strong>two weeks</strong> is enough.</p>" in html
    assert "<ul>\n<li>sleep</li>\n<li>meals</li>\n</ul>" in html
    assert '<img src="https://clinic.example/diary.png" alt="A diary page" />' in html
    assert (
        '<p><a href="{{ request_url }}" class="button">Request a free consultation</a></p>' in html
    )
    assert '<a href="https://clinic.example/migraine">Read the article</a>' in html


def test_raw_html_is_shown_as_text_and_unsafe_links_are_not_links():
    html = to_html("<script>alert(1)</script>\n\n[x](javascript:alert(1)) ![y](data:image/png,AA)")
    assert "<script" not in html and "&lt;script&gt;" in html
    assert "javascript:" not in html.split("[x]")[0] and 'href="javascript' not in html
    assert 'src="data:' not in html


def test_a_titled_link_inside_a_sentence_is_not_a_button():
    html = to_html('Please [book]({{ request_url }} "button") today.')
    assert 'class="button"' not in html


@given(st.text(max_size=300))
def test_no_tag_from_the_text_ever_passes_through(text):
    html = to_html(text.replace("{", "").replace("}", ""))
    assert {tag.lower() for tag in TAG.findall(html)} <= ALLOWED_TAGS


NAMES = st.sampled_from(["first_name", "request_url", "audience", "organisation"])


@given(
    name=NAMES,
    before=st.text(alphabet=st.characters(blacklist_characters="{}\\`<>*_[]()!#&"), max_size=40),
)
def test_personalisation_is_kept_exactly_as_written(name, before):
    expression = "{{ " + name + " }}"
    html = to_html(f"{before} {expression}\n\n[link]({expression}/x)")
    assert html.count(expression) == 2
    assert f'href="{expression}/x"' in html
