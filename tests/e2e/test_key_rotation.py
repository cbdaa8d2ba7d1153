"""Rotating [service] secret_keys on a real `qmark run`: old reply addresses verify until their key goes."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pipeline.model.tokens import check_token, token_from_address
from pipeline.outbound.transport import crlf
from tests.conftest import mail_fixture
from tests.support.db import rows, scalar
from tests.support.replies import parsed, reply_address, reply_to
from tests.support.runners import qmark_env, spawn, stop, wait_until
from tests.support.servers import wait_for_port

pytestmark = pytest.mark.e2e

KEY_A = "rotation-test-key-A-0123456789abcdef"
KEY_B = "rotation-test-key-B-fedcba9876543210"
PAT, DANA = "pat.owner@acme.test", "dana.chief@acme.test"
EXPLANATION = (
    "The second charge came from a retry in the payment gateway after a timeout on 23 November. "
    "We refunded it this morning and are adding an idempotency key to every capture."
)


@pytest.fixture
def base_env(sqlite_url, redis_url, relay_sink):
    env = qmark_env(
        database_url=sqlite_url,
        redis_url=redis_url,
        outbound_url=f"smtp://127.0.0.1:{relay_sink.port}",
        QMARK_WORKER__PROCESSES="1",
        QMARK_SMTP__PROCESSES="1",
    )
    del env["QMARK_SERVICE__SECRET_KEY"]
    return env


@contextmanager
def running(env: dict[str, str], log_path: Path) -> Iterator[int]:
    """`qmark run` with ``env`` until the block ends (clean SIGTERM); yields its SMTP port."""
    port = int(env["QMARK_SMTP__LISTEN"].rsplit(":", 1)[1])
    process = spawn("run", env, log_path)
    try:
        wait_for_port(port, timeout=30)
        yield port
    finally:
        stop(process, log_path)


def send(port: int, raw: bytes, *, mail_from: str, rcpt: str) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.sendmail(mail_from, [rcpt], crlf(raw))


def signed_with(key: str, mail: bytes, recipient: str) -> bool:
    """Whether ``mail``'s reply address carries a token ``key`` issued to ``recipient``."""
    token = token_from_address(reply_address(mail), local="escalations", domain="acme.test")
    return token is not None and check_token(key.encode(), token, recipient).recipient_ok


def last_outcome(url: str, count: int) -> tuple[str, str]:
    """The outcome of the ``count``-th stored message, once processed."""
    wait_until(
        lambda: scalar(url, "select count(*) from messages where outcome is not null") >= count,
        timeout=30,
        what=f"message {count} processed",
    )
    [(outcome, reason)] = rows(url, "select outcome, reason from messages order by id desc limit 1")
    return outcome, reason


def test_reply_addresses_signed_with_a_rotated_out_key_verify_until_it_is_removed(
    base_env, sqlite_url, relay_sink, tmp_path
):
    log_path = tmp_path / "run.log"
    # Q-1 opened under key A alone (the single secret_key, as before rotation).
    with running({**base_env, "QMARK_SERVICE__SECRET_KEY": KEY_A}, log_path) as port:
        send(port, mail_fixture("gmail-forward.eml"), mail_from=DANA, rcpt="escalations@acme.test")
        by_rcpt = {r.rcpt_tos[0]: r.data for r in relay_sink.wait_for(2, timeout=30)}
    forward = by_rcpt[PAT]
    assert signed_with(KEY_A, forward, PAT)
    old_address = reply_address(forward)

    # Rotated: B signs, A still verifies. Pat answers the address signed with A.
    with running({**base_env, "QMARK_SERVICE__SECRET_KEYS": f'["{KEY_B}", "{KEY_A}"]'}, log_path) as port:
        send(
            port,
            reply_to(forward, sender=PAT, name="Pat Owner", text=EXPLANATION),
            mail_from=PAT,
            rcpt=old_address,
        )
        assert last_outcome(sqlite_url, 2)[0] == "reply"
        [to_dana] = [r.data for r in relay_sink.wait_for(3, timeout=30)[2:]]
    assert parsed(to_dana)["To"] and DANA in str(parsed(to_dana)["To"])
    assert signed_with(KEY_B, to_dana, DANA) and not signed_with(KEY_A, to_dana, DANA)
    assert scalar(sqlite_url, "select state from escalations where id = 1") != "awaiting_explanation"

    # A removed: the old address is a forgery now, quarantined as any bad token is.
    with running({**base_env, "QMARK_SERVICE__SECRET_KEYS": f'["{KEY_B}"]'}, log_path) as port:
        again = reply_to(forward, sender=PAT, name="Pat Owner", text="One more detail on the refund.")
        send(port, again, mail_from=PAT, rcpt=old_address)
        outcome, reason = last_outcome(sqlite_url, 3)
    assert outcome == "quarantined" and "not genuine" in reason
    assert len(relay_sink.messages) == 3
    log = log_path.read_text()
    assert KEY_A not in log and KEY_B not in log
