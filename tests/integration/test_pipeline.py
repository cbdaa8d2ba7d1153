"""The task graph on a real Redis and a real relay sink: escalations open, mail goes out once."""

from __future__ import annotations

import email
import smtplib

import pytest
import redis

from pipeline.outbound.transport import crlf
from pipeline.steps.services import utcnow
from tests.conftest import mail_fixture
from tests.support.db import rows, scalar
from tests.support.runners import qmark_env, role_in_thread, settings_from, smtp_in_thread, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def env(database_url, redis_url, relay_sink):
    return qmark_env(
        database_url=database_url, redis_url=redis_url, outbound_url=f"smtp://127.0.0.1:{relay_sink.port}"
    )


def build(env, **extra):
    from workers.bootstrap import build as build_app

    return build_app(settings=settings_from({**env, **extra}))


def send(app, raw: bytes, rcpts=("escalations@acme.test",)):
    host, port = app.settings.smtp.host_port
    with smtplib.SMTP(host, port, timeout=10) as client:
        client.sendmail("dana.chief@acme.test", list(rcpts), crlf(raw))


def test_a_forward_becomes_an_escalation_the_owners_forward_and_the_executives_ack(
    env, relay_sink, database_url
):
    from workers.roles import worker

    app = build(env)
    with smtp_in_thread(app), role_in_thread(worker.serve, app):
        send(app, mail_fixture("gmail-forward.eml"))
        received = relay_sink.wait_for(2)
    by_rcpt = {r.rcpt_tos[0]: email.message_from_bytes(r.data) for r in received}
    assert set(by_rcpt) == {"pat.owner@acme.test", "dana.chief@acme.test"}
    forward = by_rcpt["pat.owner@acme.test"]
    assert forward["Subject"].startswith("[Q-1]")
    assert forward["X-Qmark-Escalation"] == "Q-1"
    [(state, owner, route)] = rows(database_url, "select state, owner, route from escalations")
    assert (state, owner, route) == ("awaiting_explanation", "pat.owner@acme.test", "billing")
    kinds = [r[0] for r in rows(database_url, "select kind from events order by id")]
    assert kinds[0] == "opened" and kinds.count("mail_sent") == 2
    assert scalar(database_url, "select outcome from messages") == "escalation"


def test_the_same_message_delivered_twice_becomes_one_escalation(env, relay_sink, database_url):
    from workers.roles import worker

    app = build(env)
    raw = mail_fixture("apple-forward.eml")
    with smtp_in_thread(app), role_in_thread(worker.serve, app):
        send(app, raw)
        send(app, raw)
        wait_until(
            lambda: scalar(database_url, "select count(*) from messages where state = 'done'") == 2,
            what="both copies processed",
        )
        relay_sink.wait_for(2)
    assert scalar(database_url, "select count(*) from escalations") == 1
    outcomes = sorted(r[0] for r in rows(database_url, "select outcome from messages"))
    assert outcomes == ["duplicate", "escalation"]
    assert len(relay_sink.messages) == 2


def test_a_job_that_keeps_failing_lands_in_the_dead_letters_with_its_error(
    env, database_url, redis_url, monkeypatch
):
    from pipeline.steps import process
    from workers.roles import worker

    def broken(*args, **kwargs):
        raise RuntimeError("classifier exploded on purpose")

    monkeypatch.setattr(process, "classify", broken)  # a fault in our own code, not a fake server
    app = build(env, QMARK_WORKER__MAX_ATTEMPTS="50")
    with smtp_in_thread(app), role_in_thread(worker.serve, app):
        send(app, mail_fixture("gmail-forward.eml"))
        client = redis.Redis.from_url(redis_url)
        wait_until(
            lambda: client.zcard("qmark:process.XQ") == 1, timeout=30, what="the job in the dead letters"
        )
    [(state, attempts, error)] = rows(database_url, "select state, attempts, last_error from messages")
    assert state == "pending" and attempts == 4  # first try + max_retries=3
    assert error == "RuntimeError: classifier exploded on purpose"


def test_a_message_that_fails_more_than_max_attempts_is_quarantined_not_retried_forever(
    env, database_url, monkeypatch
):
    from pipeline.model.mail import Envelope
    from pipeline.steps import process
    from workers.roles.group_commit import store_one

    monkeypatch.setattr(process, "classify", lambda *a, **k: (_ for _ in ()).throw(ValueError("bad state")))
    app = build(env, QMARK_WORKER__MAX_ATTEMPTS="2")
    envelope = Envelope("dana.chief@acme.test", ("escalations@acme.test",), "test", utcnow(), "inject")
    message_id = store_one(app.services.db, mail_fixture("gmail-forward.eml"), envelope)
    for _ in range(2):
        with pytest.raises(ValueError):
            process.process_message(app.services, message_id)
    assert process.process_message(app.services, message_id) == []
    [(state, outcome, reason)] = rows(database_url, "select state, outcome, reason from messages")
    assert (state, outcome) == ("done", "quarantined")
    assert "processing failed 2 times" in reason and "ValueError: bad state" in reason


def test_one_failing_message_in_a_batch_does_not_hold_up_the_others(env, database_url, monkeypatch):
    from pipeline.model.mail import Envelope
    from pipeline.steps import process
    from workers.roles.group_commit import store_one

    app = build(env)
    envelope = Envelope("dana.chief@acme.test", ("escalations@acme.test",), "test", utcnow(), "inject")
    names = ["gmail-forward.eml", "apple-forward.eml", "thunderbird-forward.eml"]
    ids = [store_one(app.services.db, mail_fixture(name), envelope) for name in names]
    real_classify = process.classify

    def classify_failing_on_apple(mail, *args):
        if "parcel" in (mail.forwarded.body if mail.forwarded else ""):
            raise RuntimeError("fault on purpose")
        return real_classify(mail, *args)

    monkeypatch.setattr(process, "classify", classify_failing_on_apple)
    # When the three are processed as one job, Then the failure surfaces after the others are done
    results = []
    with pytest.raises(RuntimeError, match="fault on purpose"):
        for mails in process.process_messages(app.services, ids):
            results.append(len(mails))
    assert results == [2, 0, 2]
    states = rows(database_url, "select id, state, last_error from messages order by id")
    assert [(s, e) for _, s, e in states] == [
        ("done", None),
        ("pending", "RuntimeError: fault on purpose"),
        ("done", None),
    ]


def test_a_job_stopped_early_gives_its_unprocessed_messages_back_at_once(env, database_url):
    from pipeline.model.mail import Envelope
    from pipeline.steps import process
    from workers.roles.group_commit import store_one

    app = build(env)
    envelope = Envelope("dana.chief@acme.test", ("escalations@acme.test",), "test", utcnow(), "inject")
    ids = [
        store_one(app.services.db, mail_fixture(n), envelope)
        for n in ("gmail-forward.eml", "apple-forward.eml")
    ]
    batch = process.process_messages(app.services, ids)
    next(batch)
    batch.close()  # the caller died after the first message (e.g. its send raised)
    states = [r[0] for r in rows(database_url, "select state from messages order by id")]
    assert states == ["done", "pending"]
