"""structlog set-up: one JSON object per line, context ids bound, secrets and bodies dropped.

Every process calls :func:`configure` once at start-up. Stages bind
``message_id`` (our stored-message id), ``escalation_id`` (``Q-n``) and the
like with :func:`bound`; worker threads are reused, so the Dramatiq middleware
clears the context around each job.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

import structlog

# Keys that must never reach a log line, whatever a caller passes.
_REDACTED_KEYS = frozenset(
    {"password", "secret", "secret_key", "token", "authorization", "raw", "body", "text", "note", "content"}
)


def _redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event):
        if key.lower() in _REDACTED_KEYS:
            event[key] = "[redacted]"
    return event


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time (tests swap it)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _: Any) -> None:
        pass


def configure(level: str = "INFO", stream: Any = None) -> None:
    """Route structlog and stdlib logging (dramatiq, aiosmtpd, alembic) to JSON lines."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.dict_tracebacks,
            structlog.processors.JSONRenderer(),
        ],
    )
    handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # aiosmtpd logs every SMTP line at DEBUG/INFO; keep its warnings only.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)


def get(name: str) -> Any:
    """A structlog logger for module ``name``."""
    return structlog.stdlib.get_logger(name)


@contextmanager
def bound(**ids: object) -> Iterator[None]:
    """Bind ids (message_id, escalation_id, ...) to every log line inside the block."""
    with structlog.contextvars.bound_contextvars(**ids):
        yield
