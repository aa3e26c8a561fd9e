"""The outcome of a check: a Problem (an error that refuses a change, or a warning), DataError."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from bot.errors import KopruError

__all__ = ["DataError", "Problem", "ProblemSeverity", "raise_errors"]

ProblemSeverity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """Why a change is refused ("error") or worth a second look ("warning").

    `kind` is a short machine-readable code (see bot.authoring.training_data._checks),
    `message` is for the admin.  `response` is set by bot.authoring.answers for problems
    of an answer.
    """

    kind: str
    message: str
    intent: str | None = None
    language: str | None = None
    text: str | None = None
    severity: ProblemSeverity = "error"
    response: str | None = None


class DataError(KopruError):
    """A change was refused; nothing was written.  `problems` says why."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("; ".join(p.message for p in self.problems) or "invalid change")


def raise_errors(problems: Iterable[Problem]) -> list[Problem]:
    """Raise DataError if any problem is an error; return the warnings."""
    problems = list(problems)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise DataError(errors)
    return problems
