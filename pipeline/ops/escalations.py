"""``qmark escalations list|show``'s read model: each escalation as plain data, its history with it.

The keys are the ``--json`` contract (DESIGN.md §4.1): ``id`` (``Q-<n>``), ``state``,
``executive``, ``owner``, ``deadline`` and ``opened_at`` (ISO 8601, UTC), and for one
escalation its ``events``, its ``actions`` (``id``, ``title``, ``owner``, ``due``, ``state``,
``done_at``, ...) and ``related``: the earlier escalations its opening mails showed as "Seen
before" (``id``, ``why``, and their ``state`` and ``root_cause`` now). ``action_progress`` is
``{"done": 1, "of": 2}`` (dropped actions not counted), or null for an escalation without actions.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pipeline.model.digest import ROOT_CAUSE_KEY
from pipeline.model.escalation import State
from pipeline.model.ids import parse_ref, ref
from pipeline.ops import actions as ledger
from pipeline.outbound.related import root_cause_line
from pipeline.store import actions, escalations, related
from pipeline.store.db import Database
from pipeline.store.models import EscalationRow

_CHASED = {State.AWAITING_EXPLANATION, State.AWAITING_ROOT_CAUSE}


def summary(row: EscalationRow, now: datetime) -> dict[str, Any]:
    """One escalation as the list shows it; ``overdue`` when chased, not paused and past its deadline."""
    return {
        "overdue": row.state in _CHASED and row.paused_at is None and row.deadline < now,
        "paused": row.paused_at is not None,
        "id": ref(row.id),
        "state": row.state,
        "executive": row.executive,
        "owner": row.owner,
        "deadline": row.deadline.isoformat(),
        "opened_at": row.opened_at.isoformat(),
        "closed_at": row.closed_at.isoformat() if row.closed_at else None,
        "route": row.route,
        "subject": row.subject,
        "customer": row.customer,
    }


def list_summaries(
    db: Database, *, state: State | None = None, overdue: bool = False
) -> list[dict[str, Any]]:
    """Escalations newest first; in one ``state``, or only the overdue ones (most overdue first)."""
    now = datetime.now(UTC)
    with db.read() as session:
        found = escalations.list_all(session, state=state, overdue_at=now if overdue else None)
        progress = actions.progress(session, escalation_ids=[row.id for row in found])
        return [dict(summary(row, now), action_progress=_progress(progress.get(row.id))) for row in found]


def _progress(found: tuple[int, int] | None) -> dict[str, int] | None:
    return None if found is None else {"done": found[0], "of": found[1]}


def details(
    db: Database, *, number: int, now: datetime | None = None, root_cause_key: str = ROOT_CAUSE_KEY
) -> dict[str, Any] | None:
    """Escalation ``number``'s summary with its ``actions``, ``events`` (oldest first) and ``related``,
    as of ``now`` (default: the present); None when there is none."""
    with db.read() as session:
        row = escalations.get(session, number=number)
        if row is None:
            return None
        now = now or datetime.now(UTC)
        data = summary(row, now)
        data["action_progress"] = _progress(actions.progress(session, escalation_ids=[number]).get(number))
        found = actions.list_all(session, escalation_id=number)
        data["actions"] = [ledger.summary(action, now) for action in found]
        data["events"] = [
            {"at": e.at.isoformat(), "kind": e.kind, "actor": e.actor, "detail": e.detail}
            for e in escalations.list_events(session, number=number)
        ]
        named = _named(data["events"])
        earlier = related.shown(session, numbers=[n for n, _ in named])
    data["related"] = [_related(n, why, earlier[n], root_cause_key) for n, why in named if n in earlier]
    return data


def _named(events: list[dict[str, Any]]) -> list[tuple[int, str]]:
    """(number, why) of each earlier escalation the opening's ``seen_before`` event names."""
    named = [item for e in events if e["kind"] == "seen_before" for item in e["detail"].get("related", [])]
    pairs = [(parse_ref(str(item.get("id", ""))), str(item.get("why", ""))) for item in named]
    return [(n, why) for n, why in pairs if n is not None]


def _related(number: int, why: str, row: related.Earlier, key: str) -> dict[str, Any]:
    cause = str(row.writeup.get(key) or row.writeup.get(ROOT_CAUSE_KEY) or "")
    return {"id": ref(number), "why": why, "state": row.state, "root_cause": root_cause_line(cause)}
