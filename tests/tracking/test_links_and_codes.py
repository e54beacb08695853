"""The pure parts of click tracking: codes (opaque, signed, short) and the rewrite (each
staff link exactly once, everything else unchanged, subscriber links untouched)."""

from __future__ import annotations

import html as html_lib

from hypothesis import given, settings
from hypothesis import strategies as st

from outreach.tracking import codes, links
from tests.campaigns.test_preflight import BRAND, check, make, sms

KEY = codes.derive_key("a test secret")
BASE = "https://news.clinic.example"


@given(st.integers(min_value=0, max_value=2**63 - 1), st.integers(min_value=0, max_value=2**14))
def test_a_code_decodes_to_its_message_and_link_only(message_id, position):
    code = codes.encode(KEY, message_id, position)
    assert codes.decode(KEY, code) == (message_id, position)
    assert len(code) <= len(codes.SAMPLE_CODE)
    assert code.replace("-", "").replace("_", "").isalnum()  # URL-safe, nothing to escape


@given(st.integers(min_value=1, max_value=10**9), st.integers(min_value=1, max_value=50))
def test_a_changed_or_foreign_code_is_refused(message_id, position):
    code = codes.encode(KEY, message_id, position)
    for index in range(len(code) - 1):  # the last character may hold only padding bits
        swapped = "A" if code[index] != "A" else "B"
        forged = code[:index] + swapped + code[index + 1 :]
        assert codes.decode(KEY, forged) in (None, (message_id, position))
    assert codes.decode(codes.derive_key("another secret"), code) is None
    assert codes.decode(KEY, "") is None and codes.decode(KEY, "%%%") is None


def test_a_ten_million_row_outbox_gets_short_codes():
    assert len(codes.encode(KEY, 10_000_000, 3)) <= 16


WORDS = st.text(
    alphabet=st.characters(blacklist_characters="<>\"'&", blacklist_categories=("Cs",)),
    max_size=30,
)
URLS = st.builds(
    lambda host, path: f"https://{host}.example/{path}",
    st.from_regex(r"[a-z]{1,10}", fullmatch=True),
    st.from_regex(r"[a-z0-9/_-]{0,20}", fullmatch=True),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(WORDS, URLS), min_size=1, max_size=6), WORDS)
def test_every_staff_link_is_rewritten_exactly_once_and_the_rest_is_unchanged(parts, tail):
    source = "".join(f'<p>{text}<a class="x" href="{url}">go</a></p>' for text, url in parts)
    source += f'<a href="{BASE}/unsubscribe/[%unsubscribe_url%]">Unsubscribe</a>{tail}'
    urls = links.numbered(links.urls_in_html(source), BASE)
    positions = {url: n for n, url in enumerate(urls, start=1)}
    out = links.rewrite_html(source, positions, BASE)

    for url, n in positions.items():
        assert f'href="{links.tracked_url(BASE, n)}"' in out
        assert f'href="{url}"' not in out
    assert out.count("/r/[%link_") == len(parts)
    assert f'href="{BASE}/unsubscribe/[%unsubscribe_url%]"' in out  # never rewritten
    undone = out
    for url, n in positions.items():
        undone = undone.replace(links.tracked_url(BASE, n), url)
    assert undone == source  # nothing else changed


def test_escaped_ampersands_are_unescaped_for_the_redirect():
    source = '<a href="https://clinic.example/a?x=1&amp;y=2">read</a>'
    assert links.urls_in_html(source) == ["https://clinic.example/a?x=1&y=2"]
    positions = {"https://clinic.example/a?x=1&y=2": 1}
    assert "/r/[%link_1%]" in links.rewrite_html(source, positions, BASE)


def test_text_links_lose_trailing_punctuation_and_personal_links_are_left_alone():
    text = (
        "Read more: https://clinic.example/june. Or see (https://clinic.example/faq), "
        f"and manage {BASE}/preferences/abc or https://x.example/?n=[%first_name%]"
    )
    assert links.numbered(links.urls_in_text(text), BASE) == [
        "https://clinic.example/june",
        "https://clinic.example/faq",
    ]
    out = links.rewrite_text(
        text, {"https://clinic.example/june": 1, "https://clinic.example/faq": 2}, BASE
    )
    assert out.startswith(f"Read more: {BASE}/r/[%link_1%]. Or see ({BASE}/r/[%link_2%]),")
    assert f"{BASE}/preferences/abc" in out and "[%first_name%]" in out


def test_mailto_and_tel_links_are_not_tracked():
    source = '<a href="mailto:care@clinic.example">mail</a><a href="tel:+15550102000">call</a>'
    assert links.numbered(links.urls_in_html(html_lib.unescape(source)), BASE) == []


def test_preflight_counts_a_texts_segments_with_its_links_tracked():
    head, tail = f"{BRAND}: ", " See https://x.co/a Reply STOP"
    short_link = head + "m" * (440 - len(head) - len(tail)) + tail  # 440 of 459 characters
    tracked = make(sms(body=short_link))
    untracked = make(sms(body=short_link))
    untracked.track_links = False
    assert not [f for f in check(untracked) if "segments" in f.message]
    assert [f for f in check(tracked) if "segments" in f.message and f.level == "error"]
