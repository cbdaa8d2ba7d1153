"""The one place qmark's Redis clients are built, from ``[storage] redis_url``.

A plain URL (``redis://``, ``rediss://``, ``unix://``) gives a client for that server; a
``redis+sentinel://`` URL gives a client for whichever server the sentinels name as the
service's master right now: after a failover its next connection goes to the promoted
replica, with no config change. Timeouts are short on purpose: Redis being away must not
stall SMTP accept or a status page.
"""

from __future__ import annotations

from typing import Any

import redis
from redis.sentinel import Sentinel

from pipeline.config.redis_url import parse_redis_url


def redis_client(url: str, *, socket_timeout: float = 2, **options: Any) -> redis.Redis:
    """A client for ``url``; ``options`` go to :class:`redis.Redis` (e.g. ``health_check_interval``)."""
    target = parse_redis_url(url)
    timeouts = {"socket_timeout": socket_timeout, "socket_connect_timeout": 2}
    if not target.uses_sentinel:
        return redis.Redis.from_url(url, **timeouts, **options)
    sentinel = Sentinel(list(target.sentinels), sentinel_kwargs=timeouts, **timeouts)  # type: ignore[no-untyped-call]
    client: redis.Redis = sentinel.master_for(  # type: ignore[no-untyped-call]
        target.service, db=target.db, password=target.password, **options
    )
    return client
