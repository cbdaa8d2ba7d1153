"""The quarantine on a real database, Redis and relay sink: held with a reason, shown, released."""

from __future__ import annotations

import json
import re

import pytest

from pipeline.model.mail import Envelope
from pipeline.steps import process as flow
from pipeline.steps.services import utcnow
from tests.conftest import mail_fixture
from tests.support.db import rows, scalar
from tests.support.runners import qmark_env, role_in_thread, settings_from
from workers.cli import quarantine

pytestmark = pytest.mark.integration

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[")  # structlog's console lines
BODY = "I was charged twice for invoice 4411"  # a line of no-dmarc.eml's body


@pytest.fixture
def env(database_url, redis_url, relay_sink):
    return qmark_env(
        database_url=database_url, redis_url=redis_url, outbound_url=f"smtp://127.0.0.1:{relay_sink.port}"
    )


def build(env, **extra):
    from workers.bootstrap import build as build_app

    return build_app(settings=settings_from({**env, **extra}))


def printed(capsys) -> str:
    """What the command printed, without the log lines written meanwhile."""
    return "\n".join(line for line in capsys.readouterr().out.splitlines() if not LOG_LINE.match(line))


def held_spoof(app) -> int:
    """A forward with Dana's From that did not pass DMARC, stored and processed: quarantined."""
    from workers.roles.group_commit import store_one

    envelope = Envelope("dana.chief@acme.test", ("escalations@acme.test",), "test", utcnow(), "smtp")
    message_id = store_one(app.services.db, mail_fixture("no-dmarc.eml"), envelope)
    assert flow.process_message(app.services, message_id) == []
    return message_id


def test_quarantine_release_turns_a_held_message_into_an_escalation(env, database_url, relay_sink, capsys):
    from workers.roles import worker

    # Given a forward claiming to be from an executive without passing DMARC
    app = build(env)
    message_id = held_spoof(app)
    # Then it is held, and the list says who, what and why
    capsys.readouterr()
    assert quarantine.list_command(app.settings, as_json=True) == 0
    [item] = json.loads(printed(capsys))
    assert item["id"] == message_id
    assert item["reason"].startswith("possible spoof: mail claims to be from executive dana.chief@acme.test")
    assert item["sender"] == "Dana Chief <dana.chief@acme.test>"
    assert item["subject"] == "Fwd: Charged twice for invoice 4411"
    assert item["when"].startswith(str(scalar(database_url, "select received_at from messages"))[:10])
    assert quarantine.list_command(app.settings, as_json=False) == 0
    table = printed(capsys)
    assert re.search(rf"^{message_id}\s+\d{{4}}-\d\d-\d\d \d\d:\d\d\s+Dana Chief", table, re.M)
    assert "possible spoof" in table and "Fwd: Charged twice" in table
    # And show gives the envelope, the headers that matter and the reason, never the body
    assert quarantine.show_command(app.settings, str(message_id), as_json=True) == 0
    shown = printed(capsys)
    details = json.loads(shown)
    assert details["reason"] == item["reason"] and details["attempts"] == 1 and details["last_error"] is None
    assert details["envelope"]["mail_from"] == "dana.chief@acme.test"
    assert details["headers"]["Message-ID"] == ["<20261123161744.51b2@mailer.spoof.example>"]
    assert "dmarc=fail" in details["headers"]["Authentication-Results"][0]
    assert details["size"] == len(mail_fixture("no-dmarc.eml"))
    assert quarantine.show_command(app.settings, str(message_id), as_json=False) == 0
    text = printed(capsys)
    assert "possible spoof" in text and "Authentication-Results:" in text and "dmarc=fail" in text
    assert BODY not in shown and BODY not in text
    # When the operator fixes the config and releases the message
    fixed = build(env, QMARK_AUTH__REQUIRE_DMARC="false")
    with role_in_thread(worker.serve, fixed):
        assert quarantine.release_command(fixed.settings, str(message_id)) == 0
        out = printed(capsys)
        assert f"message {message_id} released from quarantine" in out and "possible spoof" in out
        # Then it is processed again and opens the escalation: the owner gets the forward
        received = relay_sink.wait_for(2)
    assert {r.rcpt_tos for r in received} == {("pat.owner@acme.test",), ("dana.chief@acme.test",)}
    [(state, outcome, attempts, escalation_id)] = rows(
        database_url, "select state, outcome, attempts, escalation_id from messages"
    )
    assert (state, outcome, attempts, escalation_id) == ("done", "escalation", 1, 1)
    assert quarantine.list_command(fixed.settings, as_json=True) == 0
    assert json.loads(printed(capsys)) == []
    # And a message that is not quarantined is refused, with what became of it
    assert quarantine.release_command(fixed.settings, str(message_id)) == 65
    assert "is not quarantined: its outcome is escalation (Q-1)" in capsys.readouterr().err
    assert quarantine.show_command(fixed.settings, str(message_id), as_json=False) == 66


def test_unknown_or_malformed_ids_are_66_and_65(env, capsys):
    app = build(env)
    assert quarantine.release_command(app.settings, "999") == 66
    assert quarantine.show_command(app.settings, "999", as_json=True) == 66
    assert "no message 999" in capsys.readouterr().err
    assert quarantine.release_command(app.settings, "Q-1") == 65
    assert quarantine.show_command(app.settings, "abc", as_json=False) == 65
    assert quarantine.list_command(app.settings, as_json=False) == 0
    assert "no messages in quarantine" in printed(capsys)


def test_a_release_while_redis_is_down_leaves_the_message_to_the_sweeper(env, database_url, capsys):
    app = build(env, QMARK_AUTH__REQUIRE_DMARC="false")
    message_id = held_spoof(build(env))
    no_redis = build(env, QMARK_AUTH__REQUIRE_DMARC="false", QMARK_STORAGE__REDIS_URL="redis://127.0.0.1:1/0")
    assert quarantine.release_command(no_redis.settings, str(message_id)) == 0
    assert "the scheduler's sweeper will queue it" in printed(capsys)
    [(state, attempts, enqueued)] = rows(database_url, "select state, attempts, enqueued_at from messages")
    assert (state, attempts) == ("pending", 0) and enqueued is not None
    # What the sweeper's job does, by hand
    assert len(flow.process_message(app.services, message_id)) == 2
    assert scalar(database_url, "select outcome from messages") == "escalation"
