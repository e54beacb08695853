"""A problem found in a campaign file, with its line number."""

from __future__ import annotations

from dataclasses import dataclass

#: Warnings are problems whose message starts with this.
WARNING_PREFIX = "warning: "


@dataclass(frozen=True)
class Problem:
    """One problem in a campaign file: file line (1-based, None if unknown) and message."""

    line: int | None
    message: str

    @property
    def is_warning(self) -> bool:
        """Warnings do not stop a load (preflight warnings, for example)."""
        return self.message.startswith(WARNING_PREFIX)

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


class CampaignFileError(ValueError):
    """A campaign file that cannot be parsed or loaded; ``problems`` says where and why."""

    def __init__(self, problems: list[Problem] | str, line: int | None = None) -> None:
        if isinstance(problems, str):
            problems = [Problem(line, problems)]
        self.problems: list[Problem] = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems) or "invalid campaign file")


def sorted_problems(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: p.line or 0)
