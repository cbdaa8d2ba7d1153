"""The one error type of the rules language: where a rules file is wrong, and how to fix it."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class RulesError(Exception):
    """A problem in a rules file: ``file`` and ``line`` (1-based, None when unknown), ``message``, ``fix``.

    ``str()`` reads ``rules/examples/acme/routing.yaml:14: route "billing": ... Fix: ...``.
    """

    def __init__(self, file: str, line: int | None, message: str, fix: str) -> None:
        self.file = file
        self.line = line
        self.message = message.rstrip(". ")
        self.fix = fix if fix.endswith((".", "?", "!")) else f"{fix}."
        super().__init__(str(self))

    @property
    def where(self) -> str:
        """``file:line`` or just ``file``."""
        return self.file if self.line is None else f"{self.file}:{self.line}"

    def __str__(self) -> str:
        return f"{self.where}: {self.message}. Fix: {self.fix}"

    def __repr__(self) -> str:
        return f"RulesError({self.file!r}, {self.line!r}, {self.message!r}, {self.fix!r})"


def did_you_mean(word: str, choices: Iterable[str], *, limit: int = 1) -> list[str]:
    """The ``choices`` closest to ``word`` (case-insensitive), best first."""
    by_lower = {choice.lower(): choice for choice in choices}
    return [by_lower[c] for c in difflib.get_close_matches(word.lower(), list(by_lower), n=limit, cutoff=0.6)]
