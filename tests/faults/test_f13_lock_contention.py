"""F13: lock contention — many writers on one store at once, SQLite and PostgreSQL.

Injected by running writers together on one database: two other processes and four threads
of the test process. The first test only inserts; the second runs the real pipeline steps
(store as SMTP intake does, process, send to the real relay sink), each writer storing its
own forwards and then processing every stored message again (a redelivered job).

Invariants: no write fails with "database is locked" or a serialization error, no task is
lost: I1 (each forward stored once), I2 (each reaches its outcome), I3 (one mail per
escalation step, even when processed twice), checked with tests/support/history.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest
from sqlalchemy import text

from pipeline.store.db import Database
from tests.conftest import ROOT, mail_fixture
from tests.support.db import scalar
from tests.support.history import check_history
from tests.support.runners import qmark_env, settings_from

pytestmark = pytest.mark.integration

INSERTER = """
import sys
from sqlalchemy import text
from pipeline.store.db import Database
db = Database(sys.argv[1], durable=False)
for n in range(int(sys.argv[2])):
    with db.transaction() as conn:
        conn.execute(text("insert into escalation_numbers default values"))
"""
PER_WRITER = 8


def test_f13_threads_and_processes_writing_together_all_commit(database_url):
    # Given two other processes and four threads of this one, all writing as fast as they can
    others = [
        subprocess.Popen([sys.executable, "-c", INSERTER, database_url, "150"], stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    db = Database(database_url)
    errors: list[BaseException] = []

    def write() -> None:
        try:
            for _ in range(150):
                with db.transaction() as conn:
                    conn.execute(text("insert into escalation_numbers default values"))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    # Then every write committed, and nobody saw "database is locked"
    outputs = [process.communicate(timeout=120)[1] for process in others]
    assert [p.returncode for p in others] == [0, 0], outputs
    assert errors == []
    assert scalar(database_url, "select count(*) from escalation_numbers") == 6 * 150


def forward(name: str) -> bytes:
    """Dana's billing forward with its own Message-ID ``<name....>``: one new escalation."""
    return mail_fixture("gmail-forward.eml").replace(b"Message-ID: <", f"Message-ID: <{name}.".encode(), 1)


def message_id(raw: bytes) -> str:
    line = next(line for line in raw.splitlines() if line.lower().startswith(b"message-id:"))
    return line.split(b":", 1)[1].strip().decode()


def work(app: object, prefix: str, count: int) -> None:
    """One writer: store, process and send ``count`` forwards, then process every stored message again."""
    from pipeline.model.mail import Envelope
    from pipeline.steps.process import process_message
    from pipeline.steps.send import send_claimed
    from pipeline.steps.services import utcnow
    from workers.roles.group_commit import store_one

    svc, transport = app.services, app.transport()  # type: ignore[attr-defined]
    for n in range(count):
        envelope = Envelope("dana.chief@acme.test", ("escalations@acme.test",), "test", utcnow(), "smtp")
        stored = store_one(svc.db, forward(f"{prefix}-{n}"), envelope)
        send_claimed(svc, transport, process_message(svc, stored))
    with svc.db.transaction() as conn:
        everything = list(conn.execute(text("select id from messages order by id")).scalars())
    for stored in everything:
        send_claimed(svc, transport, process_message(svc, stored))


def main() -> None:
    """A writer process: ``python -c 'from ... import main; main()' PREFIX COUNT`` with QMARK_* set."""
    from pipeline.config.load import load_settings
    from workers.bootstrap import build

    work(build(settings=load_settings(None, env=dict(os.environ))), sys.argv[1], int(sys.argv[2]))


def test_f13_writers_running_the_real_steps_together_lose_no_task(database_url, redis_url, relay_sink):
    from workers.bootstrap import build

    env = qmark_env(
        database_url=database_url, redis_url=redis_url, outbound_url=f"smtp://127.0.0.1:{relay_sink.port}"
    )
    # Given two writer processes and four writer threads on one store, all at once
    code = f"from {__name__} import main; main()"
    others = [
        subprocess.Popen(
            [sys.executable, "-c", code, f"proc{p}", str(PER_WRITER)],
            env={**os.environ, **env},
            cwd=ROOT,
            stderr=subprocess.PIPE,
        )
        for p in range(2)
    ]
    app = build(settings=settings_from(env))
    errors: list[BaseException] = []

    def writer(prefix: str) -> None:
        try:
            work(app, prefix, PER_WRITER)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(f"thread{t}",)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    outputs = [process.communicate(timeout=300)[1].decode()[-2000:] for process in others]
    assert [p.returncode for p in others] == [0, 0], outputs
    assert errors == []
    # Then every forward opened one escalation and both its mails went out exactly once
    prefixes = [f"proc{p}" for p in range(2)] + [f"thread{t}" for t in range(4)]
    answered = [message_id(forward(f"{prefix}-{n}")) for prefix in prefixes for n in range(PER_WRITER)]
    sink = relay_sink.wait_for(2 * len(answered), timeout=60)
    history = check_history(database_url, answered=answered, cut=(), sink=sink, in_flight=())
    assert history.problems == [], json.dumps(history.problems[:10])
    assert (history.escalations, history.forwards, history.acks) == (len(answered),) * 3
    assert scalar(database_url, "select count(*) from messages where state <> 'done'") == 0
