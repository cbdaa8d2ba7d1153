"""Fault injection for the store's fault tests: a PostgreSQL backend ended, a worker SIGKILLed mid-step."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from sqlalchemy import create_engine, text

from tests.support.runners import ROOT


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
