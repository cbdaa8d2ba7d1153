"""Repository functions for the action ledger: add an escalation's actions, load one to change it, list them.

An action's events go to its escalation's audit trail (``events``), so ``qmark escalations
show`` tells the whole story. Claiming actions whose chase slot is due is
``pipeline.store.chases.claim_due_actions``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    Connection,
    Integer,
    RowMapping,
    any_,
    bindparam,
    case,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session

from pipeline.model.action import Action, ActionState
from pipeline.model.action_items import ActionItem
from pipeline.store import escalations
from pipeline.store.models import ActionRow

# The columns a change of an action may write; the rest is written once, when it is added.
_MUTABLE = (
    "state",
    "due",
    "due_at",
    "done_at",
    "evidence",
    "dropped_reason",
    "due_moves",
    "clock_started_at",
    "chase_phase",
    "chase_slot",
    "chase_at",
)
# Action's fields whose column has another name; every other field is its column's namesake.
_COLUMN_OF = {"number": "id", "escalation": "escalation_id"}
_FIELDS = tuple(f.name for f in fields(Action) if f.name != "new_events")


@dataclass(frozen=True)
class NewAction:
    """An action to add at the close: the writeup's item, when it is overdue, when it is first chased."""

    item: ActionItem
    due_at: datetime
    chase_at: datetime | None


def add(conn: Connection, *, escalation_id: int, actions: Sequence[NewAction], now: datetime) -> list[int]:
    """Add the actions of a closing escalation; returns their numbers (``A-<n>``), in order."""
    if not actions:
        return []
    rows = []
    for new in actions:
        draft = Action.from_item(new.item, escalation=escalation_id, due_at=new.due_at, now=now)
        draft.chase_at = new.chase_at
        row = _columns(draft)
        del row["id"]  # numbered by the database
        rows.append(row)
    result = conn.execute(insert(ActionRow).returning(ActionRow.id, sort_by_parameter_order=True), rows)
    return [row[0] for row in result]


def load(conn: Connection, *, number: int) -> Action | None:
    """Action ``number`` for a change, its row locked until commit."""
    query = select(ActionRow.__table__).where(ActionRow.id == number).with_for_update()
    row = conn.execute(query).mappings().first()
    return None if row is None else _action(row)


def load_for_escalation(conn: Connection, *, escalation_id: int) -> list[Action]:
    """Every action of an escalation, oldest first, their rows locked until commit."""
    table = ActionRow.__table__
    query = select(table).where(ActionRow.escalation_id == escalation_id).order_by(ActionRow.id)
    return [_action(row) for row in conn.execute(query.with_for_update()).mappings()]


def save(conn: Connection, *, action: Action) -> None:
    """Write back what a change of the action did, and its events (on the escalation's trail)."""
    values = {name: value for name, value in _columns(action).items() if name in _MUTABLE}
    conn.execute(update(ActionRow).where(ActionRow.id == action.number).values(values))
    escalations.save_events(conn, escalation_id=action.escalation, events=action.new_events)
    action.new_events.clear()


def _action(row: RowMapping) -> Action:
    """An action as its row holds it."""
    values = {name: row[_COLUMN_OF.get(name, name)] for name in _FIELDS}
    values["state"] = ActionState(values["state"])
    return Action(**values)


def _columns(action: Action) -> dict[str, Any]:
    """Column -> value of ``action``, as its row holds it."""
    values = {_COLUMN_OF.get(name, name): getattr(action, name) for name in _FIELDS}
    values["state"] = action.state.value
    return values


def list_all(
    session: Session,
    *,
    open_only: bool = False,
    overdue_at: datetime | None = None,
    owner: str | None = None,
    escalation_id: int | None = None,
    limit: int = 1000,
) -> list[ActionRow]:
    """Actions, oldest first; open ones, overdue ones (most overdue first), one owner's or escalation's."""
    query = select(ActionRow).order_by(ActionRow.id).limit(limit)
    if open_only or overdue_at is not None:
        query = query.where(ActionRow.state == ActionState.OPEN.value)
    if overdue_at is not None:
        query = query.where(ActionRow.due_at <= overdue_at).order_by(None)
        query = query.order_by(ActionRow.due_at, ActionRow.id)
    if owner is not None:
        query = query.where(ActionRow.owner == owner.strip().lower())
    if escalation_id is not None:
        query = query.where(ActionRow.escalation_id == escalation_id)
    return list(session.execute(query).scalars())


def get(session: Session, *, number: int) -> ActionRow | None:
    """One action, as it is now."""
    return session.get(ActionRow, number)


_DONE = func.sum(case((ActionRow.state == ActionState.DONE.value, 1), else_=0))
_KEPT = func.sum(case((ActionRow.state != ActionState.DROPPED.value, 1), else_=0))
# Built once: the opening's repeat-complaint lookup reads it for every new escalation, often for
# a hundred or more escalations. PostgreSQL takes them as one array (``= ANY(:numbers)``): the
# statement's text stays the same, so psycopg caches its conversion and the server its plan; an
# expanded ``IN (...)`` of a new length each time is parsed and planned again on both sides.
_PROGRESS = (
    select(ActionRow.escalation_id, _DONE, _KEPT)
    .where(ActionRow.escalation_id.in_(bindparam("numbers", expanding=True)))
    .group_by(ActionRow.escalation_id)
)
_PROGRESS_ANY = (
    select(ActionRow.escalation_id, _DONE, _KEPT)
    .where(ActionRow.escalation_id == any_(bindparam("numbers", type_=ARRAY(Integer))))
    .group_by(ActionRow.escalation_id)
)


def progress(session: Session | Connection, *, escalation_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
    """Per escalation with actions: (actions done, actions not dropped) — "1 of 2 done"."""
    if not escalation_ids:
        return {}
    conn = session.connection() if isinstance(session, Session) else session  # Core: no ORM overhead
    query = _PROGRESS_ANY if conn.dialect.name == "postgresql" else _PROGRESS
    rows = conn.execute(query, {"numbers": list(escalation_ids)})
    return {number: (int(done or 0), int(kept or 0)) for number, done, kept in rows}


@dataclass(frozen=True)
class Counts:
    """The ledger in numbers: actions by state, overdue now, and done by their due date so far."""

    by_state: dict[str, int]
    overdue: int
    due_so_far: int  # actions (not dropped) whose due time has passed, or that are done
    done_in_time: int  # of those, done by their due time


def counts(session: Session, *, now: datetime) -> Counts:
    """The numbers behind status, the digest and ``/metrics``, in two aggregate queries."""
    by_state = {state.value: 0 for state in ActionState}
    for state, number in session.execute(select(ActionRow.state, func.count()).group_by(ActionRow.state)):
        by_state[state] = int(number)
    is_open, is_done = ActionRow.state == ActionState.OPEN.value, ActionRow.state == ActionState.DONE.value
    judged = is_done | (is_open & (ActionRow.due_at <= now))
    overdue, due_so_far, in_time = session.execute(
        select(
            func.sum(case((is_open & (ActionRow.due_at <= now), 1), else_=0)),
            func.sum(case((judged, 1), else_=0)),
            func.sum(case((is_done & (ActionRow.done_at <= ActionRow.due_at), 1), else_=0)),
        )
    ).one()
    return Counts(by_state, int(overdue or 0), int(due_so_far or 0), int(in_time or 0))


def escalation_of(conn: Connection, *, number: int) -> int | None:
    """The escalation action ``number`` belongs to (no lock: a step locks the escalation first)."""
    query = select(ActionRow.escalation_id).where(ActionRow.id == number)
    found = conn.execute(query).scalar_one_or_none()
    return None if found is None else int(found)
