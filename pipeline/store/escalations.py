"""Repository functions for escalations and their audit trail."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from pipeline.escalation import Escalation, Event, State
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


def get_by_dedupe_key(session: Session, *, dedupe_key: str) -> int | None:
    """The escalation already opened for this executive mail, if any."""
    return session.execute(
        select(models.Escalation.id).where(models.Escalation.dedupe_key == dedupe_key)
    ).scalar()


def add(session: Session, *, escalation: Escalation, facts: NewEscalation) -> int:
    """Insert a newly opened escalation and its events; returns its number."""
    row = models.Escalation(
        state=escalation.state.value,
        executive=escalation.executive,
        owner=escalation.owner,
        deadline=escalation.deadline,
        opened_at=escalation.opened_at,
        closed_at=escalation.closed_at,
        executive_name=facts.executive_name,
        owner_name=facts.owner_name,
        route=facts.route,
        subject=facts.subject,
        customer=facts.customer,
        executive_note=facts.executive_note,
        source_message_id=facts.source_message_id,
        dedupe_key=facts.dedupe_key,
    )
    session.add(row)
    session.flush()
    escalation.number = row.id
    save_events(session, escalation_id=row.id, events=escalation.new_events)
    escalation.new_events.clear()
    return row.id


def save_events(session: Session, *, escalation_id: int, events: Sequence[Event]) -> None:
    """Append events to an escalation's audit trail."""
    if events:
        session.execute(
            insert(models.Event),
            [
                {
                    "escalation_id": escalation_id,
                    "at": e.at,
                    "kind": e.kind,
                    "actor": e.actor,
                    "detail": e.detail,
                }
                for e in events
            ],
        )


def add_event(
    session: Session, *, escalation_id: int, kind: str, at: datetime, actor: str, **detail: Any
) -> None:
    """Append one event."""
    save_events(session, escalation_id=escalation_id, events=[Event(kind, at, actor, dict(detail))])


def get(session: Session, *, number: int) -> models.Escalation | None:
    """Escalation ``number`` or None."""
    return session.get(models.Escalation, number)


def list_all(session: Session, *, state: State | None = None, limit: int = 1000) -> list[models.Escalation]:
    """Escalations, newest first, optionally in one state."""
    query = select(models.Escalation).order_by(models.Escalation.id.desc()).limit(limit)
    if state is not None:
        query = query.where(models.Escalation.state == state.value)
    return list(session.execute(query).scalars())


def list_events(session: Session, *, number: int) -> list[models.Event]:
    """The audit trail of escalation ``number``, oldest first."""
    query = select(models.Event).where(models.Event.escalation_id == number).order_by(models.Event.id)
    return list(session.execute(query).scalars())
