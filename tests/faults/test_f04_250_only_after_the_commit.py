"""F4: a 250 before the message is durable.

Observed, not injected: the real ``qmark smtp`` wiring runs against the real store while an
observer sits on the edge's reply writer (``CountingSMTP.push``, the last step before the bytes
go to the socket). At each ``250 ... stored as message N`` it reads message N through a
connection of its own: a row it can see is committed. Forty-eight senders at once, so group
commit batches them. Asserts I1 for every message: the commit (exact bytes and envelope)
precedes the 250. And the commit is durable: the edge's SQLite connections run in WAL mode with
``synchronous=FULL`` (README "SQLite durability"), PostgreSQL's with ``synchronous_commit=on``.
The envelope and the doorbell are checked in tests/integration/test_smtp_ingest.py.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import create_engine, text

from pipeline.outbound.transport import crlf
from tests.conftest import mail_fixture
from tests.support.faults_intake import deliver, intake_app
from tests.support.runners import smtp_in_thread

pytestmark = pytest.mark.integration

COUNT = 48
STORED = re.compile(r"250 2\.0\.0 OK stored as message (\d+)")


def test_f4_every_250_is_written_after_the_commit_of_its_exact_bytes(
    database_url, redis_url, tmp_path, monkeypatch
):
    from workers.roles import smtp

    app = intake_app(database_url, redis_url, f"maildir:{tmp_path}/sent")
    template = crlf(mail_fixture("outlook-forward.eml"))
    mails = [template.replace(b"Message-ID: <", f"Message-ID: <f4.{n}.".encode(), 1) for n in range(COUNT)]
    reader = create_engine(database_url)
    seen: dict[int, bytes | None] = {}  # message id -> the committed bytes, read as its 250 goes out
    real_push = smtp.CountingSMTP.push

    async def observed_push(self, status):
        match = STORED.match(status) if isinstance(status, str) else None
        if match:
            number = int(match.group(1))
            with reader.connect() as connection:
                seen[number] = connection.execute(
                    text("select raw from messages where id = :id"), {"id": number}
                ).scalar()
        await real_push(self, status)

    monkeypatch.setattr(smtp.CountingSMTP, "push", observed_push)
    try:
        with smtp_in_thread(app), ThreadPoolExecutor(max_workers=8) as senders:
            answers = list(senders.map(lambda raw: deliver(app, raw)[0], mails))
    finally:
        reader.dispose()
    assert answers == [250] * COUNT
    # Then at each 250 its message was already committed, byte for byte
    assert len(seen) == COUNT
    assert sorted(raw for raw in seen.values() if raw is not None) == sorted(mails)


def test_f4_the_edge_commits_durably_on_each_store(database_url, redis_url, tmp_path, monkeypatch):
    from workers.roles import smtp

    opened = []
    real_open = smtp.open_database

    def recording_open(storage, **options):
        opened.append(real_open(storage, **options))
        return opened[-1]

    monkeypatch.setattr(smtp, "open_database", recording_open)
    app = intake_app(database_url, redis_url, f"maildir:{tmp_path}/sent")
    with smtp_in_thread(app):
        assert deliver(app, crlf(mail_fixture("gmail-forward.eml")))[0] == 250
        [db] = opened  # the group committer's database: every 250 waits for its commit
        with db.engine.connect() as connection:
            if db.engine.dialect.name == "sqlite":
                settings = [
                    connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                    for name in ("journal_mode", "synchronous")
                ]
                assert settings == ["wal", 2]  # 2 = FULL: the WAL is synced at every commit
            else:
                assert connection.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"
