"""F5: the IMAP poller is killed after FETCH, before or after its commit, before the flag.

Injected three ways against a real Dovecot and a real database: a ``Crash`` raised inside the
poller after the FETCH and before the store transaction; a ``Crash`` raised right after the
commit and before the ``$QmarkIngested`` flag (the ``after_commit`` hook); and ``kill -9`` of a
``qmark imap`` process while 40 messages arrive, then a second process taking over.

Asserts I1 for IMAP intake: every message in the folder is stored exactly once (by
Message-ID, byte for byte), it is never flagged (or moved) before its commit, and the
restarted poller finishes the flagging; processing then opens one escalation per message.
"""

from __future__ import annotations

import signal
import time
from datetime import timedelta

import pytest

from tests.support.db import rows, scalar
from tests.support.faults_queue import Crash, billing, build, imap_env, poller, process_all, round_
from tests.support.runners import spawn, stop, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def env(database_url, redis_url, imap_mailbox, tmp_path):
    return imap_env(database_url, redis_url, imap_mailbox, tmp_path)


def test_f5_a_crash_after_fetch_before_the_commit_stores_and_flags_nothing_and_the_next_round_takes_all(
    env, imap_mailbox, database_url
):
    from workers.roles.imap import Poller

    class DiesBeforeCommit(Poller):
        """The bodies were fetched; the process dies before the store transaction begins."""

        def _store(self, *args, **kwargs):
            raise Crash

    app = build(env)
    uids = [imap_mailbox.append(billing(n)) for n in range(3)]
    dying = DiesBeforeCommit(app, lease=timedelta(seconds=1))
    # Given the poller fetched the three bodies, When it dies before its commit
    with pytest.raises(Crash):
        round_(dying)
    # Then nothing is stored and nothing is flagged: the server still offers all three
    assert scalar(database_url, "select count(*) from messages") == 0
    assert not any(imap_mailbox.flags()[uid] for uid in uids)
    # And the restarted poller (once the dead one's lease ran out) stores each once, then flags it
    time.sleep(1.1)
    assert round_(poller(app)) == 3
    assert all(b"$QmarkIngested" in imap_mailbox.flags()[uid] for uid in uids)
    assert process_all(app) == ["escalation"] * 3
    assert scalar(database_url, "select count(*) from escalations") == 3


def test_f5_a_crash_between_commit_and_flag_duplicates_nothing_and_the_flag_follows_later(
    env, imap_mailbox, database_url
):
    app = build(env)
    uids = [imap_mailbox.append(billing(n)) for n in range(3)]

    def die(ids):
        raise Crash

    with pytest.raises(Crash):
        round_(poller(app, after_commit=die, lease=timedelta(seconds=1)))
    assert scalar(database_url, "select count(*) from messages") == 3  # committed
    assert not any(b"$QmarkIngested" in imap_mailbox.flags()[uid] for uid in uids)  # never flagged
    # A new poller (the restarted process, once the dead one's lease ran out) stores nothing
    # again and finishes the flagging
    time.sleep(1.1)
    assert round_(poller(app)) == 0
    assert scalar(database_url, "select count(*) from messages") == 3
    assert all(b"$QmarkIngested" in imap_mailbox.flags()[uid] for uid in uids)


def test_f5_sigkill_of_qmark_imap_while_mail_arrives_loses_nothing_and_stores_nothing_twice(
    env, imap_mailbox, database_url, tmp_path
):
    log = tmp_path / "imap.log"
    env = {**env, "QMARK_IMAP__LEASE": "3s"}
    first = spawn("imap", env, log)
    try:
        for n in range(40):
            imap_mailbox.append(billing(n))
            if n == 20:
                wait_until(lambda: scalar(database_url, "select count(*) from messages") > 0, timeout=20)
                first.send_signal(signal.SIGKILL)
                first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    second = spawn("imap", env, log)  # takes over once the dead poller's lease has run out
    try:
        wait_until(
            lambda: scalar(database_url, "select count(*) from messages") == 40, timeout=90, what="40 stored"
        )
        time.sleep(1)
    finally:
        stop(second, log)
    ids = [r[0] for r in rows(database_url, "select header_message_id from messages")]
    assert len(ids) == 40 == len(set(ids))
    assert all(b"$QmarkIngested" in flags for flags in imap_mailbox.flags().values())
