"""`qmark run` chases a deadline in real time: reminder, then the breach to the manager and the executive.

The test rules give billing complaints a 3-second deadline, one reminder at 50%,
and Pat no working hours (so the reminder is not held until the morning).
"""

from __future__ import annotations

import smtplib

import pytest

from pipeline.outbound.transport import crlf
from tests.conftest import mail_fixture
from tests.support.replies import parsed
from tests.support.rules import acme_rules
from tests.support.runners import qmark_env, spawn, stop
from tests.support.servers import wait_for_port

pytestmark = pytest.mark.e2e


def test_a_three_second_deadline_sends_the_reminder_then_the_breach_to_the_manager_and_the_executive(
    database_url, redis_url, relay_sink, tmp_path
):
    rules = acme_rules(tmp_path / "rules")
    routing = rules / "routing.yaml"
    text = routing.read_text()
    text = text.replace(
        "owner: pat.owner@acme.test\n    deadline: 4h", "owner: pat.owner@acme.test\n    deadline: 3s"
    )
    text = text.replace("remind_at: [50%, 90%]", "remind_at: [50%]").replace(
        "rechase_every: 2h", "rechase_every: 1h"
    )
    assert "deadline: 3s" in text and "remind_at: [50%]" in text
    routing.write_text(text)
    people = rules / "people.yaml"
    pat = '    timezone: Europe/Berlin\n    working_hours: "Mon-Fri 09:00-18:00"\n'
    people_text = people.read_text()
    assert pat in people_text
    people.write_text(people_text.replace(pat, "    timezone: Europe/Berlin\n", 1))
    env = qmark_env(
        database_url=database_url,
        redis_url=redis_url,
        outbound_url=f"smtp://127.0.0.1:{relay_sink.port}",
        QMARK_RULES__PATH=str(rules),
        QMARK_WORKER__PROCESSES="1",
        QMARK_SCHEDULER__TICK="500ms",
    )
    port = int(env["QMARK_SMTP__LISTEN"].rsplit(":", 1)[1])
    process = spawn("run", env, tmp_path / "run.log")
    try:
        wait_for_port(port, timeout=30)
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.sendmail(
                "dana.chief@acme.test", ["escalations@acme.test"], crlf(mail_fixture("gmail-forward.eml"))
            )
        received = relay_sink.wait_for(5, timeout=20)
    finally:
        _, lines = stop(process, tmp_path / "run.log")
    sequence = [(r.rcpt_tos[0], str(parsed(r.data)["Subject"]).split(":")[0]) for r in received]
    # the forward and the acknowledgement first, in either order
    assert {to for to, _ in sequence[:2]} == {"pat.owner@acme.test", "dana.chief@acme.test"}
    assert sequence[2] == ("pat.owner@acme.test", "[Q-1] Reminder")
    assert {to for to, _ in sequence[3:5]} == {"sam.manager@acme.test", "dana.chief@acme.test"}
    assert all("Overdue" in subject for _, subject in sequence[3:5])
    assert any(line["event"] == "escalation_chased" for line in lines)
