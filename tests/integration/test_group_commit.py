"""The SMTP edge's group-commit thread on a real SQLite: a session that goes away mid-commit.

aiosmtpd cancels a session's task when its client disconnects or times out; the task's wait for
its commit is then cancelled too. The commit thread must survive that: the message it was already
committing stays stored (a retry is merged by Message-ID and sha256), one still waiting is not
stored (no 250 was given), and every later message is still committed.
"""

from __future__ import annotations

import sqlite3

import pytest

from pipeline.model.mail import Envelope
from pipeline.steps.services import utcnow
from tests.conftest import mail_fixture
from tests.support.db import scalar
from tests.support.runners import qmark_env, settings_from, wait_until

pytestmark = pytest.mark.integration


def test_a_session_cancelled_while_its_message_waits_for_the_commit_leaves_the_commit_thread_working(
    sqlite_url, redis_url, tmp_path
):
    from pipeline.store.db import open_database
    from workers.roles.group_commit import GroupCommitter

    env = qmark_env(database_url=sqlite_url, redis_url=redis_url, outbound_url=f"maildir:{tmp_path}")
    settings = settings_from(env)
    committed: list[int] = []
    committer = GroupCommitter(open_database(settings.storage), committed.extend)
    envelope = Envelope("dana.chief@acme.test", ("escalations@acme.test",), "test", utcnow(), "smtp")
    raw = mail_fixture("gmail-forward.eml")
    other = mail_fixture("apple-forward.eml")
    third = mail_fixture("thunderbird-forward.eml")
    blocker = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        # Given another writer holds the SQLite write lock, so the commit thread waits mid-commit
        blocker.execute("begin immediate")
        first = committer.submit(raw, envelope)
        wait_until(first.running, what="the commit thread to take it")  # and wait for the lock
        waiting = committer.submit(other, envelope)
        # When both sessions go away (their futures are cancelled), and the lock is released
        assert first.cancel() is False  # already being committed: it cannot be taken back
        assert waiting.cancel() is True
        blocker.execute("rollback")
        # Then the first is stored, the waiting one is not, and the thread still commits mail
        assert isinstance(first.result(timeout=15), int)
        assert isinstance(committer.submit(third, envelope).result(timeout=15), int)
    finally:
        blocker.close()
        committer.close()
    assert scalar(sqlite_url, "select count(*) from messages") == 2
    assert len(committed) == 2
