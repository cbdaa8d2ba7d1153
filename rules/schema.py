"""The rules as typed, frozen values: who escalates, who owns what, and what a root-cause writeup needs.

The loader builds these from the YAML files; everything downstream reads only
these objects. Email addresses are stored and compared lower-cased.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from rules.durations import Duration
from rules.hours import WorkingHours

RcaPolicy = Literal["close_when_complete", "executive_approves"]
RCA_POLICIES: tuple[RcaPolicy, ...] = ("close_when_complete", "executive_approves")


def _mailbox(name: str, email: str) -> str:
    return f"{name} <{email}>" if name else email


@dataclass(frozen=True)
class Executive:
    """Someone allowed to escalate by forwarding a complaint with "?"."""

    email: str
    name: str

    def __str__(self) -> str:
        return _mailbox(self.name, self.email)


@dataclass(frozen=True)
class Person:
    """A possible owner; ``manager`` (an email in people, or None) is the next rung of the ladder.

    ``holidays`` is a country code such as ``"DE"`` or ``"US-NY"`` (see
    :func:`rules.holidays.public_holidays`): public holidays there are not
    business time for this person. None means no public holidays are skipped.
    """

    email: str
    name: str
    manager: str | None
    timezone: str
    working_hours: WorkingHours | None
    holidays: str | None = None

    def __str__(self) -> str:
        return _mailbox(self.name, self.email)


@dataclass(frozen=True)
class RouteMatch:
    """A route's conditions; every pattern that is set must match (``re.search``)."""

    text: re.Pattern[str] | None = None
    customer: re.Pattern[str] | None = None
    customer_domain: re.Pattern[str] | None = None
    subject: re.Pattern[str] | None = None


@dataclass(frozen=True)
class Route:
    """One entry of ``routes:``; ``line`` is where it starts in routing.yaml."""

    name: str
    match: RouteMatch
    owner: str
    deadline: Duration
    line: int


@dataclass(frozen=True)
class RoutingDefaults:
    """The ``defaults:`` of routing.yaml; ``remind_at`` holds fractions in (0, 1), ascending."""

    owner: str
    deadline: Duration
    remind_at: tuple[float, ...]
    rechase_every: Duration
    acknowledge_executive: bool


@dataclass(frozen=True)
class RcaSection:
    """One required section of a root-cause writeup."""

    key: str
    title: str
    aliases: tuple[str, ...]
    min_words: int


@dataclass(frozen=True)
class RcaRules:
    """rca.yaml: how an escalation closes and what its writeup must contain."""

    policy: RcaPolicy
    deadline: Duration
    sections: tuple[RcaSection, ...]


@dataclass(frozen=True)
class Rules:
    """A whole rules directory, loaded and checked."""

    directory: Path
    executives: Mapping[str, Executive]
    people: Mapping[str, Person]
    defaults: RoutingDefaults
    routes: tuple[Route, ...]
    rca: RcaRules

    def is_executive(self, email: str) -> bool:
        """True when ``email`` is listed under ``executives:``."""
        return email.strip().lower() in self.executives

    def person(self, email: str) -> Person | None:
        """The person with this email, if listed under ``people:``."""
        return self.people.get(email.strip().lower())

    def ladder(self, email: str) -> tuple[Person, ...]:
        """The managers above ``email``, nearest first; stops at a repeat, so cycles cannot loop."""
        seen = {email.strip().lower()}
        chain: list[Person] = []
        current = self.person(email)
        while current is not None and current.manager is not None and current.manager not in seen:
            seen.add(current.manager)
            current = self.person(current.manager)
            if current is not None:
                chain.append(current)
        return tuple(chain)
