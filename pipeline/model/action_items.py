"""The actions a writeup plans: each line of an action section read as what, who and by when.

An :class:`ActionItem` is one line of a writeup's corrective or preventive section read
as *what*, an *owner* (an address) and a *due date*; an :class:`ActionProblem` is a line
that could not be read as one, with the reason in words (mailed back to the owner,
quoting the line). Reading the lines is :mod:`pipeline.inbound.actions`' job.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any


@dataclass(frozen=True)
class ActionItem:
    """One action as a writeup states it: the section, the line as written, what, who and by when."""

    section: str
    line: str
    title: str
    owner: str
    due: date

    def as_json(self) -> dict[str, str]:
        return {
            "section": self.section,
            "line": self.line,
            "title": self.title,
            "owner": self.owner,
            "due": self.due.isoformat(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ActionItem:
        return cls(
            section=str(data["section"]),
            line=str(data["line"]),
            title=str(data["title"]),
            owner=str(data["owner"]),
            due=date.fromisoformat(str(data["due"])),
        )


@dataclass(frozen=True)
class ActionProblem:
    """A line of an action section that is not an action qmark can track, and why, in words."""

    section: str
    line: str
    reason: str


@dataclass(frozen=True)
class ActionReading:
    """The action sections of one writeup, read: the actions accepted and the lines refused, in order."""

    items: tuple[ActionItem, ...] = ()
    problems: tuple[ActionProblem, ...] = ()
