"""How many jobs wait in each Dramatiq queue, read straight from Redis.

Dramatiq's Redis broker (``dramatiq/brokers/redis/dispatch.lua``) keeps, per queue ``q`` in
namespace ``ns``: ``ns:q`` a list of ready message ids, ``ns:q.msgs`` their data (ready and
in progress), ``ns:q.DQ`` / ``ns:q.DQ.msgs`` the delayed ones (retries with back-off; a worker
prefetches them into memory but their data stays in ``.DQ.msgs`` until done) and ``ns:q.XQ``
a sorted set of dead-lettered ids, kept 7 days. Dramatiq's own Prometheus gauge for delayed
messages counts wrongly (issue #672), hence this.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from workers.broker import QUEUES

STATES = ("ready", "delayed", "dead")


def queue_depths(
    redis_client: Any, namespace: str = "qmark", queues: Sequence[str] = QUEUES
) -> dict[str, dict[str, int]]:
    """Per queue: ``ready`` (waiting for a worker), ``delayed`` (waiting for their time) and
    ``dead`` (given up, see ``qmark dead-letters``). One round trip; raises redis errors."""
    pipe = redis_client.pipeline(transaction=False)
    for queue in queues:
        base = f"{namespace}:{queue}"
        pipe.llen(base)
        pipe.hlen(f"{base}.DQ.msgs")
        pipe.zcard(f"{base}.XQ")
    answers = pipe.execute()
    return {
        queue: dict(zip(STATES, (int(n) for n in answers[3 * i : 3 * i + 3]), strict=True))
        for i, queue in enumerate(queues)
    }
