"""``qmark actions list|show``'s read model, and the ledger's lines for status and the digest.

The keys are the ``--json`` contract: ``id`` (``A-<n>``), ``escalation`` (``Q-<n>``), ``title``,
``owner``, ``due`` (ISO date), ``state`` (``open``, ``done``, ``dropped``) and ``done_at`` (ISO 8601,
UTC, or null); besides them ``overdue``, ``due_at``, ``evidence`` and ``dropped_reason``. An
action's events are those of its escalation's trail whose detail names it (``"action": "A-n"``).
The honest figure counts every action whose due time has passed as judged: an open one is
not done yet, so the share is never shown better than it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pipeline.model.action import ActionState
from pipeline.model.ids import action_ref, ref
from pipeline.store import actions, escalations
from pipeline.store.db import Database
from pipeline.store.models import ActionRow

MAX_OVERDUE = 10  # overdue actions listed by status and the digest; the rest is "and N more"


def summary(row: ActionRow, now: datetime) -> dict[str, Any]:
    """One action as the list shows it; ``overdue`` when open and its due time has passed."""
    return {
        "id": action_ref(row.id),
        "escalation": ref(row.escalation_id),
        "title": row.title,
        "owner": row.owner,
        "due": row.due.isoformat(),
        "state": row.state,
        "done_at": row.done_at.isoformat() if row.done_at else None,
        "overdue": row.state == ActionState.OPEN.value and row.due_at <= now,
        "due_at": row.due_at.isoformat(),
    }


def list_actions(
    db: Database, *, now: datetime, open_only: bool = False, overdue: bool = False, owner: str | None = None
) -> list[dict[str, Any]]:
    """Actions oldest first; only open ones, or only overdue ones (most overdue first), or one owner's."""
    with db.read() as session:
        at = now if overdue else None
        found = actions.list_all(session, open_only=open_only, overdue_at=at, owner=owner)
        return [summary(row, now) for row in found]


def details(db: Database, *, number: int, now: datetime) -> dict[str, Any] | None:
    """Action ``number`` with every field and its ``events``; None when there is none."""
    with db.read() as session:
        row = actions.get(session, number=number)
        if row is None:
            return None
        data = summary(row, now)
        data.update(
            section=row.section,
            line=row.line,
            created_at=row.created_at.isoformat(),
            evidence=row.evidence,
            dropped_reason=row.dropped_reason,
            due_moves=row.due_moves,
            next_chase_at=row.chase_at.isoformat() if row.chase_at else None,
        )
        name = action_ref(number)
        data["events"] = [
            {"at": e.at.isoformat(), "kind": e.kind, "actor": e.actor, "detail": e.detail}
            for e in escalations.list_events(session, number=row.escalation_id)
            if (e.detail or {}).get("action") == name
        ]
    return data


def progress_line(done: int, kept: int) -> str:
    """``1 of 2 done`` (dropped actions not counted)."""
    return f"{done} of {kept} done"


def figure_line(counts: actions.Counts) -> str:
    """``actions done by their due date: 3 of 5 (60%); 2 overdue now``; an open one past due is not done."""
    head = "actions done by their due date: "
    if not counts.due_so_far:
        return head + f"none due yet; {counts.overdue} overdue now"
    share = counts.done_in_time * 100 // counts.due_so_far  # rounded down: never shown better than it is
    return head + f"{counts.done_in_time} of {counts.due_so_far} ({share}%); {counts.overdue} overdue now"


def late(span: timedelta) -> str:
    """``5h late``, ``2d 3h late``, in whole hours rounded up: lateness is never shown smaller than it is."""
    hours = max(1, -(-int(span.total_seconds()) // 3600))
    if hours < 48:
        return f"{hours}h late"
    days, rest = divmod(hours, 24)
    return f"{days}d {rest}h late" if rest else f"{days}d late"


def ledger(db: Database, *, now: datetime, limit: int = MAX_OVERDUE) -> dict[str, Any]:
    """The ledger in numbers and the ``limit`` most overdue actions at ``now``, for ``qmark status``."""
    with db.read() as session:
        counts = actions.counts(session, now=now)
        overdue = actions.list_all(session, overdue_at=now, limit=limit)
    return {
        "by_state": counts.by_state,
        "overdue": counts.overdue,
        "due_so_far": counts.due_so_far,
        "done_in_time": counts.done_in_time,
        "figure": figure_line(counts),
        "most_overdue": [dict(summary(row, now), late=late(now - row.due_at)) for row in overdue],
    }


def overdue_lines(most_overdue: Sequence[dict[str, Any]], total: int) -> list[str]:
    """One line per overdue action (``A-3  Q-1  4d late  pat@acme.test: title``), then "and N more"."""
    lines = [
        f"{item['id']}  {item['escalation']}  {item['late']}  {item['owner']}: {item['title']}"
        for item in most_overdue
    ]
    if total > len(most_overdue):
        lines.append(f"and {total - len(most_overdue)} more")
    return lines
