"""Which earlier escalations a new one repeats, best first, and whether a fix did not hold.

An earlier escalation (a :class:`~pipeline.model.related.Candidate` the store found) matches
when it has the same customer address, the same customer domain (the probe carries none for
free mail), or the same route and a similar complaint text. At most :data:`MOST` are shown,
each with why it matched.

Similar text: rapidfuzz's ``token_set_ratio`` of the two normalised complaint texts
(:func:`pipeline.model.related.complaint_key`) is at least :data:`SIMILARITY` and they share at
least :data:`MIN_SHARED_WORDS` words. 70 was chosen on the test pairs in
``tests/unit/test_related.py``: the same complaint in other words scored 74–86 ("charged twice
for invoice 4411" / "you charged my card twice again"; "refund not received" / "still waiting
for my refund"), different complaints on the same route 44–59 ("charged twice" / "invoice
address wrong", "parcel never arrived" / "order arrived damaged"). The set ratio scores 100
when one text's words are a subset of the other's, so one shared word ("invoice") is not
enough: hence the shared-words floor.

Recurrence ("fixed, but it came back"): a matched earlier escalation all of whose actions are
done (done == not dropped > 0) with the same route and the same customer or domain; the most
recent such one is the earlier escalation whose fix did not hold, and it is shown first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from rapidfuzz import fuzz

from pipeline.model.related import Candidate, Probe

MOST = 3
SIMILARITY = 70
MIN_SHARED_WORDS = 2


@dataclass(frozen=True)
class Match:
    """An earlier escalation that matched, and why: ``same customer``, ``same route and similar text 84%``."""

    number: int
    why: str


@dataclass(frozen=True)
class Related:
    """What the lookup decided: the matches, best first, and the escalation whose fix did not hold."""

    matches: tuple[Match, ...] = ()
    recurred_after: int | None = None


def similarity(one: str, other: str) -> int:
    """0–100: how alike two normalised complaint texts are; 0 when they share too few words."""
    if not one or not other or len(set(one.split()) & set(other.split())) < MIN_SHARED_WORDS:
        return 0
    return round(fuzz.token_set_ratio(one, other))


def may_recur(probe: Probe, candidate: Candidate) -> bool:
    """Whether ``candidate``'s fix, if all its actions are done, is one the new escalation says failed."""
    return candidate.route == probe.route and _same_party(probe, candidate)


def fixed(progress: tuple[int, int] | None) -> bool:
    """Every action done, and at least one: (done, not dropped) with done == not dropped > 0."""
    return progress is not None and progress[1] > 0 and progress[0] == progress[1]


def pick(probe: Probe, candidates: Sequence[Candidate], progress: Mapping[int, tuple[int, int]]) -> Related:
    """The best :data:`MOST` matches among ``candidates``, and the recurrence if there is one.

    ``progress`` holds (done, not dropped) per escalation with actions; it needs only the
    candidates :func:`may_recur` names.
    """
    unique = {candidate.number: candidate for candidate in candidates}
    scored = []
    for candidate in unique.values():
        reasons, strength = _reasons(probe, candidate)
        if reasons:
            scored.append((candidate, reasons, strength))
    recurring = [
        candidate
        for candidate, _, _ in scored
        if may_recur(probe, candidate) and fixed(progress.get(candidate.number))
    ]
    recurred = max(recurring, key=lambda c: (c.opened_at, c.number), default=None)

    def rank(item: tuple[Candidate, list[str], float]) -> tuple[bool, float, datetime, int]:
        candidate, _, strength = item
        return (candidate is recurred, strength, candidate.opened_at, candidate.number)

    best = sorted(scored, key=rank, reverse=True)[:MOST]
    matches = tuple(Match(candidate.number, "; ".join(reasons)) for candidate, reasons, _ in best)
    return Related(matches, recurred.number if recurred is not None else None)


def _same_party(probe: Probe, candidate: Candidate) -> bool:
    same_customer = bool(probe.customer) and candidate.customer == probe.customer
    return same_customer or (probe.domain is not None and candidate.customer_domain == probe.domain)


def _reasons(probe: Probe, candidate: Candidate) -> tuple[list[str], float]:
    """Why ``candidate`` matches (empty: it does not) and how strongly: customer 3, domain 2, text 1."""
    reasons: list[str] = []
    strength = 0.0
    if probe.customer and candidate.customer == probe.customer:
        reasons.append("same customer")
        strength = 3.0
    elif probe.domain is not None and candidate.customer_domain == probe.domain:
        reasons.append("same domain")
        strength = 2.0
    if candidate.route == probe.route:
        score = similarity(probe.complaint_key, candidate.complaint_key)
        if score >= SIMILARITY:
            reasons.append(f"same route and similar text {score}%")
            strength = max(strength, 1.0) + score / 1000
    return reasons, strength
