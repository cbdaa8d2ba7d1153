"""Fault injection for the store's fault tests: a PostgreSQL backend ended, a worker SIGKILLed mid-step."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import replace
from datetime import timedelta
from typing import Any

from sqlalchemy import create_engine, text

from pipeline.model.mail import Envelope
from pipeline.steps.services import Services, utcnow
from tests.conftest import mail_fixture
from tests.support.runners import ROOT, qmark_env, settings_from


def terminate(url: str, pid: int) -> None:
    """End backend ``pid`` from another connection, as a crashed network or a restarted pooler would."""
    admin = create_engine(url)
    try:
        with admin.connect() as connection:
            assert connection.execute(text("select pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    finally:
        admin.dispose()


STALLING_WORKER = """
import os, re, sys, time
from sqlalchemy import event
from pipeline.config.load import load_settings
from pipeline.steps.process import process_message
from pipeline.steps.send import send_claimed
from workers.bootstrap import build

app = build(settings=load_settings(None, env=dict(os.environ)))
stop_at = re.compile(sys.argv[2], re.IGNORECASE | re.DOTALL)

def stall(conn, cursor, statement, parameters, context, executemany):
    if stop_at.search(statement):
        print("writing", flush=True)
        time.sleep(120)

event.listen(app.services.db.engine, "before_cursor_execute", stall)
send_claimed(app.services, app.transport(), process_message(app.services, int(sys.argv[1])))
"""


def kill_worker_at(env: dict[str, str], message_id: int, statement: str) -> None:
    """Run a worker process on stored message ``message_id`` (process, then send what it queued) and
    SIGKILL it as it is about to run the first SQL statement matching the regex ``statement``."""
    worker = subprocess.Popen(
        [sys.executable, "-c", STALLING_WORKER, str(message_id), statement],
        env={**os.environ, **env},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # The worker's log lines come first; "writing" says it stopped at the statement
        line = next((line for line in worker.stdout or () if line == "writing\n"), "")
    finally:
        worker.send_signal(signal.SIGKILL)
        _, errors = worker.communicate(timeout=30)
    assert line == "writing\n", errors[-2000:]
    assert worker.returncode == -signal.SIGKILL


def forward_stored(database_url: str, redis_url: str, relay_port: int) -> tuple[dict[str, str], Any, int]:
    """A qmark instance sending to the relay on ``relay_port`` with Dana's forward stored as SMTP
    intake stores it, not yet processed: (QMARK_* env, the built app, the message id)."""
    from workers.bootstrap import build
    from workers.roles.group_commit import store_one

    env = qmark_env(
        database_url=database_url, redis_url=redis_url, outbound_url=f"smtp://127.0.0.1:{relay_port}"
    )
    app = build(settings=settings_from(env))
    envelope = Envelope("dana.chief@acme.test", ("escalations@acme.test",), "test", utcnow(), "smtp")
    return env, app, store_one(app.services.db, mail_fixture("gmail-forward.eml"), envelope)


def past_the_lease(services: Services) -> Services:
    """``services`` with a clock just past the lease a killed worker held: its rows are free again."""
    return replace(services, clock=lambda: utcnow() + services.lease + timedelta(seconds=1))
