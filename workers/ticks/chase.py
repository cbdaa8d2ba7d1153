"""The scheduler's timer pass: claim escalations whose next chase slot is due and enqueue their jobs.

Deadlines live in the database (``chase_at``), never in the broker's delay. A
claim is a lease: if the job is lost (Redis wiped, worker killed) the lease runs
out and a later tick claims the escalation again, so this pass is also the
timers' sweeper.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from pipeline import log
from pipeline.steps.services import Services
from pipeline.store import chases
from workers.graph import Graph, ring

logger = log.get(__name__)

BATCH = 500


def tick(services: Services, graph: Graph) -> int:
    """Claim every due escalation and action (in batches) and enqueue their chase jobs; returns how many."""
    escalations = _claim_all(services, chases.claim_due, graph.enqueue_chase, "chase")
    actions = _claim_all(services, chases.claim_due_actions, graph.enqueue_chase_actions, "chase_actions")
    if escalations or actions:
        logger.info("chase_due", escalations=escalations, actions=actions)
    return escalations + actions


def _claim_all(
    services: Services, claim: Callable[..., list[int]], enqueue: Callable[[list[int]], None], what: str
) -> int:
    total = 0
    while True:
        with services.db.transaction() as conn:
            numbers = claim(conn, now=services.clock(), lease=services.lease, limit=BATCH)
        ring(functools.partial(enqueue, numbers), what=what, ids=numbers)
        total += len(numbers)
        if len(numbers) < BATCH:
            return total
