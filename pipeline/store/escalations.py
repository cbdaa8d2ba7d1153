"""Repository functions for escalations and their audit trail."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from pipeline.model.action_items import ActionItem
from pipeline.model.escalation import Escalation, Event, State
from pipeline.store import models


@dataclass(frozen=True)
class NewEscalation:
    """The descriptive columns stored beside the domain object."""

    executive_name: str
    owner_name: str
    route: str
    subject: str
    customer: str
    executive_note: str
    source_message_id: int
    dedupe_key: str
    customer_domain: str = ""
    complaint_key: str = ""  # pipeline.model.related.complaint_key: what the repeat lookup compares
    recurred_after: int | None = None  # the earlier escalation whose fix did not hold


# The columns a transition may change; everything else is written once, at opening.
_MUTABLE = (
    "state",
    "owner",
    "owner_name",
    "deadline",
    "closed_at",
    "explained_at",
    "explanation",
    "writeup",
    "root_cause_at",
    "extended",
    "reopened",
    "clock_started_at",
    "clock_business",
    "chase_phase",
    "chase_slot",
    "chase_at",
    "paused_at",
    "paused_seconds",
    "explained_in_time",
    "root_cause_in_time",
    "planned_actions",
)


@dataclass(frozen=True)
class Loaded:
    """An escalation loaded for a transition: the domain object and the descriptive columns."""

    escalation: Escalation
    row: dict[str, Any]


_BY_DEDUPE_KEY = select(models.EscalationRow.id).where(models.EscalationRow.dedupe_key == bindparam("key"))
_INSERT = insert(models.EscalationRow)
_RESERVE = insert(models.EscalationNumberRow).returning(models.EscalationNumberRow.id)


def get_by_dedupe_key(session: Session, *, dedupe_key: str) -> int | None:
    """The escalation already opened for this executive mail, if any."""
    return session.execute(_BY_DEDUPE_KEY, {"key": dedupe_key}).scalar()


def reserve_number(conn: Connection) -> int:
    """A fresh escalation number, committed on its own so mail can be rendered before ``add``."""
    return int(conn.execute(_RESERVE).scalar_one())


def add(conn: Connection, *, number: int, escalation: Escalation, facts: NewEscalation) -> None:
    """Insert a newly opened escalation under its reserved ``number``, with its events."""
    row = {
        "id": number,
        "state": escalation.state.value,
        "executive": escalation.executive,
        "owner": escalation.owner,
        "deadline": escalation.deadline,
        "opened_at": escalation.opened_at,
        "closed_at": escalation.closed_at,
        "explanation": "",
        "writeup": {},
        "extended": False,
        "reopened": 0,
        "clock_started_at": escalation.clock_started_at,
        "clock_business": escalation.clock_business,
        "chase_phase": escalation.chase_phase,
        "chase_slot": escalation.chase_slot,
        "chase_at": escalation.chase_at,
        "paused_seconds": 0.0,
        **dataclasses.asdict(facts),
    }
    conn.execute(_INSERT, row)
    escalation.number = number
    save_events(conn, escalation_id=number, events=escalation.new_events)
    escalation.new_events.clear()


def save_events(conn: Connection, *, escalation_id: int, events: Sequence[Event]) -> None:
    """Append events to an escalation's audit trail."""
    append_events(conn, events=[(escalation_id, e) for e in events])


def append_events(conn: Connection, *, events: Sequence[tuple[int, Event]]) -> None:
    """Append (escalation id, event) pairs, possibly of several escalations, in one statement."""
    if events:
        rows = [
            {"escalation_id": number, "at": e.at, "kind": e.kind, "actor": e.actor, "detail": e.detail}
            for number, e in events
        ]
        # With RETURNING, SQLAlchemy sends the rows as one multi-row INSERT from a cached
        # compilation ("insertmanyvalues"); a plain executemany is one statement per row on
        # PostgreSQL, and ``.values(rows)`` is compiled again on every call.
        conn.execute(insert(models.EventRow).returning(models.EventRow.id), rows)


def add_event(
    conn: Connection, *, escalation_id: int, kind: str, at: datetime, actor: str, **detail: Any
) -> None:
    """Append one event."""
    save_events(conn, escalation_id=escalation_id, events=[Event(kind, at, actor, dict(detail))])


def get(session: Session, *, number: int) -> models.EscalationRow | None:
    """Escalation ``number`` or None."""
    return session.get(models.EscalationRow, number)


_CHASED = (State.AWAITING_EXPLANATION.value, State.AWAITING_ROOT_CAUSE.value)


def list_all(
    session: Session, *, state: State | None = None, overdue_at: datetime | None = None, limit: int = 1000
) -> list[models.EscalationRow]:
    """Escalations, newest first; in one state, or overdue at ``overdue_at`` (most overdue first)."""
    table = models.EscalationRow
    query = select(table).order_by(table.id.desc()).limit(limit)
    if state is not None:
        query = query.where(table.state == state.value)
    if overdue_at is not None:
        query = query.where(*_overdue(overdue_at)).order_by(None).order_by(table.deadline)
    return list(session.execute(query).scalars())


def _overdue(now: datetime) -> tuple[Any, ...]:
    """An explanation or writeup is awaited, the clock is not paused, and the deadline has passed."""
    table = models.EscalationRow
    return (table.state.in_(_CHASED), table.paused_at.is_(None), table.deadline < now)


def counts(session: Session, *, now: datetime) -> dict[str, Any]:
    """Escalations by state, how many are overdue now and since when the oldest is."""
    table = models.EscalationRow
    grouped = session.execute(select(table.state, func.count()).group_by(table.state))
    by_state = {state: int(number) for state, number in grouped}
    overdue, oldest = session.execute(
        select(func.count(), func.min(table.deadline)).where(*_overdue(now))
    ).one()
    paused = session.execute(select(func.count()).where(table.paused_at.is_not(None))).scalar_one()
    return {
        "by_state": by_state,
        "overdue": int(overdue),
        "oldest_overdue_deadline": oldest,
        "paused": int(paused),
    }


def list_events(session: Session, *, number: int) -> list[models.EventRow]:
    """The audit trail of escalation ``number``, oldest first."""
    query = (
        select(models.EventRow).where(models.EventRow.escalation_id == number).order_by(models.EventRow.id)
    )
    return list(session.execute(query).scalars())


def load(conn: Connection, *, number: int) -> Loaded | None:
    """Escalation ``number`` for a transition, its row locked until commit (FOR UPDATE; SQLite's
    write transaction already serialises writers)."""
    query = select(models.EscalationRow.__table__).where(models.EscalationRow.id == number).with_for_update()
    found = conn.execute(query).mappings().first()
    if found is None:
        return None
    row = dict(found)
    escalation = Escalation(
        state=State(row["state"]),
        executive=row["executive"],
        owner=row["owner"],
        deadline=row["deadline"],
        opened_at=row["opened_at"],
        number=number,
        closed_at=row["closed_at"],
        explained_at=row["explained_at"],
        explanation=row["explanation"] or "",
        writeup=dict(row["writeup"] or {}),
        root_cause_at=row["root_cause_at"],
        extended=bool(row["extended"]),
        reopened=int(row["reopened"] or 0),
        clock_started_at=row["clock_started_at"],
        clock_business=bool(row["clock_business"]),
        chase_phase=int(row["chase_phase"] or 0),
        chase_slot=int(row["chase_slot"] or 0),
        chase_at=row["chase_at"],
        paused_at=row["paused_at"],
        paused_seconds=float(row["paused_seconds"] or 0.0),
        explained_in_time=row["explained_in_time"],
        root_cause_in_time=row["root_cause_in_time"],
        planned_actions=[ActionItem.from_json(item) for item in row["planned_actions"] or []],
    )
    return Loaded(escalation=escalation, row=row)


def save(conn: Connection, *, escalation: Escalation, owner_name: str | None = None) -> None:
    """Write back what a transition changed, and its new events."""
    assert escalation.number is not None
    values: dict[str, Any] = {name: getattr(escalation, name) for name in _MUTABLE if name != "owner_name"}
    values["state"] = escalation.state.value
    values["planned_actions"] = [item.as_json() for item in escalation.planned_actions]
    if owner_name is not None:
        values["owner_name"] = owner_name
    conn.execute(
        update(models.EscalationRow).where(models.EscalationRow.id == escalation.number).values(values)
    )
    save_events(conn, escalation_id=escalation.number, events=escalation.new_events)
    escalation.new_events.clear()


def list_events_conn(conn: Connection, *, number: int) -> list[Event]:
    """The audit trail of escalation ``number``, oldest first, read inside a write transaction."""
    table = models.EventRow
    query = (
        select(table.kind, table.at, table.actor, table.detail)
        .where(table.escalation_id == number)
        .order_by(table.id)
    )
    return [Event(kind, at, actor, dict(detail or {})) for kind, at, actor, detail in conn.execute(query)]
