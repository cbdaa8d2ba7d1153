"""IMAP intake against a real Dovecot: nothing missed, nothing duplicated, nothing blocked.

Each test has a mailbox of its own (an unused Dovecot user: empty INBOX, new UIDVALIDITY),
a real SQLite database and a real Redis. Rounds are driven by hand with ``Poller.poll_once``
where the test needs a precise moment, and by the poller's own loop (threads, or ``qmark
imap`` as a subprocess) where it needs the real thing. The crash, UIDVALIDITY and dropped-connection
cases are in the fault suite (tests/faults/test_f05…, test_f06…, test_f07…).
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from pipeline.steps.services import utcnow
from tests.conftest import mail_fixture
from tests.support.db import rows, scalar
from tests.support.faults_queue import billing, build, imap_env, poller, process_all, round_
from tests.support.runners import wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def env(database_url, redis_url, imap_mailbox, tmp_path):
    return imap_env(database_url, redis_url, imap_mailbox, tmp_path)


def test_an_appended_forward_becomes_an_escalation_and_is_flagged(env, imap_mailbox, database_url):
    app = build(env)
    uid = imap_mailbox.append(mail_fixture("gmail-forward.eml"))
    assert round_(poller(app)) == 1
    assert process_all(app) == ["escalation"]
    [(channel, raw)] = rows(database_url, "select channel, raw from messages")
    assert channel == "imap" and raw == imap_mailbox.message(uid)  # byte for byte, as the server holds it
    assert b"$QmarkIngested" in imap_mailbox.flags()[uid]
    assert b"\\Seen" not in imap_mailbox.flags()[uid]  # BODY.PEEK[]: reading does not mark it read


def test_mail_another_client_already_read_is_still_ingested(env, imap_mailbox, database_url):
    app = build(env)
    imap_mailbox.append(billing(1), flags=[b"\\Seen"])
    imap_mailbox.append(billing(2))
    assert round_(poller(app)) == 2
    assert process_all(app) == ["escalation", "escalation"]


def test_two_pollers_on_one_mailbox_ingest_each_message_once_and_one_takes_over(
    env, imap_mailbox, database_url
):
    app = build(env)
    pollers = [poller(app, lease=timedelta(seconds=2)) for _ in range(2)]
    stops = [threading.Event(), threading.Event()]
    threads = [threading.Thread(target=p.run, args=(s,)) for p, s in zip(pollers, stops, strict=True)]
    for thread in threads:
        thread.start()
    try:
        for n in range(15):
            imap_mailbox.append(billing(n))
        wait_until(lambda: scalar(database_url, "select count(*) from messages") == 15, timeout=30)
        [(holder,)] = rows(database_url, "select holder from imap_mailboxes")
        leader = next(i for i, p in enumerate(pollers) if p.holder == holder)
        # The leader stops; the other takes over and ingests what comes next
        stops[leader].set()
        threads[leader].join(30)
        for n in range(15, 20):
            imap_mailbox.append(billing(n))
        wait_until(lambda: scalar(database_url, "select count(*) from messages") == 20, timeout=30)
        assert scalar(database_url, "select holder from imap_mailboxes") == pollers[1 - leader].holder
    finally:
        for s in stops:
            s.set()
        for thread in threads:
            thread.join(30)
    ids = [r[0] for r in rows(database_url, "select header_message_id from messages")]
    assert len(ids) == 20 == len(set(ids))


def test_a_malformed_message_is_quarantined_and_the_next_one_still_arrives(env, imap_mailbox, database_url):
    app = build(env)
    broken = b"From: dana.chief@acme.test\r\nContent-Type: multipart/mixed\r\n\r\n" + b"\x00" * 64 + b"\r\n"
    broken = b"Message-ID: <broken@x>\r\n" + b"X-Deep: " + b"a" * 200_000 + b"\r\n" + broken
    imap_mailbox.append(broken)
    imap_mailbox.append(billing(1))
    assert round_(poller(app)) == 2
    outcomes = process_all(app)
    assert outcomes == ["quarantined", "escalation"]


def test_the_same_mail_by_smtp_and_by_imap_becomes_one_escalation(env, imap_mailbox, database_url):
    from pipeline.model.mail import Envelope
    from pipeline.outbound.transport import crlf
    from workers.roles.group_commit import store_one

    app = build(env)
    raw = crlf(mail_fixture("gmail-forward.eml"))  # as SMTP carries it, and as the IMAP server stores it
    envelope = Envelope("dana.chief@acme.test", ("escalations@acme.test",), "test", utcnow(), "smtp")
    store_one(app.services.db, raw, envelope)
    # The mailbox copy went through another MTA: other bytes, same Message-ID and sender
    imap_mailbox.append(b"Delivered-To: escalations@acme.test\r\n" + raw)
    # And an identical copy in the mailbox is not stored a second time at all
    imap_mailbox.append(raw)
    assert round_(poller(app)) == 1
    assert sorted(process_all(app)) == ["duplicate", "escalation"]
    assert scalar(database_url, "select count(*) from escalations") == 1


def test_imaps_verifies_the_server_certificate(env, imap_mailbox, database_url):
    trusted = build(
        env.copy(), QMARK_IMAP__URL=imap_mailbox.tls_url, QMARK_IMAP__CA_FILE=str(imap_mailbox.ca_file)
    )
    imap_mailbox.append(billing(1))
    assert round_(poller(trusted)) == 1
    untrusted = build(env.copy(), QMARK_IMAP__URL=imap_mailbox.tls_url)
    import ssl

    with pytest.raises(ssl.SSLCertVerificationError):
        round_(poller(untrusted))


def test_starttls_upgrades_a_plain_connection_with_certificate_checks(env, imap_mailbox, database_url):
    app = build(env.copy(), QMARK_IMAP__STARTTLS="true", QMARK_IMAP__CA_FILE=str(imap_mailbox.ca_file))
    imap_mailbox.append(billing(1))
    assert round_(poller(app)) == 1


def test_done_folder_receives_ingested_mail_and_progress_is_recorded_for_ops(env, imap_mailbox, database_url):
    imap_mailbox.create_folder("Done")
    app = build(env.copy(), QMARK_IMAP__DONE_FOLDER="Done")
    imap_mailbox.append(billing(1))
    imap_mailbox.append(billing(2))
    assert round_(poller(app)) == 2
    assert imap_mailbox.uids() == [] and len(imap_mailbox.uids("Done")) == 2
    [(last_uid, ingested, polled, error)] = rows(
        database_url, "select last_uid, ingested, last_poll_at, last_error from imap_mailboxes"
    )
    assert (last_uid, ingested, error) == (2, 2, None) and polled is not None


def test_qmark_status_reports_each_folders_lag_and_last_error(env, imap_mailbox, database_url, capsys):
    import json

    from workers.cli import status

    app = build(env)
    imap_mailbox.append(billing(1))
    round_(poller(app))
    capsys.readouterr()  # the log lines so far
    assert status.status(app.settings, as_json=True) == 2  # failing: no worker or scheduler runs here
    [box] = json.loads(capsys.readouterr().out)["imap"]
    assert box["mailbox"].endswith(f"/{imap_mailbox.username}/INBOX") and box["ingested"] == 1
    assert 0 <= box["lag_seconds"] < 30 and box["last_error"] is None
    # A poller that cannot log in records why, and the lag keeps growing
    broken = build(env.copy(), QMARK_IMAP__PASSWORD="wrong")
    stopping = threading.Event()
    failing = poller(broken)
    thread = threading.Thread(target=failing.run, args=(stopping,))
    thread.start()
    try:
        wait_until(lambda: scalar(database_url, "select last_error from imap_mailboxes"), timeout=20)
    finally:
        stopping.set()
        thread.join(30)
    capsys.readouterr()
    status.status(app.settings, as_json=False)
    assert "last error" in capsys.readouterr().out


def test_without_idle_the_poller_polls_every_poll_interval(env, imap_mailbox, database_url):
    from workers.roles.imap import Poller

    class NoIdle(Poller):
        """A server that does not offer IDLE, as some still do not."""

        def uses_idle(self, client):
            return False

    app = build(env.copy(), QMARK_IMAP__POLL_INTERVAL="300ms")
    stopping = threading.Event()
    thread = threading.Thread(target=NoIdle(app).run, args=(stopping,))
    thread.start()
    try:
        for n in range(3):
            imap_mailbox.append(billing(n))
            wait_until(lambda n=n: scalar(database_url, "select count(*) from messages") == n + 1, timeout=10)
    finally:
        stopping.set()
        thread.join(30)
    [(last_uid, ingested)] = rows(database_url, "select last_uid, ingested from imap_mailboxes")
    assert (last_uid, ingested) == (3, 3)
