"""`qmark run` as a real process: a spoofed executive behind a machine-looking envelope is held.

Issue 13, item 5: a forward with an executive's From that fails DMARC, sent with a
bounce-like envelope sender (``bounce@...`` or ``<>``), used to be filed as machine
mail, so ops never saw it. Through SMTP, the real worker and the real database it
must land in quarantine with its reason, show in ``qmark quarantine list`` and on
``/metrics``, and nothing may be mailed to anyone about it.
"""

from __future__ import annotations

import json
import urllib.request

import pytest

from tests.conftest import mail_fixture
from tests.e2e.test_run import send
from tests.support.db import rows, scalar
from tests.support.runners import qmark_command, spawn, stop, wait_until
from tests.support.servers import wait_for_port

pytestmark = pytest.mark.e2e

SPOOF_ENVELOPES = ("bounce@spoof.example", "")  # "" is MAIL FROM:<>


def metrics(env: dict[str, str]) -> str:
    with urllib.request.urlopen(f"http://{env['QMARK_HTTP__LISTEN']}/metrics", timeout=10) as response:
        return response.read().decode()


def test_a_spoofed_executive_with_a_bounce_or_null_envelope_is_quarantined_and_nobody_is_mailed(
    run_env, database_url, relay_sink, tmp_path
):
    smtp_port = int(run_env["QMARK_SMTP__LISTEN"].rsplit(":", 1)[1])
    process = spawn("run", run_env, tmp_path / "run.log")
    try:
        wait_for_port(smtp_port, timeout=30)
        # Given Dana's From failing DMARC, once with a bounce@ envelope and once with <>
        for mail_from in SPOOF_ENVELOPES:
            send(smtp_port, mail_fixture("no-dmarc.eml"), mail_from)
        # When the worker has decided both
        done = "select count(*) from messages where state = 'done'"
        wait_until(lambda: scalar(database_url, done) == 2, timeout=30, what="both spoofs processed")
        # Then both are quarantined as possible spoofs, the reason naming the machine look
        listed = "select mail_from, outcome, reason, escalation_id from messages order by id"
        held = rows(database_url, listed)
        assert [(r[0], r[1], r[3]) for r in held] == [
            ("bounce@spoof.example", "quarantined", None),
            ("<>", "quarantined", None),
        ]
        for (_, _, reason, _), machine_look in zip(
            held,
            ("the sender bounce@spoof.example is a mail system address", "the envelope sender is empty (<>)"),
            strict=True,
        ):
            assert reason.startswith("possible spoof: mail claims to be from executive dana.chief@acme.test")
            assert "dmarc=fail" in reason and "by mx.acme.test" in reason
            assert f"held although it looks like machine mail ({machine_look}" in reason
        # And ops see them in the quarantine list and on /metrics, counted as possible spoofs
        listing = qmark_command(run_env, "quarantine", "list", "--json")
        assert listing.returncode == 0, listing.stderr
        items = json.loads(listing.stdout)
        assert [i["reason"] for i in items] == [r[2] for r in held]
        assert {i["sender"] for i in items} == {"Dana Chief <dana.chief@acme.test>"}
        table = qmark_command(run_env, "quarantine", "list").stdout
        assert table.count("possible spoof") == 2
        wait_until(
            lambda: 'qmark_quarantined_total{reason="possible_spoof"} 2.0' in metrics(run_env),
            timeout=30,
            what="the possible_spoof count on /metrics",
        )
        # And nothing was queued or sent about them: no escalation, no outgoing mail
        assert scalar(database_url, "select count(*) from escalations") == 0
        assert scalar(database_url, "select count(*) from outbound_mails") == 0
        assert relay_sink.messages == []
    finally:
        log, lines = stop(process, tmp_path / "run.log")
    outcomes = [line.get("outcome") for line in lines if line["event"] == "message_processed"]
    assert outcomes == ["quarantined", "quarantined"]
    assert "I was charged twice" not in log  # no mail bodies in the logs
