"""A campaign's results split by the subscriber's language (English and Spanish): how
many of each step went out, arrived, failed or were skipped per language, and opt-outs.

English figures are the step totals minus the other languages' (one join over the few
non-English readers, not over the whole outbox).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select

from outreach.extensions import db
from outreach.i18n import LANGUAGE_NAMES
from outreach.models import Campaign, Message, Subscriber
from outreach.models.outbox import UNSETTLED_STATES
from outreach.results.reports import CampaignResults

#: The columns of the split (states grouped as the reader thinks of them).
GROUPS = {
    "sent": ("sent", "delivered"),
    "delivered": ("delivered",),
    "failed": ("failed", "bounced"),
    "skipped": ("skipped", "cancelled"),
    "waiting": UNSETTLED_STATES,
}


@dataclass
class LanguageRow:
    """One step in one language."""

    step: int
    channel: str
    language: str
    states: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Rows of this step for readers of this language."""
        return sum(self.states.values())

    def count(self, group: str) -> int:
        """Rows in one column group (``sent`` counts delivered ones too)."""
        return sum(self.states.get(state, 0) for state in GROUPS[group])

    def to_dict(self) -> dict[str, object]:
        """For the JSON results."""
        return {
            "step": self.step,
            "channel": self.channel,
            "language": self.language,
            "total": self.total,
            **{group: self.count(group) for group in GROUPS},
        }


def other_language_counts(campaign: Campaign) -> dict[tuple[int, str, str], int]:
    """(step id, language, state) -> rows, for readers whose language is not English."""
    rows = db.session.execute(
        select(Message.step_id, Subscriber.language, Message.state, func.count())
        .join(Subscriber, Subscriber.id == Message.subscriber_id)
        .where(Message.campaign_id == campaign.id, Subscriber.language != "en")
        .group_by(Message.step_id, Subscriber.language, Message.state)
    )
    return {(step_id, language, state): n for step_id, language, state, n in rows}


def by_language(campaign: Campaign, results: CampaignResults) -> list[LanguageRow]:
    """Each step's rows per language (English first); empty when everyone reads English."""
    others = other_language_counts(campaign)
    if not others:
        return []
    spoken: dict[int, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    for (step_id, language, state), n in others.items():
        spoken[step_id][language][state] = n
    out = []
    for step in results.steps:
        step_id = step.step_id
        english = dict(step.states)
        rows = []
        for language, states in sorted(spoken.get(step_id, {}).items()):
            rows.append(LanguageRow(step.number, step.channel, language, dict(states)))
            for state, n in states.items():
                english[state] = english.get(state, 0) - n
        english = {state: n for state, n in english.items() if n}
        out.append(LanguageRow(step.number, step.channel, "en", english))
        out += rows
    return out


def language_name(code: str) -> str:
    """English, Español."""
    return LANGUAGE_NAMES.get(code, code)


def stats_lines(rows: list[LanguageRow]) -> list[str]:
    """The split as text for ``flask outreach stats`` (nothing when all read English)."""
    if not rows:
        return []
    header = ["step", "channel", "language", "total", *GROUPS]
    table = [header] + [
        [str(r.step), r.channel, r.language, str(r.total), *(str(r.count(g)) for g in GROUPS)]
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    return ["by language:"] + [
        "  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)) for row in table
    ]
