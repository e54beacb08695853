"""Write a campaign as one YAML file that loads back to the same campaign, byte for byte."""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import Node

from outreach.campaigns.files.parse import LANGUAGE_KEYS
from outreach.campaigns.files.yaml_lines import MAP, STR
from outreach.models import Campaign, Step, StepVariant


def format_after(minutes: int) -> int | str:
    """The shortest file form of a delay: ``0``, ``"2d"``, ``"3h"`` or ``"90m"``."""
    if minutes == 0:
        return 0
    if minutes % 1440 == 0:
        return f"{minutes // 1440}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"


class _Quoted(str):
    """A string always written in double quotes."""

    __slots__ = ()


class _Flow(dict):
    """A mapping written on one line: ``{date: 2027-06-01}``."""


class _Dumper(yaml.SafeDumper):
    """Block style, indented lists, literal blocks for multi-line text, no aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)

    def analyze_scalar(self, scalar: str) -> Any:
        # Tabs are fine inside literal blocks; PyYAML only refuses them out of caution.
        if "\n" in scalar:
            analysis = super().analyze_scalar(scalar.replace("\t", " "))
            analysis.scalar = scalar  # the emitter writes analysis.scalar: keep the tabs
            return analysis
        return super().analyze_scalar(scalar)


def _represent_str(dumper: _Dumper, value: str) -> Node:
    if any(ch in value for ch in "\x85\u2028\u2029\t"):
        # Tabs: a literal block cannot always keep them (a leading tab may be read as
        # indentation), so such text is written double-quoted, which is exact.
        # YAML 1.1 line breaks, too: written raw, a reader would turn them into "\n" or " ".
        return dumper.represent_scalar(STR, value, style='"')
    if "\n" in value:
        return dumper.represent_scalar(STR, value, style="|")
    return dumper.represent_scalar(STR, value)


_Dumper.add_representer(str, _represent_str)


_Dumper.add_representer(_Quoted, lambda d, v: d.represent_scalar(STR, str(v), style='"'))


_Dumper.add_representer(_Flow, lambda d, v: d.represent_mapping(MAP, v, flow_style=True))


def _clean(value: str) -> str:
    """Newlines as ``\\n``; multi-line text without trailing spaces (literal blocks need it)."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    if "\n" in value:
        value = "\n".join(line.rstrip(" \t") for line in value.split("\n"))
    return value


def _copy(source: Step | StepVariant, channel: str) -> dict[str, str]:
    """The copy keys of a channel (a step's own, or one of its languages), as written."""
    if channel == "sms":
        return {"body": _clean(source.body or "")}
    copy = {"subject": _clean(source.subject or "")}
    if source.preheader:
        copy["preheader"] = _clean(source.preheader)
    if source.markdown is not None:
        copy["markdown"] = _clean(source.markdown)
    else:
        copy["html"] = _clean(source.html or "")
    if source.text is not None:
        copy["text"] = _clean(source.text)
    return copy


def _document(campaign: Campaign) -> dict[str, Any]:
    calendar = campaign.anchor_kind != "confirmation"
    anchor = (
        _Flow(date=campaign.anchor_date) if calendar else _Flow({_Quoted("on"): "confirmation"})
    )
    steps = []
    for step in sorted(campaign.steps, key=lambda s: s.position or 0):
        item: dict[str, Any] = {}
        if calendar:
            item["day"] = step.day_offset or 0
            item["at"] = _Quoted(step.send_time or "10:00")
        else:
            item["after"] = format_after(step.after_minutes or 0)
        item["channel"] = step.channel
        item.update(_copy(step, step.channel))
        if step.include_late_joiners:
            item["late_joiners"] = True
        for language in LANGUAGE_KEYS:
            variant = step.variant(language)
            if variant is not None:
                item[language] = _copy(variant, step.channel)
        steps.append(item)
    return {
        "name": campaign.name,
        "audience": campaign.audience.slug if campaign.audience is not None else "",
        "anchor": anchor,
        "steps": steps,
    }


def dump(document: dict[str, Any]) -> str:
    """YAML text for a campaign document (as built by ``export``); deterministic."""
    return yaml.dump(
        document,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=1_000_000,
        indent=2,
    )


def export(campaign: Campaign) -> str:
    """The campaign as one YAML file; ``export(load(export(c)))`` is byte-identical."""
    return dump(_document(campaign))
