"""The Dovecot fixture, driven with imapclient 4.1 exactly as the IMAP poller drives it."""

from __future__ import annotations

import ssl
import time

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from tests.support.dovecot import PASSWORD, TIMEOUT, DovecotServer, ImapMailbox, appended_uid
from tests.support.proxy import DroppingProxy

pytestmark = pytest.mark.integration

INGESTED = b"$QmarkIngested"


def message(subject: str, body: str = "Hello,\r\n\r\nplease help ?\r\n") -> bytes:
    """A small RFC 5322 message with CRLF line ends and one 8-bit line (UTF-8)."""
    return (
        f"From: Carol <carol@corp.example>\r\nTo: escalate@esc.example\r\nSubject: {subject}\r\n"
        f"Message-ID: <{subject.replace(' ', '-')}@corp.example>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        f"{body}Grüße\r\n"
    ).encode()


def test_each_test_gets_a_fresh_empty_mailbox(dovecot: DovecotServer, imap_mailbox: ImapMailbox) -> None:
    assert imap_mailbox.username not in ("alice", "bob")
    assert imap_mailbox.password == PASSWORD
    assert imap_mailbox.url == f"imap://127.0.0.1:{dovecot.port}"
    assert imap_mailbox.tls_url == f"imaps://127.0.0.1:{dovecot.tls_port}"
    assert imap_mailbox.uids() == []
    assert ImapMailbox.fresh(dovecot).username != imap_mailbox.username

    with imap_mailbox.session() as client:
        assert {b"IDLE", b"MOVE", b"UIDPLUS"} <= set(client.capabilities())
        assert [name for _, _, name in client.list_folders()] == ["INBOX"]


def test_a_wrong_password_is_refused_at_once(imap_mailbox: ImapMailbox) -> None:
    started = time.monotonic()
    with pytest.raises(LoginError):
        imap_mailbox.server.client(imap_mailbox.username, "wrong")
    # ~0.5 s: Dovecot flushes failures on a 500 ms timer; the 2 s delay and the anvil penalty are off.
    assert time.monotonic() - started < 1.5


def test_append_returns_the_uid_and_select_the_uidvalidity(imap_mailbox: ImapMailbox) -> None:
    first = imap_mailbox.append(message("one"))
    second = imap_mailbox.append(message("two"), flags=[b"\\Flagged"])
    assert (first, second) == (1, 2)

    with imap_mailbox.session() as client:
        # imapclient returns the APPEND response text unparsed: the UID is inside [APPENDUID v uid].
        response = client.append("INBOX", message("three"))
        assert response.startswith(b"[APPENDUID ")
        assert appended_uid(response) == 3

        selected = client.select_folder("INBOX")
        assert selected[b"UIDVALIDITY"] == imap_mailbox.uidvalidity() > 0
        assert selected[b"EXISTS"] == 3
        assert selected[b"UIDNEXT"] == 4
        assert client.search(["UID", "1:*"]) == [1, 2, 3]
        assert client.search(["UID", "3:*"]) == [3]
        # RFC 3501: "n:*" always includes the highest UID, even when it is below n.
        assert client.search(["UID", "4:*"]) == [3]

    assert imap_mailbox.flags() == {1: set(), 2: {b"\\Flagged"}, 3: set()}


def test_fetch_returns_the_exact_bytes_and_does_not_set_seen(imap_mailbox: ImapMailbox) -> None:
    raw = message("exact", body="line one\r\n\r\n> quoted ?\r\n\r\n")
    uid = imap_mailbox.append(raw)

    with imap_mailbox.session() as client:
        client.select_folder("INBOX")
        uids = client.search(["UID", "1:*"])
        fetched = client.fetch(uids, ["BODY.PEEK[]", "FLAGS"])
        assert set(fetched) == {uid}
        assert fetched[uid][b"BODY[]"] == raw
        assert b"\\Seen" not in fetched[uid][b"FLAGS"]

    assert imap_mailbox.flags() == {uid: set()}
    assert imap_mailbox.message(uid) == raw


def test_bare_lf_comes_back_as_crlf(imap_mailbox: ImapMailbox) -> None:
    """IMAP is CRLF: Dovecot normalises line ends, so hash what was fetched, not what was sent."""
    uid = imap_mailbox.append(b"Subject: lf\n\nbody\n")
    assert imap_mailbox.message(uid) == b"Subject: lf\r\n\r\nbody\r\n"


def test_a_custom_keyword_persists(imap_mailbox: ImapMailbox) -> None:
    uid = imap_mailbox.append(message("flag me"))

    with imap_mailbox.session() as client:
        selected = client.select_folder("INBOX")
        assert b"\\*" in selected[b"PERMANENTFLAGS"]  # new keywords may be created
        client.add_flags([uid], [INGESTED])

    assert imap_mailbox.flags() == {uid: {INGESTED}}
    with imap_mailbox.session() as client:
        client.select_folder("INBOX", readonly=True)
        assert client.search(["UNKEYWORD", INGESTED.decode()]) == []
        assert client.search(["KEYWORD", INGESTED.decode()]) == [uid]


def test_move_to_another_folder(imap_mailbox: ImapMailbox) -> None:
    imap_mailbox.create_folder("qmark-done")
    keep = imap_mailbox.append(message("stays"))
    moved = imap_mailbox.append(message("goes"))

    with imap_mailbox.session() as client:
        client.select_folder("INBOX")
        client.add_flags([moved], [INGESTED])
        client.move([moved], "qmark-done")  # returns None in imapclient 4.1: no COPYUID mapping
        assert client.search(["ALL"]) == [keep]

    assert imap_mailbox.uids() == [keep]
    assert imap_mailbox.uids("qmark-done") == [1]
    assert imap_mailbox.flags("qmark-done") == {1: {INGESTED}}
    assert imap_mailbox.message(1, "qmark-done") == message("goes")


def test_idle_sees_an_append_from_another_connection(imap_mailbox: ImapMailbox) -> None:
    watcher = imap_mailbox.client()
    try:
        watcher.select_folder("INBOX")
        watcher.idle()
        assert watcher.idle_check(timeout=0.2) == []

        started = time.monotonic()
        uid = imap_mailbox.append(message("pushed"))
        responses: list[tuple[object, ...]] = []
        while time.monotonic() - started < 2 and (1, b"EXISTS") not in responses:
            responses += watcher.idle_check(timeout=0.2)
        assert (1, b"EXISTS") in responses, responses
        assert time.monotonic() - started < 2

        text, _ = watcher.idle_done()
        assert text.startswith(b"Idle completed")
        assert watcher.search(["UID", f"{uid}:*"]) == [uid]
    finally:
        watcher.logout()


def test_imaps_verifies_the_test_certificate(imap_mailbox: ImapMailbox) -> None:
    context = ssl.create_default_context(cafile=str(imap_mailbox.ca_file))
    client = IMAPClient(
        "127.0.0.1", port=imap_mailbox.tls_port, ssl=True, ssl_context=context, timeout=TIMEOUT
    )
    try:
        client.login(imap_mailbox.username, imap_mailbox.password)
        assert client.select_folder("INBOX")[b"EXISTS"] == 0
        assert client.socket().getpeercert()["subjectAltName"] == (
            ("IP Address", "127.0.0.1"),
            ("DNS", "localhost"),
        )
    finally:
        client.logout()

    with pytest.raises(ssl.SSLCertVerificationError):
        IMAPClient(
            "127.0.0.1",
            port=imap_mailbox.tls_port,
            ssl=True,
            ssl_context=ssl.create_default_context(),
            timeout=TIMEOUT,
        )


def test_recreating_a_folder_gives_a_new_uidvalidity(imap_mailbox: ImapMailbox) -> None:
    imap_mailbox.create_folder("Escalations")
    imap_mailbox.append(message("old"), folder="Escalations")
    before = imap_mailbox.uidvalidity("Escalations")

    imap_mailbox.delete_folder("Escalations")
    imap_mailbox.create_folder("Escalations")

    assert imap_mailbox.uidvalidity("Escalations") != before
    assert imap_mailbox.uids("Escalations") == []
    assert imap_mailbox.append(message("new"), folder="Escalations") == 1


def test_a_restart_keeps_mail_uids_and_uidvalidity(dovecot: DovecotServer, imap_mailbox: ImapMailbox) -> None:
    uid = imap_mailbox.append(message("durable"))
    validity = imap_mailbox.uidvalidity()

    dovecot.restart()

    assert imap_mailbox.uidvalidity() == validity
    assert imap_mailbox.uids() == [uid]
    assert imap_mailbox.message(uid) == message("durable")


def test_the_proxy_drops_a_connection_mid_fetch_then_passes_the_next(imap_mailbox: ImapMailbox) -> None:
    raw = message("big", body="x" * 70 + "\r\n")
    uid = imap_mailbox.append(raw)

    with DroppingProxy(imap_mailbox.port) as proxy:
        proxy.drop_after(b"BODY[] {", extra_bytes=20)  # "312}\r\n" and then 14 bytes into the literal
        client = IMAPClient("127.0.0.1", port=proxy.port, ssl=False, timeout=TIMEOUT)
        client.login(imap_mailbox.username, imap_mailbox.password)
        client.select_folder("INBOX")
        with pytest.raises(IMAPClient.AbortError, match="socket error: EOF"):
            client.fetch([uid], ["BODY.PEEK[]", "FLAGS"])
        proxy.wait_for_drop()
        with pytest.raises(IMAPClient.AbortError):  # the client is dead for good: reconnect
            client.noop()
        client.shutdown()

        again = IMAPClient("127.0.0.1", port=proxy.port, ssl=False, timeout=TIMEOUT)
        try:
            again.login(imap_mailbox.username, imap_mailbox.password)
            again.select_folder("INBOX")
            assert again.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"] == raw
        finally:
            again.logout()
        assert (proxy.connections, proxy.drops) == (2, 1)

    assert imap_mailbox.flags() == {uid: set()}  # the lost FETCH set nothing


def test_a_connection_dropped_during_idle_is_silent_until_done(imap_mailbox: ImapMailbox) -> None:
    """imapclient's idle_check swallows EOF and returns []; only idle_done (or the next command) fails."""
    with DroppingProxy(imap_mailbox.port) as proxy:
        proxy.drop_after(b"+ idling\r\n")  # right after the continuation: the client is idling
        client = IMAPClient("127.0.0.1", port=proxy.port, ssl=False, timeout=TIMEOUT)
        client.login(imap_mailbox.username, imap_mailbox.password)
        client.select_folder("INBOX")
        client.idle()
        proxy.wait_for_drop()

        started = time.monotonic()
        assert client.idle_check(timeout=5) == []
        assert time.monotonic() - started < 1  # returns at once, again and again: not a timeout
        assert client.idle_check(timeout=5) == []
        with pytest.raises(IMAPClient.AbortError, match="socket error: EOF"):
            client.idle_done()
        client.shutdown()
