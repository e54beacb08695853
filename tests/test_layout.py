"""The layout's rules, checked on the source (docs/architecture.md explains them).

Imports flow one way: blueprints and the CLI call services, services use models, models
use only the extensions; ``channels/`` knows neither Flask nor the models; no blueprint
imports another blueprint or a channel; services never import a blueprint or the CLI and
never touch the request. No module grows past the size a reader takes in at once.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "outreach"
BLUEPRINTS = ("outreach.public", "outreach.admin", "outreach.api", "outreach.webhooks")
ENTRY_POINTS = ("outreach", "outreach.wsgi", "outreach.cli")  # app factory, WSGI, commands
MAX_LINES = 450


def _module(path: Path) -> str:
    parts = ["outreach", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _kind(module: str) -> str:
    if any(_within(module, b) for b in BLUEPRINTS):
        return "blueprint"
    if _within(module, "outreach.cli"):
        return "cli"
    if module in ("outreach", "outreach.wsgi"):
        return "entry"
    if _within(module, "outreach.models"):
        return "models"
    if _within(module, "outreach.channels"):
        return "channels"
    if module == "outreach.extensions":
        return "extensions"
    return "service"


def imports_of(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside functions (``from a import b`` counts
    as ``a.b`` when ``b`` is a module, else as ``a``)."""
    found: set[str] = set()
    module = _module(path)
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this package
                package = module.split(".")
                if path.name != "__init__.py":
                    package = package[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join([*package, base] if base else package)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in MODULES else base)
    return found


def _blueprint_of(module: str) -> str | None:
    return next((b for b in BLUEPRINTS if _within(module, b)), None)


def violations(module: str, imported: str) -> list[str]:
    """Why ``module`` may not import ``imported`` (empty when it may)."""
    source, target = _kind(module), _kind(imported) if _within(imported, "outreach") else None
    found = []
    if source == "channels":
        if imported.split(".")[0] in ("flask", "flask_sqlalchemy", "sqlalchemy"):
            found.append("channels/ takes and returns plain dataclasses: no Flask, no SQL")
        if target is not None and target != "channels":
            found.append("channels/ imports nothing of the app but other channels")
    if target is None:
        return found
    if source == "models" and target not in ("models", "extensions"):
        found.append("models import only the extensions and other models")
    if source == "service" and target in ("blueprint", "cli", "entry"):
        found.append("services never import a blueprint, the CLI or the app factory")
    if source == "blueprint":
        if target == "channels":
            found.append("blueprints never import channels (a service does)")
        if target == "blueprint" and _blueprint_of(imported) != _blueprint_of(module):
            found.append("no blueprint imports another blueprint")
        if target in ("cli", "entry") and imported != "outreach":
            found.append("blueprints never import the CLI")
    if source == "cli" and target == "blueprint":
        found.append("the CLI calls services, not blueprints")
    return found


def test_the_rule_checker_catches_each_kind_of_wrong_import() -> None:
    """The checker itself: each rule fails on a made-up wrong import and passes a right one."""
    assert violations("outreach.channels.twilio", "flask")
    assert violations("outreach.channels.twilio", "outreach.models.outbox")
    assert violations("outreach.models.outbox", "outreach.consent.ledger")
    assert violations("outreach.consent.ledger", "outreach.public.views")
    assert violations("outreach.sending.run", "outreach.cli.sending")
    assert violations("outreach.public.views", "outreach.admin.common")
    assert violations("outreach.public.views", "outreach.channels.base")
    assert violations("outreach.cli.sending", "outreach.admin.views")
    assert not violations("outreach.admin.campaigns", "outreach.admin.common")
    assert not violations("outreach.admin.campaigns", "outreach.campaigns.lifecycle")
    assert not violations("outreach.sending.send", "outreach.channels.base")
    assert not violations("outreach.models.outbox", "outreach.extensions")


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_flow_one_way(module: str) -> None:
    problems = [
        f"{module} imports {imported}: {why}"
        for imported in sorted(imports_of(MODULES[module]))
        for why in violations(module, imported)
    ]
    assert problems == []


@pytest.mark.parametrize(
    "module", sorted(m for m in MODULES if _kind(m) in ("service", "models", "channels"))
)
def test_services_never_touch_the_request(module: str) -> None:
    tree = ast.parse(MODULES[module].read_text())
    names = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "flask"
        for alias in node.names
    }
    assert not names & {"request", "session", "g"}, f"{module} reads request state"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_is_longer_than_a_reader_takes_in(module: str) -> None:
    lines = len(MODULES[module].read_text().splitlines())
    assert lines <= MAX_LINES, f"{module}: {lines} lines; split it by responsibility"


def test_the_folders_name_the_products_parts() -> None:
    """``ls outreach`` reads as the product: each room a domain, blueprints, channels."""
    rooms = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert {
        "sending",
        "consent",
        "campaigns",
        "audiences",
        "rendering",
        "feedback",
        "results",
        "staff",
        "channels",
        "models",
        "public",
        "admin",
        "api",
        "webhooks",
        "cli",
    } <= rooms
    loose = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}
    assert len(loose) <= 10, f"too many loose modules beside the rooms: {sorted(loose)}"
