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

from rapidfuzz import fuzz, process

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
    if not one or not other or not _share_enough(one, other):
        return 0
    return round(fuzz.token_set_ratio(one, other))


def may_recur(probe: Probe, candidate: Candidate) -> bool:
    """Whether ``candidate``'s fix, if all its actions are done, is one the new escalation says failed."""
    return candidate.route == probe.route and _same_party(probe, candidate)


def fixed(progress: tuple[int, int] | None) -> bool:
    """Every action done, and at least one: (done, not dropped) with done == not dropped > 0."""
    return progress is not None and progress[1] > 0 and progress[0] == progress[1]


@dataclass(frozen=True)
class Scored:
    """A candidate that matched: why, and how strongly (customer 3, domain 2, similar text 1.07…)."""

    candidate: Candidate
    why: str
    strength: float


def score(probe: Probe, candidates: Sequence[Candidate]) -> list[Scored]:
    """The candidates that match, best first (strongest, then newest); each once."""
    unique = list({candidate.number: candidate for candidate in candidates}.values())
    similar = _similar(probe, [c for c in unique if c.route == probe.route])
    scored = []
    for candidate in unique:
        reasons, strength = _party(probe, candidate)
        text = similar.get(candidate.number)
        if text is not None:
            reasons.append(f"same route and similar text {text}%")
            strength = max(strength, 1.0) + text / 1000
        if reasons:
            scored.append(Scored(candidate, "; ".join(reasons), strength))
    scored.sort(key=lambda s: (s.strength, s.candidate.number), reverse=True)
    return scored


def progress_wanted(probe: Probe, scored: Sequence[Scored]) -> list[int]:
    """The escalations whose actions' progress :func:`choose` needs: those that may recur, and the
    best :data:`MOST` (whose mail line says "actions N of M done")."""
    wanted = {s.candidate.number for s in scored[:MOST]}
    wanted.update(s.candidate.number for s in scored if may_recur(probe, s.candidate))
    return sorted(wanted)


def choose(probe: Probe, scored: Sequence[Scored], progress: Mapping[int, tuple[int, int]]) -> Related:
    """The best :data:`MOST` of ``scored``, the escalation whose fix did not hold (if any) first."""
    recurring = [
        s.candidate
        for s in scored
        if may_recur(probe, s.candidate) and fixed(progress.get(s.candidate.number))
    ]
    recurred = max(recurring, key=lambda c: c.number, default=None)
    first = [s for s in scored if s.candidate is recurred]
    best = (first + [s for s in scored if s.candidate is not recurred])[:MOST]
    matches = tuple(Match(s.candidate.number, s.why) for s in best)
    return Related(matches, recurred.number if recurred is not None else None)


def pick(probe: Probe, candidates: Sequence[Candidate], progress: Mapping[int, tuple[int, int]]) -> Related:
    """:func:`score` then :func:`choose`: ``progress`` needs the escalations :func:`progress_wanted` names."""
    return choose(probe, score(probe, candidates), progress)


def _share_enough(one: str, other: str) -> bool:
    return len(set(one.split()) & set(other.split())) >= MIN_SHARED_WORDS


def _similar(probe: Probe, same_route: Sequence[Candidate]) -> dict[int, int]:
    """Similarity of each same-route candidate at or above :data:`SIMILARITY`: one C loop over all."""
    if not probe.complaint_key or not same_route:
        return {}
    keys = [candidate.complaint_key for candidate in same_route]
    found = process.extract(
        probe.complaint_key, keys, scorer=fuzz.token_set_ratio, score_cutoff=SIMILARITY, limit=None
    )
    return {
        same_route[index].number: round(value)
        for key, value, index in found
        if round(value) >= SIMILARITY and _share_enough(probe.complaint_key, key)
    }


def _same_party(probe: Probe, candidate: Candidate) -> bool:
    same_customer = bool(probe.customer) and candidate.customer == probe.customer
    return same_customer or (probe.domain is not None and candidate.customer_domain == probe.domain)


def _party(probe: Probe, candidate: Candidate) -> tuple[list[str], float]:
    """``same customer`` (3) or ``same domain`` (2), or nothing (0)."""
    if probe.customer and candidate.customer == probe.customer:
        return ["same customer"], 3.0
    if probe.domain is not None and candidate.customer_domain == probe.domain:
        return ["same domain"], 2.0
    return [], 0.0
