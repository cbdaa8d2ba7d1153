"""I1–I6 over a whole run with every kind of mail: the history check of the nemesis soak.

:func:`check_invariants` reads the three records of a run — the sending MTA's log
(:class:`tests.support.mta.Mta`: what was answered 250, cut or refused), the database and
the relay sink — and holds them against DESIGN §5:

* I1 — every message answered 250 is stored once (a second copy only after a cut session);
* I2 — every stored message is processed and has an outcome; a forward opened one
  escalation, an owner's reply is a reply, a bounce or an auto-reply is machine mail; none
  is quarantined (the soak sends only good mail);
* I3 — no two Message-IDs for one (escalation, kind, step, recipient); the same Message-ID
  twice at the relay only for a mail being sent when a process was killed;
* I4 — an escalation whose only owner mail was a bounce or an auto-reply (or nothing) got
  exactly its owner forward and acknowledgement: nothing answered the machine; no mail
  went to qmark itself or to a mail system;
* I5 — every closed escalation has its root cause, and every writeup sent after the
  explanation was relayed closed its escalation;
* I6 — qmark never answered 5xx;
* and no open escalation is left without a timer (``chase_at``) unless paused.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from tests.support.db import decoded, rows
from tests.support.history import History, check_delivered, check_keys, check_resends, header, norm
from tests.support.mta import Mta
from tests.support.sink import Received

OUTCOME = {"forward": "escalation", "explanation": "reply", "writeup": "reply", "bounce": "machine"}
OUTCOME["out_of_office"] = "machine"
QMARK_ADDRESSES = ("escalations@acme.test",)
INITIAL = frozenset({"owner_forward", "executive_ack"})


@dataclass
class Verdict:
    """The figures of the check and, in words, every rule that broke (``problems`` empty: all held)."""

    history: History
    answered_by_kind: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    closed: int = 0
    open_escalations: int = 0
    refused_5xx: int = 0
    problems: list[str] = field(default_factory=list)


def check_invariants(
    database_url: str, mta: Mta, sink: list[Received], *, in_flight: set[str], quiet: dict[str, str]
) -> Verdict:
    """``quiet`` maps a forward's Message-ID to what its owner sent: nothing, a bounce or an auto-reply."""
    history = History(answered=sum(1 for d in mta.log.values() if d.answered_at), in_flight=len(in_flight))
    verdict = Verdict(history)
    escalation_of = _i1_i2(database_url, mta, verdict)
    at_sink = Counter(norm(header(r.data, "Message-ID")) for r in sink)
    check_keys(database_url, sink, at_sink, history)
    check_resends(at_sink, {norm(m) for m in in_flight}, history)
    check_delivered(database_url, escalation_of, at_sink, history)
    _i4(database_url, escalation_of, quiet, verdict)
    _i5_and_timers(database_url, mta, escalation_of, verdict)
    verdict.refused_5xx = sum(1 for d in mta.log.values() if d.refused)
    verdict.problems += [f"{mid}: qmark answered {d.refused}" for mid, d in mta.log.items() if d.refused]
    verdict.problems = history.problems + verdict.problems
    return verdict


def _i1_i2(database_url: str, mta: Mta, verdict: Verdict) -> dict[str, int]:
    """Stored once, processed, the outcome its kind wants; returns forward Message-ID -> escalation."""
    stored: dict[str, list[tuple[str, str | None, str | None, int | None]]] = defaultdict(list)
    query = "select header_message_id, state, outcome, reason, escalation_id from messages"
    for mid, state, outcome, reason, escalation in rows(database_url, query):
        stored[norm(mid)].append((state, outcome, reason, escalation))
    history, escalation_of = verdict.history, {}
    for mid, delivery in mta.log.items():
        copies = stored.get(norm(mid), [])
        if delivery.answered_at:
            verdict.answered_by_kind[delivery.kind] += 1
        if not copies:
            if delivery.answered_at:
                history.lost += 1
                verdict.problems.append(f"{mid} ({delivery.kind}): answered 250 but not stored")
            continue
        history.stored += 1
        if len(copies) > 1:
            history.stored_twice_after_cut += delivery.cut
            if not delivery.cut:
                verdict.problems.append(f"{mid}: stored {len(copies)} times without a cut session")
        state, outcome, reason, escalation = copies[0]
        verdict.outcomes[f"{delivery.kind}->{outcome}"] += 1
        if state != "done" or outcome != OUTCOME[delivery.kind]:
            verdict.problems.append(f"{mid} ({delivery.kind}): {state}, {outcome}: {reason}")
        if delivery.kind == "forward" and escalation is not None:
            escalation_of[norm(mid)] = escalation
            history.escalations += 1
    return escalation_of


def _i4(database_url: str, escalation_of: dict[str, int], quiet: dict[str, str], verdict: Verdict) -> None:
    kinds: dict[int, list[str]] = defaultdict(list)
    for escalation, kind, recipient in rows(
        database_url, "select escalation_id, kind, recipient from outbound_mails"
    ):
        kinds[escalation].append(kind)
        if recipient.lower() in QMARK_ADDRESSES or recipient.lower().startswith(
            ("mailer-daemon@", "postmaster@")
        ):
            verdict.problems.append(f"Q-{escalation}: a {kind} mail to {recipient}")
    for mid, what in quiet.items():
        escalation = escalation_of.get(norm(mid))
        if escalation is not None and sorted(kinds[escalation]) != sorted(INITIAL):
            verdict.problems.append(f"Q-{escalation} (owner sent {what}): mails {sorted(kinds[escalation])}")


def _i5_and_timers(database_url: str, mta: Mta, escalation_of: dict[str, int], verdict: Verdict) -> None:
    query = "select id, state, root_cause_at, writeup, chase_at, paused_at from escalations"
    for number, state, root_cause_at, writeup, chase_at, paused_at in rows(database_url, query):
        if state == "closed":
            verdict.closed += 1
            sections = [v for v in (decoded(writeup) or {}).values() if str(v).strip()]
            if root_cause_at is None or len(sections) < 5:
                verdict.problems.append(f"Q-{number}: closed with {len(sections)} writeup sections")
        else:
            verdict.open_escalations += 1
            if chase_at is None and paused_at is None:
                verdict.problems.append(f"Q-{number}: {state} without a timer")
    _writeups_closed(database_url, mta, escalation_of, verdict)


def _writeups_closed(database_url: str, mta: Mta, escalation_of: dict[str, int], verdict: Verdict) -> None:
    """Each escalation whose owner's writeup was answered 250 is closed."""
    state = dict(rows(database_url, "select id, state from escalations"))
    for mid in mta.of_kind("writeup"):
        forward = mta.log[mid].about
        escalation = escalation_of.get(norm(forward))
        if escalation is not None and state.get(escalation) != "closed":
            verdict.problems.append(
                f"Q-{escalation}: the writeup {mid} was answered 250, but it is {state[escalation]}"
            )
