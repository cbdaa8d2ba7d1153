"""What every step needs, wired once at start-up, and the one way a step records a message's outcome."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlalchemy import Connection

from pipeline import log
from pipeline.decide.classify import Policy, Verdict
from pipeline.inbound.limits import ParseLimits
from pipeline.outbound.compose import Identity
from pipeline.store import messages
from pipeline.store.db import Database
from rules.schema import Rules

logger = log.get(__name__)
T = TypeVar("T")


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Services:
    """Everything the steps need, wired once at start-up."""

    db: Database
    rules: Rules
    policy: Policy
    identity: Identity
    limits: ParseLimits
    max_attempts: int
    lease: timedelta = timedelta(minutes=2)
    max_send_attempts: int = 200
    clock: Callable[[], datetime] = utcnow
    timezone: str = "UTC"


def each_alone(
    svc: Services,
    numbers: Sequence[int],
    step: Callable[[Services, Connection, int], list[T]],
    *,
    bound: Callable[[int], dict[str, str]],
) -> list[T]:
    """Run ``step`` for each of ``numbers`` in a transaction of its own, its log lines bound to
    ``bound(number)``; returns what the steps return, in order."""
    done: list[T] = []
    for number in numbers:
        with log.bound(**bound(number)), svc.db.transaction() as conn:
            done += step(svc, conn, number)
    return done


def finish(
    svc: Services, message_id: int, verdict: Verdict, reason: str, *, escalation_id: int | None = None
) -> None:
    """Record a message's final outcome and reason in its own transaction (I2), and log it."""
    with svc.db.transaction() as conn:
        record_outcome(conn, svc, message_id, verdict, reason, escalation_id=escalation_id)


def record_outcome(
    conn: Connection,
    svc: Services,
    message_id: int,
    verdict: Verdict,
    reason: str,
    *,
    escalation_id: int | None = None,
) -> None:
    """Record a message's final outcome and reason inside the caller's transaction, and log it."""
    messages.finish(
        conn,
        message_id=message_id,
        outcome=verdict.value,
        reason=reason,
        now=svc.clock(),
        escalation_id=escalation_id,
    )
    level = "warning" if verdict is Verdict.QUARANTINE else "info"
    getattr(logger, level)("message_processed", outcome=verdict.value, reason=reason)
