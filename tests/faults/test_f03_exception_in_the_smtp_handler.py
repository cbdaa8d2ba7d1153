"""F3: an exception inside the SMTP edge's handler, before or after the raw commit.

Injected with small fake components in the wiring of ``qmark smtp`` (``workers.roles.smtp``
builds a group committer and a doorbell; the test swaps in a committer that raises at submit,
before anything is stored, or a doorbell that raises when rung right after the commit) while the
real database, Redis and aiosmtpd run. Asserts I6 and I1: raised before the commit the sender
gets ``451 4.3.0`` (never aiosmtpd's default ``500 Error``) and its retry is stored once; raised
after the commit every message still gets its 250 and is stored once, and the edge keeps
accepting. Parsing and classifying never run in the SMTP handler (they are the worker's job);
a classifier that keeps raising is tests/integration/test_pipeline.py's dead-letter test.
"""

from __future__ import annotations

import smtplib
import sqlite3
import time

import pytest
from sqlalchemy.engine import make_url

from pipeline.outbound.transport import crlf
from tests.conftest import mail_fixture
from tests.support.db import rows
from tests.support.faults_intake import INTAKE, SENDER, deliver, intake_app
from tests.support.runners import smtp_in_thread

pytestmark = pytest.mark.integration


@pytest.fixture
def app(database_url, redis_url, tmp_path):
    return intake_app(database_url, redis_url, f"maildir:{tmp_path}/sent")


def forwards(count: int) -> list[bytes]:
    template = crlf(mail_fixture("gmail-forward.eml"))
    return [template.replace(b"Message-ID: <", f"Message-ID: <f3.{n}.".encode(), 1) for n in range(count)]


def test_f3_an_exception_before_the_commit_answers_451_never_500_and_the_retry_is_stored_once(
    app, database_url, monkeypatch
):
    from workers.roles import group_commit, smtp

    class FailsOnce(group_commit.GroupCommitter):
        """The real committer, except that its first submit raises (a bug before anything is stored)."""

        failed = False

        def submit(self, raw, envelope):
            if not FailsOnce.failed:
                FailsOnce.failed = True
                raise RuntimeError("injected fault before the commit")
            return super().submit(raw, envelope)

    monkeypatch.setattr(smtp, "GroupCommitter", FailsOnce)
    [raw] = forwards(1)
    with smtp_in_thread(app):
        # When the handler raises before the commit, Then the sender is told to retry later
        code, message = deliver(app, raw)
        assert (code, message[:5]) == (451, "4.3.0"), (code, message)
        assert rows(database_url, "select raw from messages") == []
        # And the retry is stored once, byte for byte
        assert deliver(app, raw)[0] == 250
    assert [stored for (stored,) in rows(database_url, "select raw from messages")] == [raw]


def test_f3_an_exception_after_the_commit_still_answers_250_and_the_edge_keeps_accepting(
    app, database_url, monkeypatch
):
    from workers.roles import group_commit, smtp

    class BrokenDoorbell(group_commit.Doorbell):
        """Raises when rung, that is right after each commit, in the committer's thread."""

        def ring(self, ids):
            raise RuntimeError("injected fault after the commit")

    monkeypatch.setattr(smtp, "Doorbell", BrokenDoorbell)
    mails = forwards(3)
    with smtp_in_thread(app):
        # When every commit is followed by an exception, Then each message still gets its 250
        answers = [deliver(app, raw, timeout=20)[0] for raw in mails]
    assert answers == [250, 250, 250]
    # And each is stored once, byte for byte (the sweeper enqueues them later)
    assert [stored for (stored,) in rows(database_url, "select raw from messages order by id")] == mails


def test_f3_a_sender_gone_while_its_commit_waits_does_not_stop_the_edge(sqlite_url, redis_url, tmp_path):
    app = intake_app(sqlite_url, redis_url, f"maildir:{tmp_path}/sent")
    first, second = forwards(2)
    # Given another writer holds SQLite's lock, so the next commit waits
    holder = sqlite3.connect(make_url(sqlite_url).database, isolation_level=None, check_same_thread=False)
    with smtp_in_thread(app):
        holder.execute("BEGIN EXCLUSIVE")
        try:
            # When a sender ends DATA and hangs up before the answer (aiosmtpd cancels its handler)
            host, port = app.settings.smtp.host_port
            client = smtplib.SMTP(host, port, timeout=10)
            client.ehlo()
            client.mail(SENDER)
            client.rcpt(INTAKE)
            assert client.docmd("DATA")[0] == 354
            client.send(first + b".\r\n")
            client.close()
            time.sleep(1)  # the server notices the hang-up while the commit still waits
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        # Then the edge goes on: the next sender gets its 250
        assert deliver(app, second, timeout=30)[0] == 250
    stored = [raw for (raw,) in rows(sqlite_url, "select raw from messages order by id")]
    assert stored.count(second) == 1 and stored.count(first) <= 1
