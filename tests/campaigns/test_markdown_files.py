"""Campaign files carry each email step's body as ``markdown:`` or ``html:``; a file in the
exporter's style round-trips byte-identically, and a step with both or neither is refused
with its line."""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from outreach.campaigns.files import export as campaign_export
from outreach.campaigns.files import load as campaign_files
from outreach.campaigns.files.problems import CampaignFileError
from outreach.extensions import db
from outreach.models import Audience
from tests.factories import make_audience

MIXED = textwrap.dedent(
    """\
    name: Written in Markdown
    audience: migraine-awareness
    anchor: {date: 2027-06-01}
    steps:
      - day: 0
        at: "10:00"
        channel: email
        subject: June is awareness month
        markdown: |
          # Hi {{ first_name }}

          Stress, **sleep** and skipped meals are common triggers.

          [Request a free consultation]({{ request_url }} "button")
        es:
          subject: Junio es el mes de la migraña
          markdown: ¡Hola, {{ first_name }}! **Consulta a tu médico.**
      - day: 9
        at: "10:00"
        channel: email
        subject: Your headache diary
        html: |
          <p>Hi {{ first_name }}, try a diary.</p>
    """
)


def test_a_markdown_file_round_trips_byte_identically(app):
    make_audience()
    campaign = campaign_files.load(MIXED)
    db.session.commit()
    assert campaign_export.export(campaign) == MIXED
    first, second = sorted(campaign.steps, key=lambda s: s.position)
    assert first.markdown.startswith("# Hi {{ first_name }}")
    assert "<strong>sleep</strong>" in first.html and 'class="button"' in first.html
    assert "<strong>Consulta a tu médico.</strong>" in first.variant("es").html
    assert second.markdown is None and second.html == "<p>Hi {{ first_name }}, try a diary.</p>\n"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            lambda text: text.replace(
                "    html: |\n      <p>Hi", "    markdown: Hi\n    html: |\n      <p>Hi"
            ),
            "step 2: write the body as 'markdown' or as 'html', not both",
        ),
        (
            lambda text: text.replace(
                "    html: |\n      <p>Hi {{ first_name }}, try a diary.</p>\n", ""
            ),
            "step 2: missing 'markdown' (or 'html')",
        ),
        (
            lambda text: text.replace(
                "      markdown: ¡Hola, {{ first_name }}! **Consulta a tu médico.**\n", ""
            ),
            "step 1 es: missing 'markdown' (or 'html')",
        ),
    ],
)
def test_a_step_needs_exactly_one_body(app, change, problem):
    make_audience()
    with pytest.raises(CampaignFileError) as raised:
        campaign_files.load(change(MIXED))
    assert problem in str(raised.value)


def test_validate_reports_template_errors_in_markdown_at_their_file_line(app):
    from outreach.campaigns.files.check import validate

    make_audience()
    broken = MIXED.replace("**sleep**", "{{ frist_name }}")
    problems = [(p.line, p.message) for p in validate(broken)]
    assert (
        12,
        "step 1 markdown: unknown variable 'frist_name'; did you mean 'first_name'?",
    ) in problems


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.text(
        alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="{}%"),
        min_size=1,
        max_size=200,
    ).filter(str.strip)
)
def test_any_markdown_body_round_trips_through_a_file(app, body):
    if db.session.scalar(select(Audience.id)) is None:
        make_audience()
    campaign = campaign_files.load(MIXED)
    first = sorted(campaign.steps, key=lambda s: s.position)[0]
    first.markdown = body
    exported = campaign_export.export(campaign)
    db.session.rollback()
    again = campaign_files.load(exported)
    assert campaign_export.export(again) == exported
    reloaded = sorted(again.steps, key=lambda s: s.position)[0]
    assert reloaded.markdown == campaign_export._clean(body)
    db.session.rollback()
