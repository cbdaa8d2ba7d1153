"""The rules as typed, frozen values: who escalates, who owns what, and what a root-cause writeup needs.

The loader builds these from the YAML files; everything downstream reads only
these objects. Email addresses are stored and compared lower-cased.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from rules.durations import Duration, parse_duration
from rules.hours import WorkingHours

RcaPolicy = Literal["close_when_complete", "executive_approves"]
RCA_POLICIES: tuple[RcaPolicy, ...] = ("close_when_complete", "executive_approves")
# How a section is judged besides its words: "root_cause" must name a cause, not a person's
# mistake; "actions" holds one action per line with an owner and a due date.
SectionKind = Literal["text", "root_cause", "actions"]
SECTION_KINDS: tuple[SectionKind, ...] = ("text", "root_cause", "actions")


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
    """One required section of a root-cause writeup, and how it is judged (:data:`SectionKind`)."""

    key: str
    title: str
    aliases: tuple[str, ...]
    min_words: int
    kind: SectionKind = "text"


@dataclass(frozen=True)
class ActionRules:
    """rca.yaml ``actions:``: how far ahead an action may be due, and how it is chased."""

    max_due: Duration  # a due date further away is refused
    remind_before: Duration  # the owner is reminded this long before the due date
    rechase_every: Duration  # after the due date, one rung up the ladder this often


DEFAULT_ACTION_RULES = ActionRules(
    max_due=parse_duration("30d"),
    remind_before=parse_duration("2 business days"),
    rechase_every=parse_duration("5 business days"),
)
#: Root causes that blame a person instead of saying why the system let the mistake happen.
DEFAULT_NOT_CAUSES: tuple[str, ...] = (
    "human error",
    "operator error",
    "user error",
    "mistake",
    "oversight",
    "training",
    "lack of training",
    "will be more careful",
    "be more careful",
    "carelessness",
    "menschliches versagen",
    "menschlicher fehler",
    "fehler",
    "schulung",
    "unachtsamkeit",
    "erreur humaine",
    "erreur",
    "formation",
    "inattention",
)


@dataclass(frozen=True)
class RcaRules:
    """rca.yaml: how an escalation closes and what its writeup must contain."""

    policy: RcaPolicy
    deadline: Duration
    sections: tuple[RcaSection, ...]
    actions: ActionRules = field(default_factory=lambda: DEFAULT_ACTION_RULES)
    # What alone is no root cause ("human error"): lower case, any language.
    not_causes: tuple[str, ...] = field(default_factory=lambda: DEFAULT_NOT_CAUSES)


@dataclass(frozen=True)
class Rules:
    """A whole rules directory, loaded and checked."""

    directory: Path
    executives: Mapping[str, Executive]
    people: Mapping[str, Person]
    defaults: RoutingDefaults
    routes: tuple[Route, ...]
    rca: RcaRules
    # Names the files' text as loaded (see rules.loader.fingerprint): a reload shows which rules are live.
    version: str = ""

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
