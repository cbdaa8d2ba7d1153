"""Earlier escalations for the repeat-complaint lookup: found by index, a bounded number per kind.

:func:`candidates` reads three index ranges of ``escalations``, each newest first and capped:
the same customer address (``ix_escalations_customer_opened_at``, :data:`PER_CUSTOMER`), the
same customer domain when there is one to match (``…_customer_domain_opened_at``,
:data:`PER_DOMAIN`) and the same route (``…_route_opened_at``, :data:`PER_ROUTE`, whose complaint
texts ``pipeline.decide.related`` compares). So an opening reads at most a few hundred short
index entries, however large the table. :func:`pipeline.store.actions.progress` reads the candidates' actions,
:func:`shown` what the mails say of the few picked; :func:`recurrences` and
:func:`recurrence_count` feed the digest and ``/metrics``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, union_all
from sqlalchemy.orm import Session

from pipeline.model.related import WINDOW, Candidate, Probe
from pipeline.store.models import EscalationRow

PER_CUSTOMER = 10
PER_DOMAIN = 10
PER_ROUTE = 100  # the route's latest complaints whose text is compared

_E = EscalationRow
_COLUMNS = (_E.id, _E.customer, _E.customer_domain, _E.route, _E.complaint_key)


def _newest(column: Any, name: str, limit: int) -> Any:
    """The ``limit`` newest escalations with ``column`` = :name opened in [:since, :now), by index."""
    query = (
        select(*_COLUMNS)
        .where(column == bindparam(name), _E.opened_at >= bindparam("since"), _E.opened_at < bindparam("now"))
        .order_by(_E.opened_at.desc())
        .limit(limit)
    )
    return query.subquery().select()


_ROUTE = _newest(_E.route, "route", PER_ROUTE)
_CUSTOMER = _newest(_E.customer, "customer", PER_CUSTOMER)
_DOMAIN = _newest(_E.customer_domain, "domain", PER_DOMAIN)
# Built once (SQLAlchemy's statement construction costs more than SQLite's index reads): by route
# only (no customer address), by route and customer (free mail), by all three; one round trip each.
_LOOKUPS = {
    (False, False): _ROUTE,
    (True, False): union_all(_ROUTE, _CUSTOMER),
    (True, True): union_all(_ROUTE, _CUSTOMER, _DOMAIN),
}


def _connection(session: Session | Connection) -> Connection:
    return session.connection() if isinstance(session, Session) else session


def candidates(
    session: Session | Connection,
    *,
    probe: Probe,
    now: datetime,
    exclude: int | None = None,
    window: timedelta = WINDOW,
) -> list[Candidate]:
    """Escalations opened in ``[now - window, now)`` with ``probe``'s customer, domain or route."""
    has_customer = bool(probe.customer)
    statement = _LOOKUPS[(has_customer, has_customer and probe.domain is not None)]
    values = {
        "route": probe.route,
        "customer": probe.customer,
        "domain": probe.domain,
        "since": now - window,
        "now": now,
    }
    found: dict[int, Candidate] = {}
    for number, customer, domain, route, key in _connection(session).execute(statement, values):
        if number != exclude:
            found[number] = Candidate(number, customer, domain, route, key)
    return list(found.values())


@dataclass(frozen=True)
class Earlier:
    """What the mails say of an earlier escalation: its state, owner, thread and root cause."""

    number: int
    state: str
    closed_at: datetime | None
    owner: str
    owner_name: str
    executive: str
    executive_name: str
    subject: str
    writeup: Mapping[str, str]


_SHOWN = select(
    _E.id,
    _E.state,
    _E.closed_at,
    _E.owner,
    _E.owner_name,
    _E.executive,
    _E.executive_name,
    _E.subject,
    _E.writeup,
).where(_E.id.in_(bindparam("numbers", expanding=True)))


def shown(session: Session | Connection, *, numbers: Sequence[int]) -> dict[int, Earlier]:
    """The escalations ``numbers`` as the opening mails and ``escalations show`` need them."""
    if not numbers:
        return {}
    rows = _connection(session).execute(_SHOWN, {"numbers": list(numbers)})
    return {row[0]: Earlier(*row[:8], writeup=dict(row[8] or {})) for row in rows}


def recurrences(session: Session, *, since: datetime, now: datetime) -> list[tuple[int, int]]:
    """(new escalation, earlier one) for each escalation opened in ``[since, now]`` after a fix."""
    query = (
        select(_E.id, _E.recurred_after)
        .where(_E.recurred_after.is_not(None), _E.opened_at >= since, _E.opened_at <= now)
        .order_by(_E.opened_at, _E.id)
    )
    return [(number, earlier) for number, earlier in session.execute(query) if earlier is not None]


def recurrence_count(session: Session) -> int:
    """How many escalations came back after their earlier one's fix, ever."""
    query = select(func.count()).where(_E.recurred_after.is_not(None))
    return int(session.execute(query).scalar_one())
