"""The daily digest on a real SQLite database and a real relay sink, with a clock the test holds.

Escalations open through the real process and send steps (``Life``); the digest
is sent by ``workers.ticks.digest`` as the scheduler tick does. The service timezone
is Europe/Berlin and the digest is due at 08:00 there; the clock starts Tuesday
24 Nov 2026 09:00 UTC (10:00 in Berlin).
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, update

from pipeline.model.ids import parse_message_id
from pipeline.outbound.digest import one_line
from pipeline.store import models
from tests.conftest import mail_fixture
from tests.integration.test_replies import EXPLANATION, PAT
from tests.support.db import decoded, rows, scalar
from tests.support.life import START, Life
from tests.support.replies import WRITEUP, body_of, parsed, reply_to
from tests.support.runners import qmark_env, settings_from

pytestmark = pytest.mark.integration

OPS, CTO = "ops@acme.test", "cto@acme.test"
DAY = "2026-11-24"


@pytest.fixture
def env(database_url, redis_url, relay_sink):
    return qmark_env(
        database_url=database_url,
        redis_url=redis_url,
        outbound_url=f"smtp://127.0.0.1:{relay_sink.port}",
        QMARK_SERVICE__TIMEZONE="Europe/Berlin",
        QMARK_DIGEST__TIME="08:00",
        QMARK_DIGEST__RECIPIENTS=f'["{OPS}", "{CTO}"]',
    )


def build(env, **extra):
    from workers.bootstrap import build as build_app

    return build_app(settings=settings_from({**env, **extra}))


@pytest.fixture
def life(env, relay_sink, database_url):
    return Life(build(env), relay_sink, database_url)


def move_deadline(url: str, number: int, to) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                update(models.EscalationRow).where(models.EscalationRow.id == number).values(deadline=to)
            )
    finally:
        engine.dispose()


def open_two(life: Life) -> None:
    """Q-1 (billing, Pat) and Q-2 (shipping, Lee), each with its forward and acknowledgement sent."""
    life.deliver(mail_fixture("gmail-forward.eml"))
    life.deliver(mail_fixture("apple-forward.eml"))
    life.new_mail(4)


def test_a_digest_per_recipient_with_the_right_counts_then_nothing_more_that_day(life, database_url):
    from workers.ticks.digest import tick

    # Given two open escalations, Q-1 two hours overdue
    open_two(life)
    move_deadline(database_url, 1, START - timedelta(hours=2))
    # Before 08:00 in Berlin nothing is due
    assert tick(life.app, START - timedelta(hours=3)) is False  # 07:00 in Berlin
    assert life.new_mail() == [] and scalar(database_url, "select count(*) from digests") == 0
    # When the tick runs after 08:00
    assert tick(life.app, START) is True
    # Then each recipient gets one digest, with the counts in the subject and Q-1 overdue first
    mails = life.new_mail(2)
    assert sorted(m.rcpt_tos[0] for m in mails) == [CTO, OPS]
    for mail in mails:
        message = parsed(mail.data)
        assert message["Subject"] == f"qmark digest {DAY}: 2 open, 1 overdue"
        assert message["To"] == mail.rcpt_tos[0] and message["Auto-Submitted"] == "auto-generated"
        assert parse_message_id(str(message["Message-ID"]), domain="acme.test") is None
        body = body_of(mail.data)
        overdue = body.split("Overdue: 1\n")[1].split("\n")[0]
        assert overdue.startswith("- Q-1  2h late  Pat Owner (explanation): ")
        assert "Open, not overdue: 1\n- Q-2  due " in body
        assert "- last 30 days: 2 escalations opened" in body  # the honest statistics
    [(day, state, recipients)] = rows(database_url, "select day, state, recipients from digests")
    assert (day, state) == (DAY, "sent") and sorted(decoded(recipients)) == [CTO, OPS]
    # A second tick, later that day, sends nothing
    assert tick(life.app, START + timedelta(hours=8)) is False
    assert life.new_mail() == []
    # The next day, after 08:00, it comes again
    assert tick(life.app, START + timedelta(days=1)) is True
    assert {parsed(m.data)["Subject"] for m in life.new_mail(2)} == {
        "qmark digest 2026-11-25: 2 open, 2 overdue"
    }


def test_two_schedulers_racing_send_one_digest(env, life, database_url):
    from workers.ticks.digest import tick

    open_two(life)
    apps = [build(env), build(env)]
    barrier = threading.Barrier(len(apps))
    results: list[bool] = []

    def run(app) -> None:
        barrier.wait()
        results.append(tick(app, START))

    threads = [threading.Thread(target=run, args=(app,)) for app in apps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == [False, True]
    assert sorted(m.rcpt_tos[0] for m in life.new_mail(2)) == [CTO, OPS]
    assert scalar(database_url, "select count(*) from digests") == 1


def test_a_breach_and_a_closure_with_its_root_cause_in_one_line(life):
    from workers.ticks.digest import tick

    # Given Q-1 breached (its 4h deadline passed, Sam chased), then explained and written up
    life.deliver(mail_fixture("gmail-forward.eml"))
    forward = next(m.data for m in life.new_mail(2) if m.rcpt_tos == (PAT,))
    for minutes in (120, 96, 24):  # 50% and 90% reminders, then the deadline
        life.tick(minutes=minutes)
        life.chase()
    life.new_mail(4)
    life.tick(minutes=10)
    life.deliver(reply_to(forward, sender=PAT, name="Pat Owner", text=EXPLANATION))
    life.deliver(reply_to(forward, sender=PAT, text=WRITEUP))
    life.new_mail(3)
    assert life.state() == "closed"
    # When the digest goes out
    life.tick(minutes=30)
    assert tick(life.app, life.now) is True
    body = body_of(life.new_mail(2)[0].data)
    # Then it names the breach and the root cause, in one line
    breaches = body.split("Breaches since Mon 23 Nov 14:40 CET: 1\n")[1].split("\n")[0]
    assert breaches.startswith("- Q-1  Tue 24 Nov 14:00  Pat Owner missed the explanation deadline; ")
    assert "sam.manager@acme.test (level 1) chased: Charged twice for invoice 4411" in breaches
    root_cause = WRITEUP.split("Root cause (five whys):\n")[1].split("\n\n")[0]
    closed = body.split("Closed since Mon 23 Nov 14:40 CET: 1\n")[1].split("\n")
    assert closed[0] == "- Q-1  Pat Owner: Charged twice for invoice 4411"
    assert closed[1] == f"    root cause: {one_line(root_cause)}"
    assert closed[1].startswith("    root cause: Why charged twice? The capture was retried.")
    assert "0 open, 0 overdue; 1 breach and 1 closed" in body


def test_a_reply_to_the_digest_is_ignored_and_answered_by_nothing(life):
    from workers.ticks.digest import tick

    assert tick(life.app, START) is True
    digest = next(m.data for m in life.new_mail(2) if m.rcpt_tos == (OPS,))
    message_id = life.deliver(reply_to(digest, sender=OPS, text="Thanks!", to="escalations@acme.test"))
    assert life.outcome(message_id) == ("ignored", "looks like a reply, but no escalation matches it")
    assert life.new_mail() == []


def test_a_day_nobody_could_be_reached_is_not_retried_by_the_tick_but_by_the_command(
    env, life, relay_sink, database_url, capsys
):
    from workers.cli.digest import send_command
    from workers.ticks.digest import tick

    # Given the relay refuses everything at 08:00
    relay_sink.reply_with = "451 4.3.0 try again later"
    assert tick(life.app, START) is False
    [(state, error)] = rows(database_url, "select state, last_error from digests")
    assert state == "failed" and f"{OPS}: DeliveryError: relay refused: 451" in error
    # The relay is back: the tick does not try again
    relay_sink.reply_with = None
    assert tick(life.app, START + timedelta(minutes=5)) is False
    assert life.new_mail() == []
    # ... but `qmark digest send` does, once
    settings = settings_from(env)
    assert send_command(settings, now=START + timedelta(minutes=10)) == 0
    assert sorted(m.rcpt_tos[0] for m in life.new_mail(2)) == [CTO, OPS]
    assert "sent to 2 recipient(s)" in capsys.readouterr().out
    assert rows(database_url, "select state, last_error from digests") == [("sent", None)]
    assert send_command(settings, now=START + timedelta(minutes=20)) == 0
    assert "already sent" in capsys.readouterr().out
    assert life.new_mail() == []


def test_the_command_sends_before_the_digest_time_and_the_tick_then_does_not(env, life, capsys):
    from workers.cli.digest import send_command
    from workers.ticks.digest import tick

    early = START - timedelta(hours=4)  # 06:00 in Berlin
    assert send_command(settings_from(env), now=early) == 0
    assert len(life.new_mail(2)) == 2
    assert tick(life.app, START) is False
    assert life.new_mail() == []


def test_recipients_with_executives_and_nobody_to_send_to(env, capsys):
    from workers.cli.digest import send_command
    from workers.ticks.digest import recipients, tick

    app = build(env, QMARK_DIGEST__EXECUTIVES="true", QMARK_DIGEST__RECIPIENTS=f"{OPS},dana.chief@acme.test")
    found = recipients(app.settings, app.services.rules)
    assert [a.email for a in found] == [OPS, "dana.chief@acme.test", "morgan.cfo@acme.test"]
    nobody = {**env, "QMARK_DIGEST__RECIPIENTS": "[]"}
    assert tick(build(nobody), START) is False
    assert send_command(settings_from(nobody), now=START) == 78
    assert "nobody to send it to" in capsys.readouterr().err
