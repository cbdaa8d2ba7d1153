"""`qmark run` as a real process tree: SMTP in, owner's forward out, clean SIGTERM.

A worker SIGKILLed mid-job is fault F8 (tests/faults/test_f08_worker_killed_mid_job.py).
"""

from __future__ import annotations

import email
import email.policy
import json
import signal
import smtplib
import subprocess

import pytest

from pipeline.outbound.transport import crlf
from tests.conftest import ROOT, mail_fixture
from tests.support.runners import qmark_command, qmark_env, spawn, stop, wait_until
from tests.support.servers import wait_for_port

pytestmark = pytest.mark.e2e


def send(port: int, raw: bytes, mail_from: str = "dana.chief@acme.test") -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.sendmail(mail_from, ["escalations@acme.test"], crlf(raw))


def test_qmark_run_turns_a_forward_into_the_owners_forward_and_stops_cleanly(run_env, relay_sink, tmp_path):
    smtp_port = int(run_env["QMARK_SMTP__LISTEN"].rsplit(":", 1)[1])
    process = spawn("run", run_env, tmp_path / "run.log")
    try:
        wait_for_port(smtp_port, timeout=30)
        send(smtp_port, mail_fixture("gmail-forward.eml"))
        received = relay_sink.wait_for(2, timeout=20)
        forward = next(
            email.message_from_bytes(r.data, policy=email.policy.default)
            for r in received
            if r.rcpt_tos == ("pat.owner@acme.test",)
        )
        assert forward["X-Qmark-Escalation"] == "Q-1"
        assert "Deadline" in forward.get_body(("plain",)).get_content()

        listing = qmark_command(run_env, "escalations", "list", "--json")
        assert listing.returncode == 0, listing.stderr
        [item] = json.loads(listing.stdout)
        assert item["id"] == "Q-1" and item["owner"] == "pat.owner@acme.test"
        assert item["state"] == "awaiting_explanation"
        shown = json.loads(qmark_command(run_env, "escalations", "show", "Q-1", "--json").stdout)
        assert shown["events"][0]["kind"] == "opened"
    finally:
        log, lines = stop(process, tmp_path / "run.log")
    assert any(line["event"] == "escalation_opened" and line.get("escalation_id") == "Q-1" for line in lines)
    assert not any("Your product" in line or "charged twice" in line for line in log.splitlines())


def test_the_readme_one_liner_lands_the_owners_forward_in_the_maildir(database_url, redis_url, tmp_path):
    maildir = tmp_path / "sent"
    env = qmark_env(
        database_url=database_url,
        redis_url=redis_url,
        outbound_url=f"maildir:{maildir}",
        QMARK_WORKER__PROCESSES="1",
    )
    smtp_port = int(env["QMARK_SMTP__LISTEN"].rsplit(":", 1)[1])
    process = spawn("run", env, tmp_path / "run.log")
    try:
        wait_for_port(smtp_port, timeout=30)
        sample = ROOT / "rules" / "examples" / "acme" / "sample-escalation.eml"
        subprocess.run(
            [
                "curl",
                "-sS",
                f"smtp://127.0.0.1:{smtp_port}",
                "--mail-from",
                "dana.chief@acme.test",
                "--mail-rcpt",
                "escalations@acme.test",
                "--upload-file",
                str(sample),
            ],
            check=True,
            timeout=30,
        )
        files = wait_until(
            lambda: list((maildir / "new").glob("*")) if (maildir / "new").exists() else [],
            timeout=10,
            what="mail in the Maildir",
        )
        texts = [f.read_bytes() for f in files]
        assert any(b"Delivered-To: " in t and b"[Q-1]" in t for t in texts)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
