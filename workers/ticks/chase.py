"""The scheduler's timer pass: claim escalations whose next chase slot is due and enqueue their jobs.

Deadlines live in the database (``chase_at``), never in the broker's delay. A
claim is a lease: if the job is lost (Redis wiped, worker killed) the lease runs
out and a later tick claims the escalation again, so this pass is also the
timers' sweeper.
"""

from __future__ import annotations

import functools

from pipeline import log
from pipeline.steps.services import Services
from pipeline.store import chases
from workers.graph import Graph, ring

logger = log.get(__name__)

BATCH = 500


def tick(services: Services, graph: Graph) -> int:
    """Claim every due escalation (in batches) and enqueue its chase job; returns how many."""
    total = 0
    while True:
        with services.db.transaction() as conn:
            numbers = chases.claim_due(conn, now=services.clock(), lease=services.lease, limit=BATCH)
        ring(functools.partial(graph.enqueue_chase, numbers), what="chase", ids=numbers)
        total += len(numbers)
        if len(numbers) < BATCH:
            break
    if total:
        logger.info("chase_due", escalations=total)
    return total
