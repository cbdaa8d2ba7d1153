"""Choose a complaint's owner and deadline from the rules, with the reasons in words.

Each ``match:`` key is a small named predicate that answers (matched, reason);
the order in which they are tried is the data in :data:`PREDICATES`. Deciding is
all this module does: the caller acts on the :class:`RouteDecision`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rules.durations import Duration
from rules.schema import Person, RouteMatch, Rules

#: How much of a complaint the regexes search; keeps a hostile body from costing unbounded time.
MAX_SEARCH_CHARS = 100_000
_SNIPPET_CHARS = 60


@dataclass(frozen=True)
class Complaint:
    """What routing looks at: the forwarded complaint and its original sender (``customer``, or '')."""

    subject: str
    body: str
    customer: str


@dataclass(frozen=True)
class RouteDecision:
    """The owner, the deadline, the route's name ("addressed", a route, or "defaults") and why."""

    owner: Person
    deadline: Duration
    route: str
    reasons: tuple[str, ...]


Predicate = Callable[[re.Pattern[str], Complaint], tuple[bool, str]]


def _search(key: str, pattern: re.Pattern[str], haystack: str, what: str) -> tuple[bool, str]:
    found = pattern.search(haystack[:MAX_SEARCH_CHARS])
    if found is None:
        return False, f"{key} /{pattern.pattern}/ did not match {what}"
    snippet = " ".join(found.group(0).split())
    if len(snippet) > _SNIPPET_CHARS:
        snippet = snippet[: _SNIPPET_CHARS - 1] + "…"
    return True, f'{key} /{pattern.pattern}/ matched "{snippet}"'


def _domain(email: str) -> str:
    return email.rpartition("@")[2].strip().lower()


def text_matches(pattern: re.Pattern[str], complaint: Complaint) -> tuple[bool, str]:
    """``text``: the regex is found in the subject or body."""
    return _search("text", pattern, f"{complaint.subject}\n{complaint.body}", "the subject or body")


def subject_matches(pattern: re.Pattern[str], complaint: Complaint) -> tuple[bool, str]:
    """``subject``: the regex is found in the subject."""
    return _search("subject", pattern, complaint.subject, "the subject")


def customer_matches(pattern: re.Pattern[str], complaint: Complaint) -> tuple[bool, str]:
    """``customer``: the regex is found in the original sender's address (lower-cased)."""
    if not complaint.customer:
        return False, "customer: the complaint has no original sender"
    return _search("customer", pattern, complaint.customer.strip().lower(), f"<{complaint.customer}>")


def customer_domain_matches(pattern: re.Pattern[str], complaint: Complaint) -> tuple[bool, str]:
    """``customer_domain``: the regex is found in the original sender's domain (after @, lower-cased)."""
    if not complaint.customer:
        return False, "customer_domain: the complaint has no original sender"
    domain = _domain(complaint.customer)
    return _search("customer_domain", pattern, domain, f'"{domain}"')


#: The match keys in the order they are tried, each with its predicate.
PREDICATES: tuple[tuple[str, Predicate], ...] = (
    ("customer_domain", customer_domain_matches),
    ("customer", customer_matches),
    ("subject", subject_matches),
    ("text", text_matches),
)


def route_matches(match: RouteMatch, complaint: Complaint) -> tuple[bool, tuple[str, ...]]:
    """Whether every condition of ``match`` holds, with the reason of each condition tried.

    Stops at the first condition that fails; its reason is the last one returned.
    """
    reasons: list[str] = []
    for key, predicate in PREDICATES:
        pattern: re.Pattern[str] | None = getattr(match, key)
        if pattern is None:
            continue
        matched, reason = predicate(pattern, complaint)
        reasons.append(reason)
        if not matched:
            return False, tuple(reasons)
    return True, tuple(reasons)


def _addressed_owner(rules: Rules, addressed: Sequence[str]) -> Person | None:
    for email in addressed:
        person = rules.person(email)
        if person is not None:
            return person
    return None


def choose_route(rules: Rules, complaint: Complaint, addressed: Sequence[str] = ()) -> RouteDecision:
    """Pick the owner: someone in people addressed directly, else the first matching route, else defaults."""
    person = _addressed_owner(rules, addressed)
    if person is not None:
        reason = f"{person} was addressed directly (To/Cc) and owns it"
        return RouteDecision(person, rules.defaults.deadline, "addressed", (reason,))
    for route in rules.routes:
        matched, reasons = route_matches(route.match, complaint)
        if matched:
            return RouteDecision(_person(rules, route.owner), route.deadline, route.name, reasons)
    owner = _person(rules, rules.defaults.owner)
    return RouteDecision(owner, rules.defaults.deadline, "defaults", ("no route matched",))


def _person(rules: Rules, email: str) -> Person:
    person = rules.person(email)
    if person is None:  # the loader guarantees every owner is in people
        raise LookupError(f"owner {email} is not in people; run qmark rules check")
    return person
