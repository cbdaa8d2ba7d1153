"""F15: the outbound relay is down, defers (421/450/451), refuses for good (5xx), hangs, or fails TLS.

Injected with the real relay sink's programmable replies (``reply_with`` at RCPT or DATA), a
port nobody listens on, a listener that accepts and never greets, and a STARTTLS relay URL
against a sink that offers no TLS. Each test opens Q-1 from Dana's forward through the real
process and send steps on SQLite.

Invariants: a temporary failure (4xx, connection refused, timeout, TLS) leaves each mail
pending with its error and it goes out exactly once when the relay works again (I3); a
permanent one (5xx) marks the mail dead, records it on the escalation and lists it among the
dead letters for ops, who can replay it once the relay takes mail again; nothing is silently
dropped: every mail is sent, pending or dead with a reason. The mapping of relay replies to
temporary and permanent errors is unit-tested in tests/integration/test_transport.py.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from pipeline.steps.send import deliver_mails
from tests.conftest import mail_fixture
from tests.integration.test_replies import DANA, PAT
from tests.support.db import rows, scalar
from tests.support.dead_letters import build, listed, store
from tests.support.life import Life
from tests.support.runners import qmark_env, role_in_thread, settings_from, wait_until
from tests.support.sink import RelaySink

pytestmark = pytest.mark.integration


def life_on(outbound_url: str, sqlite_url: str, redis_url: str, sink: RelaySink) -> Life:
    """Q-1's world with mail going to ``outbound_url`` (the sink records what it gets)."""
    from workers.bootstrap import build

    env = qmark_env(database_url=sqlite_url, redis_url=redis_url, outbound_url=outbound_url)
    return Life(build(settings=settings_from(env)), sink, sqlite_url)


def mails(life: Life) -> list[tuple[int, str, str, str | None]]:
    return [
        tuple(row)
        for row in rows(life.url, "select id, recipient, state, last_error from outbound_mails order by id")
    ]


def nothing_dropped(life: Life) -> None:
    """Every queued mail is sent, or pending/dead with the error that held it."""
    for _, _, state, error in mails(life):
        assert state in {"sent", "pending", "dead"}
        assert state == "sent" or error


def retry_when_the_relay_is_back(life: Life) -> None:
    """The later send job: every pending mail goes out once, and a second run sends nothing more."""
    pending = [mail_id for mail_id, _, state, _ in mails(life) if state == "pending"]
    assert len(pending) == 2
    for _ in range(2):
        deliver_mails(life.svc, life.app.transport(), pending)  # type: ignore[attr-defined]
    assert sorted(m.rcpt_tos[0] for m in life.new_mail(2)) == sorted([DANA, PAT])
    assert [state for _, _, state, _ in mails(life)] == ["sent", "sent"]


@pytest.mark.parametrize(
    ("reply", "stage"),
    [
        ("421 4.3.2 service shutting down", "DATA"),
        ("450 4.2.0 mailbox busy", "RCPT"),
        ("451 4.3.0 local error, try later", "DATA"),
    ],
)
def test_f15_a_relay_deferring_with_4xx_keeps_every_mail_and_sends_it_once_when_it_recovers(
    sqlite_url, redis_url, relay_sink, reply, stage
):
    life = life_on(f"smtp://127.0.0.1:{relay_sink.port}", sqlite_url, redis_url, relay_sink)
    relay_sink.reply_with, relay_sink.reply_stage = reply, stage
    life.deliver(mail_fixture("gmail-forward.eml"))
    # The escalation is open, both mails wait with the relay's answer, nothing reached the relay
    assert life.state() == "awaiting_explanation" and life.new_mail() == []
    assert [(state, reply[:3] in (error or "")) for _, _, state, error in mails(life)] == [
        ("pending", True)
    ] * 2
    nothing_dropped(life)
    relay_sink.reply_with = None
    retry_when_the_relay_is_back(life)


def test_f15_a_relay_that_is_down_keeps_every_mail_and_sends_it_once_it_is_up(sqlite_url, redis_url):
    sink = RelaySink()  # not started yet: nothing listens on its port
    life = life_on(f"smtp://127.0.0.1:{sink.port}", sqlite_url, redis_url, sink)
    life.deliver(mail_fixture("gmail-forward.eml"))
    assert [state for _, _, state, _ in mails(life)] == ["pending", "pending"]
    assert all("no usable connection" in (error or "") for *_, error in mails(life))
    nothing_dropped(life)
    with sink:
        retry_when_the_relay_is_back(life)


@pytest.fixture
def silent_relay() -> Iterator[int]:
    """A port that accepts connections and never says a word (a hung relay); yields the port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield int(listener.getsockname()[1])


def test_f15_a_relay_that_hangs_runs_into_the_timeout_and_the_mails_wait(
    sqlite_url, redis_url, relay_sink, silent_relay, monkeypatch
):
    from pipeline.outbound import transport

    monkeypatch.setattr(transport, "SMTP_TIMEOUT", 1.0)  # the relay, not the clock, is at fault
    life = life_on(f"smtp://127.0.0.1:{silent_relay}", sqlite_url, redis_url, relay_sink)
    started = time.monotonic()
    life.deliver(mail_fixture("gmail-forward.eml"))
    assert time.monotonic() - started < 60  # only catches a hang
    assert [state for _, _, state, _ in mails(life)] == ["pending", "pending"]
    assert all("timed out" in (error or "") for *_, error in mails(life))
    nothing_dropped(life)


def test_f15_a_starttls_relay_offering_no_tls_is_a_temporary_failure_and_nothing_goes_in_clear(
    sqlite_url, redis_url, relay_sink
):
    url = f"smtp+starttls://bot:s3cret@127.0.0.1:{relay_sink.port}"
    life = life_on(url, sqlite_url, redis_url, relay_sink)
    life.deliver(mail_fixture("gmail-forward.eml"))
    assert life.new_mail() == []
    assert [state for _, _, state, _ in mails(life)] == ["pending", "pending"]
    assert not any("s3cret" in (error or "") for *_, error in mails(life))
    nothing_dropped(life)


def test_f15_a_relay_refusing_for_good_marks_the_mails_dead_and_ops_see_them_as_dead_letters(
    sqlite_url, redis_url, relay_sink
):
    from workers.ops.dead_letters import list_all

    life = life_on(f"smtp://127.0.0.1:{relay_sink.port}", sqlite_url, redis_url, relay_sink)
    relay_sink.reply_with, relay_sink.reply_stage = "550 5.1.1 no such user", "RCPT"
    life.deliver(mail_fixture("gmail-forward.eml"))
    # Both mails are dead with the relay's words; the escalation is open and says so
    assert [(state, "550" in (error or "")) for _, _, state, error in mails(life)] == [("dead", True)] * 2
    assert life.state() == "awaiting_explanation"
    assert life.events().count("delivery_failed") == 2
    nothing_dropped(life)
    # And the operator's dead-letter list names them, with the reason
    letters = [letter.as_json() for letter in list_all(life.app.settings).letters]  # type: ignore[attr-defined]
    assert len(letters) == 2 and all("550" in letter["reason"] for letter in letters)
    assert all(letter["escalations"] == ["Q-1"] for letter in letters)


@pytest.fixture
def env(database_url, redis_url, relay_sink):
    return qmark_env(
        database_url=database_url, redis_url=redis_url, outbound_url=f"smtp://127.0.0.1:{relay_sink.port}"
    )


def test_f15_a_mail_the_relay_refused_for_good_is_a_dead_letter_and_replays_when_the_relay_takes_it(
    env, database_url, relay_sink, capsys
):
    from workers.cli import dead_letters as deadletters
    from workers.roles import worker

    app = build(env)
    relay_sink.reply_with = "550 5.7.1 relaying denied"
    with role_in_thread(worker.serve, app):
        store(app, "gmail-forward.eml")
        wait_until(
            lambda: scalar(database_url, "select count(*) from outbound_mails where state = 'dead'") == 2,
            what="both mails dead",
        )
        items = listed(capsys, app.settings)
        assert {i["kind"] for i in items} == {"mail"} and len(items) == 2
        forward = next(i for i in items if "owner_forward" in i["belongs_to"])
        assert forward["id"].startswith("mail-") and forward["escalations"] == ["Q-1"]
        assert "550" in forward["reason"] and forward["dead_at"] is not None
        assert forward["subject"].startswith("[Q-1]")
        # When the relay takes mail again and the operator replays the owner's forward
        relay_sink.reply_with = None
        assert deadletters.replay_command(app.settings, ident=forward["id"], replay_all=False) == 0
        [received] = relay_sink.wait_for(1)
        assert received.rcpt_tos == ("pat.owner@acme.test",)
        wait_until(
            lambda: scalar(database_url, "select count(*) from outbound_mails where state = 'sent'") == 1,
            what="the forward recorded as sent",
        )
        # Then only the other mail is still a dead letter, and the escalation's history says so
        assert [i["id"] for i in listed(capsys, app.settings)] == [
            i["id"] for i in items if i["id"] != forward["id"]
        ]
        assert deadletters.replay_command(app.settings, ident=forward["id"], replay_all=False) == 66
    kinds = [r[0] for r in rows(database_url, "select kind from events order by id")]
    assert "mail_requeued" in kinds and kinds.count("delivery_failed") == 2
