"""The one place the Dramatiq broker and its middleware are built."""

from __future__ import annotations

from typing import Any

import dramatiq
import structlog
from dramatiq.broker import MessageProxy
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import Middleware

from workers.redis_client import redis_client

QUEUES = ("process", "send", "chase")


class LogContext(Middleware):
    """Bind the job's ids to every log line it writes; worker threads are reused, so clear after."""

    def before_process_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(
            job_id=message.message_id,
            actor=message.actor_name,
            retries=message.options.get("retries", 0),
        )

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        structlog.contextvars.clear_contextvars()

    def after_skip_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        structlog.contextvars.clear_contextvars()


def build_broker(redis_url: str, *, namespace: str = "qmark") -> RedisBroker:
    """A Redis broker (plain or via Sentinel), short socket timeouts: Redis down must not stall SMTP."""
    client = redis_client(redis_url, socket_timeout=5, health_check_interval=30)
    broker = RedisBroker(client=client, namespace=namespace, heartbeat_timeout=15000)  # type: ignore[no-untyped-call]
    broker.add_middleware(LogContext())
    dramatiq.set_broker(broker)
    return broker
