"""The history check after a fault: what was answered 250, stored, opened and delivered, and what twice.

:func:`check_history` compares three records of one run: the Message-IDs the sending side
saw answered ``250`` (and those whose session was cut), the database (``messages``,
``escalations``, ``outbound_mails``) and what the relay sink received. The rules:

* every message answered 250 is stored exactly once (by Message-ID) — a second copy only for
  a message whose earlier session was cut (its 250 may have been lost after the commit);
* every one opened exactly one escalation, and its owner forward and executive
  acknowledgement reached the sink; nothing is lost;
* no two different Message-IDs for one (escalation, kind, step, recipient);
* the same Message-ID twice at the sink only for a mail that was being sent (``sending``)
  when a process was killed, at most once more per such mail: the resends are counted.

Reusable by any fault test: pass the in-flight Message-IDs you snapshotted at the kill.
"""

from __future__ import annotations

import email.parser
import email.policy
import re
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tests.support.db import rows, scalar
from tests.support.sink import Received

_KIND = re.compile(r"<qmark\.q\d+\.([a-z_]+)\.")
_HEADERS = email.parser.BytesHeaderParser(policy=email.policy.compat32)


@dataclass
class History:
    """The figures of one run; ``problems`` says in words what broke a rule (empty: all held)."""

    answered: int = 0
    stored: int = 0
    stored_twice_after_cut: int = 0
    escalations: int = 0
    forwards: int = 0
    acks: int = 0
    lost: int = 0
    different_id_duplicates: int = 0
    resends: int = 0
    in_flight: int = 0
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        figures = {k: v for k, v in vars(self).items() if k != "problems"}
        return " ".join(f"{k}={v}" for k, v in figures.items())


def norm(message_id: str) -> str:
    return message_id.strip().strip("<>").lower()


def in_flight(database_url: str) -> set[str]:
    """Message-IDs of mails being sent right now: snapshot this at the moment of a kill."""
    sending = rows(database_url, "select message_id from outbound_mails where state = 'sending'")
    return {norm(mid) for (mid,) in sending}


@dataclass(frozen=True)
class Stranded:
    """What a kill left half done: mails being sent (Message-IDs), messages being processed (ids)."""

    mails: frozenset[str] = frozenset()
    messages: frozenset[int] = frozenset()
    at: datetime | None = None

    @classmethod
    def now(cls, database_url: str) -> Stranded:
        """Snapshot this right after the kill."""
        processing = rows(database_url, "select id from messages where state = 'processing'")
        at = datetime.now(UTC)
        return cls(frozenset(in_flight(database_url)), frozenset(i for (i,) in processing), at)

    def recovered_after(self, database_url: str) -> float | None:
        """Seconds from the kill until the last stranded message was processed and mail sent."""
        if self.at is None or not (self.mails or self.messages):
            return None
        done = [
            when
            for (mid, when) in rows(database_url, "select message_id, sent_at from outbound_mails")
            if norm(mid) in self.mails
        ]
        done += [
            when
            for (number, when) in rows(database_url, "select id, processed_at from messages")
            if number in self.messages
        ]
        latest = max(_aware(when) for when in done if when is not None)
        return (latest - self.at).total_seconds()


def _aware(value: datetime | str) -> datetime:
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def drained(database_url: str, expected_escalations: int) -> bool:
    """Every stored message processed, every mail sent (or given up), and the escalations all there."""
    return (
        scalar(database_url, "select count(*) from messages where state <> 'done'") == 0
        and scalar(
            database_url, "select count(*) from outbound_mails where state not in ('sent', 'dead', 'bounced')"
        )
        == 0
        and scalar(database_url, "select count(*) from escalations") >= expected_escalations
    )


def check_history(
    database_url: str,
    *,
    answered: Collection[str],
    cut: Collection[str],
    sink: Iterable[Received],
    in_flight: Collection[str],
) -> History:
    """Hold the run's three records against the rules above."""
    history = History(answered=len(answered), in_flight=len(in_flight))
    wanted, cut_ids = {norm(m) for m in answered}, {norm(m) for m in cut}
    escalation_of = _check_intake(database_url, wanted, cut_ids, history)
    at_sink = Counter(norm(header(r.data, "Message-ID")) for r in sink)
    check_keys(database_url, sink, at_sink, history)
    check_resends(at_sink, {norm(m) for m in in_flight}, history)
    check_delivered(database_url, escalation_of, at_sink, history)
    return history


def _check_intake(database_url: str, wanted: set[str], cut: set[str], history: History) -> dict[str, int]:
    """Stored once, processed, one escalation each; returns Message-ID -> escalation id."""
    stored = Counter(norm(mid) for (mid,) in rows(database_url, "select header_message_id from messages"))
    opened: dict[str, list[int]] = defaultdict(list)
    for mid, escalation in rows(
        database_url,
        "select m.header_message_id, e.id from escalations e join messages m on m.id = e.source_message_id",
    ):
        opened[norm(mid)].append(escalation)
    for mid in sorted(wanted):
        copies = stored.get(mid, 0)
        if copies == 0:
            history.lost += 1
            history.problems.append(f"{mid}: answered 250 but not stored")
            continue
        history.stored += 1
        if copies > 1 and mid in cut:
            history.stored_twice_after_cut += 1
        elif copies > 1:
            history.problems.append(f"{mid}: stored {copies} times without a cut session")
        if len(opened.get(mid, [])) != 1:
            history.lost += not opened.get(mid)
            history.problems.append(f"{mid}: {len(opened.get(mid, []))} escalations")
        else:
            history.escalations += 1
    unprocessed = scalar(database_url, "select count(*) from messages where state <> 'done'")
    if unprocessed:
        history.problems.append(f"{unprocessed} stored messages never processed")
    return {mid: ids[0] for mid, ids in opened.items() if mid in wanted and len(ids) == 1}


def check_keys(database_url: str, sink: Iterable[Received], at_sink: Counter[str], history: History) -> None:
    """No two different Message-IDs at the sink for one (escalation, kind, step, recipient)."""
    known = {
        norm(mid): (escalation, kind, step, recipient)
        for mid, escalation, kind, step, recipient in rows(
            database_url, "select message_id, escalation_id, kind, step, recipient from outbound_mails"
        )
    }
    ids_by_key: dict[tuple[object, ...], set[str]] = defaultdict(set)
    for received in sink:
        mid = norm(header(received.data, "Message-ID"))
        key = known.get(mid)
        if key is None:  # rendered and sent, but its row was never committed
            kind = _KIND.match("<" + mid + ">")
            escalation = header(received.data, "X-Qmark-Escalation")
            key = (escalation, kind.group(1) if kind else "?", "?", ",".join(received.rcpt_tos))
            history.problems.append(f"{mid}: at the sink but not in outbound_mails")
        ids_by_key[key].add(mid)
    for key, ids in ids_by_key.items():
        if len(ids) > 1:
            history.different_id_duplicates += len(ids) - 1
            history.problems.append(f"{key}: {len(ids)} different Message-IDs {sorted(ids)}")
    unknown = [mid for mid in at_sink if mid not in known]
    history.different_id_duplicates += len(unknown)


def check_resends(at_sink: Counter[str], in_flight: set[str], history: History) -> None:
    for mid, times in at_sink.items():
        if times == 1:
            continue
        history.resends += times - 1
        if mid not in in_flight or times > 2:
            flying = mid in in_flight
            history.problems.append(f"{mid}: at the sink {times} times, in flight at a kill: {flying}")


def check_delivered(
    database_url: str, escalation_of: dict[str, int], at_sink: Counter[str], history: History
) -> None:
    """Each escalation's owner forward and executive acknowledgement reached the sink."""
    mails: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    query = "select escalation_id, kind, message_id from outbound_mails"
    for escalation, kind, mid in rows(database_url, query):
        mails[escalation][kind].append(norm(mid))
    for mid, escalation in sorted(escalation_of.items()):
        for kind in ("owner_forward", "executive_ack"):
            delivered = [m for m in mails[escalation][kind] if at_sink.get(m)]
            if not delivered:
                history.lost += 1
                history.problems.append(f"Q-{escalation} ({mid}): no {kind} at the sink")
            elif kind == "owner_forward":
                history.forwards += 1
            else:
                history.acks += 1


def header(raw: bytes, name: str) -> str:
    return str(_HEADERS.parsebytes(raw, headersonly=True).get(name, ""))
