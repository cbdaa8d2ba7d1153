"""Shared by the intake faults (F1-F4, F10): a qmark app on a real store, and a sender that keeps the reply.

:func:`intake_app` builds the wiring of ``qmark smtp`` (and of a worker and scheduler, if a test
runs them) on ``database_url`` and Redis, sending to ``outbound_url``. :func:`deliver` sends one
message like a sending MTA and returns the SMTP code and text of the end of DATA, whatever it was,
so a test can assert "451, never 250 or 5xx" without catching exceptions itself.
"""

from __future__ import annotations

import smtplib
from typing import Any

from pipeline.outbound.transport import crlf
from tests.support.runners import qmark_env, settings_from

SENDER = "dana.chief@acme.test"
INTAKE = "escalations@acme.test"


def intake_app(database_url: str, redis_url: str, outbound_url: str, **extra: str) -> Any:
    """The application object of one qmark process (``workers.bootstrap.build``) on these servers."""
    from workers.bootstrap import build

    env = qmark_env(database_url=database_url, redis_url=redis_url, outbound_url=outbound_url, **extra)
    return build(settings=settings_from(env))


def deliver(app: Any, raw: bytes, *, timeout: float = 60) -> tuple[int, str]:
    """Send ``raw`` to the app's SMTP port; the (code, text) of the reply to the end of DATA."""
    host, port = app.settings.smtp.host_port
    with smtplib.SMTP(host, port, timeout=timeout) as client:
        try:
            client.sendmail(SENDER, [INTAKE], crlf(raw))
        except smtplib.SMTPDataError as refused:
            return refused.smtp_code, refused.smtp_error.decode(errors="replace")
        return 250, "OK"
