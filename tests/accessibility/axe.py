"""axe-core in a real Chromium: where the pinned copy lives (`make axe`), running it on a
page, and the serious or critical violations written out for a failing assertion."""

from __future__ import annotations

from pathlib import Path

import pytest

AXE_JS = Path(__file__).resolve().parents[2] / ".tools" / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")


def require_axe() -> None:
    """Skip (saying how to fix it) when axe-core is not installed in .tools."""
    if not AXE_JS.exists():
        pytest.skip(f"accessibility test skipped: axe-core is absent ({AXE_JS}); run: make axe")


def blocking_violations(page) -> list[str]:  # noqa: ANN001
    """axe-core's serious and critical violations on the page as it is now, one line per
    offending element (rule, impact, selector, what to fix). Needs a context made with
    ``bypass_csp=True``: the pages' CSP forbids the injected script otherwise."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE_JS))
    results = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    found = []
    for violation in results["violations"]:
        if violation["impact"] not in BLOCKING:
            continue
        for node in violation["nodes"]:
            found.append(
                f"{page.url} [{violation['id']}, {violation['impact']}] "
                f"{' '.join(map(str, node['target']))}: {node.get('failureSummary', '')}"
            )
    return found
