"""`qmark run` with [imap] configured starts the poller: mail APPENDed to it becomes an escalation."""

from __future__ import annotations

import pytest

from tests.conftest import mail_fixture
from tests.support.runners import qmark_env, spawn, stop, wait_until

pytestmark = pytest.mark.e2e


def test_qmark_run_polls_the_mailbox_and_forwards_what_arrives(
    database_url, redis_url, relay_sink, imap_mailbox, tmp_path
):
    env = qmark_env(
        database_url=database_url,
        redis_url=redis_url,
        outbound_url=f"smtp://127.0.0.1:{relay_sink.port}",
        QMARK_WORKER__PROCESSES="1",
        QMARK_IMAP__STARTTLS="false",
        **imap_mailbox.env(),
    )
    process = spawn("run", env, tmp_path / "run.log")
    try:
        imap_mailbox.append(mail_fixture("gmail-forward.eml"))
        received = relay_sink.wait_for(2, timeout=30)
        assert {r.rcpt_tos[0] for r in received} == {"pat.owner@acme.test", "dana.chief@acme.test"}
        wait_until(lambda: all(b"$QmarkIngested" in f for f in imap_mailbox.flags().values()), timeout=10)
    finally:
        _, lines = stop(process, tmp_path / "run.log")
    assert any(line["event"] == "imap_ingested" for line in lines)
    assert not any(imap_mailbox.password in str(line) for line in lines)  # no secrets in the logs
