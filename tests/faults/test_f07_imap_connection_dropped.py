"""F7: the IMAP connection drops in the middle of a FETCH literal (and the server says BYE).

Injected with a TCP proxy (tests/support/proxy.py) between the poller and a real Dovecot that
cuts the first connection 200 bytes into the ``BODY[] {n}`` literal, or answers an untagged
``* BYE`` in place of that FETCH reply and hangs up; the poller's own loop runs in a thread and
must reconnect.

Asserts I1 for IMAP intake: no partial message is stored, the fetch is retried on a new
connection, and the message is stored exactly once, byte for byte.
"""

from __future__ import annotations

import threading

import pytest

from tests.support.db import rows, scalar
from tests.support.faults_queue import billing, build, imap_env
from tests.support.proxy import DroppingProxy
from tests.support.runners import wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def env(database_url, redis_url, imap_mailbox, tmp_path):
    return imap_env(database_url, redis_url, imap_mailbox, tmp_path)


def poll_through(proxy: DroppingProxy, env, imap_mailbox, database_url) -> None:
    """Append one forward, run the poller's own loop through ``proxy`` until it is stored and
    flagged; then the proxy must have cut one connection and the poller made another, and the
    stored bytes are the whole message, never a cut-off part."""
    from workers.roles import imap as imap_poller

    app = build(env.copy(), QMARK_IMAP__URL=f"imap://127.0.0.1:{proxy.port}")
    uid = imap_mailbox.append(billing(1))
    stopping = threading.Event()
    thread = threading.Thread(target=imap_poller.serve, args=(app,), kwargs={"stop": stopping})
    thread.start()
    try:
        wait_until(lambda: scalar(database_url, "select count(*) from messages") == 1, timeout=30)
        wait_until(lambda: b"$QmarkIngested" in imap_mailbox.flags()[uid], timeout=10, what="the flag")
    finally:
        stopping.set()
        thread.join(30)
    assert proxy.drops == 1 and proxy.connections >= 2
    [(raw,)] = rows(database_url, "select raw from messages")
    assert raw == imap_mailbox.message(uid)


def test_f7_a_connection_dropped_mid_fetch_is_retried_and_the_message_arrives_once(
    env, imap_mailbox, database_url
):
    with DroppingProxy(imap_mailbox.port) as proxy:
        # Given the connection dies 200 bytes into the message's literal
        proxy.drop_after(b"BODY[] {", extra_bytes=200)
        # When the poller runs, Then it reconnects and the message is stored once, whole
        poll_through(proxy, env, imap_mailbox, database_url)


def test_f7_a_server_bye_in_place_of_the_fetch_reply_is_retried_and_the_message_arrives_once(
    env, imap_mailbox, database_url
):
    with DroppingProxy(imap_mailbox.port) as proxy:
        # Given the server says BYE and hangs up where the message's FETCH reply would begin
        proxy.bye_before(b"BODY[] {")
        # When the poller runs, Then it reconnects and the message is stored once, whole
        poll_through(proxy, env, imap_mailbox, database_url)
