"""A YAML reader that remembers line numbers and reads YAML 1.2 scalars (``on`` stays a
string, ``08:00`` stays a time string)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode

from outreach.campaigns.files.problems import CampaignFileError, Problem

#: Files longer than this (characters) are refused without parsing.
MAX_FILE_CHARS = 1_000_000


STR = "tag:yaml.org,2002:str"


MAP = "tag:yaml.org,2002:map"


_SEQ = "tag:yaml.org,2002:seq"


_MERGE = "tag:yaml.org,2002:merge"


class Map(dict):
    """A mapping that remembers its line and the line and node of each key's value."""

    line: int | None = None
    key_lines: dict[Any, int]
    value_nodes: dict[Any, Node]


class Seq(list):
    """A sequence that remembers its line and each item's line."""

    line: int | None = None
    item_lines: list[int]


class _Loader(yaml.SafeLoader):
    """SafeLoader recording lines; ``HH:MM`` stays text (not YAML 1.1 base-60 numbers)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[Problem] = []


def _construct_map(loader: _Loader, node: MappingNode) -> Iterator[Map]:
    data = Map()
    data.line = node.start_mark.line + 1
    data.key_lines = {}
    data.value_nodes = {}
    yield data
    seen: set[tuple[str, str]] = set()
    for key_node, _ in node.value:
        if isinstance(key_node, ScalarNode) and key_node.tag != _MERGE:
            ident = (key_node.tag, key_node.value)
            if ident in seen:
                loader.duplicates.append(
                    Problem(key_node.start_mark.line + 1, f"duplicate key '{key_node.value}'")
                )
            seen.add(ident)
    data.update(loader.construct_mapping(node))  # flattens merge keys (<<) in place
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node)
        data.key_lines[key] = key_node.start_mark.line + 1
        data.value_nodes[key] = value_node


def _construct_seq(loader: _Loader, node: Node) -> Iterator[Seq]:
    data = Seq()
    data.line = node.start_mark.line + 1
    data.item_lines = [item.start_mark.line + 1 for item in node.value]
    yield data
    data.extend(loader.construct_sequence(node))


def _construct_int(loader: _Loader, node: ScalarNode) -> int | str:
    if ":" in str(node.value):
        return str(loader.construct_scalar(node))
    return SafeConstructor.construct_yaml_int(loader, node)


def _construct_float(loader: _Loader, node: ScalarNode) -> float | str:
    if ":" in str(node.value):
        return str(loader.construct_scalar(node))
    return SafeConstructor.construct_yaml_float(loader, node)


def _construct_timestamp(loader: _Loader, node: ScalarNode) -> date | datetime:
    try:
        return SafeConstructor.construct_yaml_timestamp(loader, node)
    except ValueError as exc:
        raise ConstructorError(None, None, f"not a valid date: {exc}", node.start_mark) from None


_Loader.add_constructor(MAP, _construct_map)


_Loader.add_constructor(_SEQ, _construct_seq)


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)


_Loader.add_constructor("tag:yaml.org,2002:float", _construct_float)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


def read_yaml(text: str) -> tuple[Any, list[Problem]]:
    """Parse YAML; returns the data and problems (duplicate keys), or raises CampaignFileError."""
    if not isinstance(text, str):
        raise CampaignFileError("a campaign file must be text")
    if len(text) > MAX_FILE_CHARS:
        raise CampaignFileError(f"the file is longer than {MAX_FILE_CHARS:,} characters")
    loader = None
    try:
        loader = _Loader(text)
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        raise CampaignFileError(
            f"YAML: {what or 'syntax error'}", (mark.line + 1) if mark else None
        ) from None
    except yaml.YAMLError as exc:
        raise CampaignFileError(f"YAML: {exc}") from None
    except RecursionError:
        raise CampaignFileError("YAML: the file is nested too deeply") from None
    finally:
        if loader is not None:
            loader.dispose()
    return data, loader.duplicates
