"""The README's configuration table names every environment variable ``config.py`` reads."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def variables_read() -> set[str]:
    """Names passed as constants to ``env.get(...)`` or ``env[...]`` in outreach/config.py."""
    tree = ast.parse((ROOT / "outreach" / "config.py").read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "env"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            names.add(node.args[0].value)
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Name)
            and node.value.id == "env"
            and isinstance(node.slice, ast.Constant)
        ):
            names.add(node.slice.value)
        if isinstance(node, ast.For) and isinstance(node.iter, ast.Tuple):
            names |= {e.value for e in node.iter.elts if isinstance(e, ast.Constant)}
    return {name for name in names if isinstance(name, str) and name.isupper()}


def configuration_table() -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("## Configuration")
    return readme[start : readme.index("\n## ", start + 1)]


def test_every_variable_config_reads_is_in_the_readme_table() -> None:
    read = variables_read()
    assert {"SECRET_KEY", "DATABASE_URL", "TWILIO_AUTH_TOKEN"} <= read  # the parser works
    table = configuration_table()
    missing = sorted(name for name in read if f"`{name}`" not in table)
    assert not missing, f"add these to the README's configuration table: {missing}"
