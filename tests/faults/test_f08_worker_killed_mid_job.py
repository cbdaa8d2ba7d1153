"""F8: a Dramatiq worker is SIGKILLed in the middle of a job, for each kind of job.

Injected on real processes (`qmark smtp`, `qmark worker`, `qmark scheduler` as subprocesses),
a real Redis, a real database and a real relay (:class:`tests.support.faults_queue.StallingRelay`)
that hangs one chosen RCPT: the worker is then stuck inside the job that sends that mail and is
killed with SIGKILL there, and a fresh worker comes up. The kinds: the ``process_messages`` job
of an executive's forward (the owner's forward), the same job on the owner's explanation (the
mail to the executive), the ``send_mails`` retry of a mail the relay deferred, and the
``chase_escalations`` job of a due reminder. Also once with Redis wiped on top of the kill, and
once (PostgreSQL) inside the process job's transaction, before its commit: a table lock on
``events`` holds the job there.

Asserts the end state equals a fault-free run of the same script (the same escalation state,
events, outbound mails and mails at the relay, I2) and that no mail reached the relay twice (I3):
the killed job resumes once its lease runs out and the sweeper requeues it.
"""

from __future__ import annotations

import email
import signal
import smtplib
from collections import Counter
from email.utils import parseaddr

import pytest

from pipeline.outbound.transport import crlf
from pipeline.store.migrate import upgrade
from tests.conftest import mail_fixture
from tests.support.db import rows, scalar
from tests.support.faults_queue import PASS, STALL, StallingRelay
from tests.support.replies import parsed, reply_to
from tests.support.rules import acme_rules, edit_rules
from tests.support.runners import qmark_env, spawn, wait_until
from tests.support.servers import wait_for_port

pytestmark = pytest.mark.e2e

PAT, DANA, SAM = "pat.owner@acme.test", "dana.chief@acme.test", "sam.manager@acme.test"
EXPLANATION = "A gateway retry after a timeout charged the card twice; we refunded the second charge."

# kind -> (the relay's script for the run: the step marked STALL is where the worker dies;
#          how many mails the run ends with)
SCRIPTS = {
    "process_forward": ({PAT: [STALL]}, 2),
    "process_owner_reply": ({DANA: [PASS, STALL]}, 3),
    "send_retry": ({PAT: ["451 4.3.0 try again later", STALL]}, 2),
    "chase_reminder": ({PAT: [PASS, STALL]}, 5),
}


def send(port: int, raw: bytes) -> None:
    message = parsed(raw)
    sender = parseaddr(str(message["From"]))[1]
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.sendmail(sender, [parseaddr(str(message["To"]))[1] or "escalations@acme.test"], crlf(raw))


def test_f8_sigkill_of_a_worker_mid_send_and_a_wiped_redis_lose_nothing_and_send_nothing_twice(
    database_url, redis_url, redis_server, tmp_path
):
    with StallingRelay({"*": [STALL]}) as relay:
        env = qmark_env(
            database_url=database_url,
            redis_url=redis_url,
            outbound_url=f"smtp://127.0.0.1:{relay.port}",
            QMARK_WORKER__LEASE="3s",
            QMARK_WORKER__THREADS="1",
        )
        smtp_port = int(env["QMARK_SMTP__LISTEN"].rsplit(":", 1)[1])
        smtp = spawn("smtp", env, tmp_path / "smtp.log")
        worker = spawn("worker", env, tmp_path / "worker.log")
        others = [smtp]
        try:
            wait_for_port(smtp_port, timeout=30)
            send(smtp_port, mail_fixture("gmail-forward.eml"))
            # Given a worker is in the middle of sending the owner's forward
            assert relay.stalled.wait(30), (tmp_path / "worker.log").read_text()[-2000:]
            # When it is SIGKILLed and Redis loses everything it held
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=10)
            redis_server.restart_wiped()
            # And a fresh worker and the scheduler come up
            others.append(spawn("worker", env, tmp_path / "worker2.log"))
            others.append(spawn("scheduler", env, tmp_path / "scheduler.log"))
            # Then both mails arrive, each exactly once
            wait_until(
                lambda: len(relay.received) >= 2, timeout=40, what="both mails delivered after recovery"
            )
            wait_until(
                lambda: scalar(database_url, "select count(*) from outbound_mails where state='sent'") == 2,
                timeout=20,
                what="both mails recorded as sent",
            )
        finally:
            for process in others:
                process.send_signal(signal.SIGTERM)
            for process in others:
                process.wait(timeout=60)
        ids = [email.message_from_bytes(raw)["Message-ID"] for _, raw in relay.received]
        assert len(ids) == 2 == len(set(ids))
        assert scalar(database_url, "select count(*) from escalations") == 1


def end_state(database_url: str, relay: StallingRelay) -> dict[str, object]:
    """What a run leaves behind, without ids and times: the thing a fault must not change."""
    at_relay = Counter((rcpt, str(parsed(raw)["Subject"]).split(":")[0]) for rcpt, raw in relay.received)
    return {
        "escalations": rows(database_url, "select state, owner, route from escalations order by id"),
        "events": Counter(k for (k,) in rows(database_url, "select kind from events")),
        "messages": Counter(rows(database_url, "select state, outcome from messages")),
        "outbound": Counter(rows(database_url, "select kind, recipient, state from outbound_mails")),
        "at_relay": at_relay,
    }


def one_run(kind: str, database_url: str, redis_url: str, tmp_path, *, kill: bool) -> dict[str, object]:
    """Play ``kind``'s script once (SIGKILLing the worker at the stalled RCPT when ``kill``)."""
    steps, mails = SCRIPTS[kind]
    if not kill:  # the same script with the stall taken out: the fault-free run
        steps = {rcpt: [PASS if s == STALL else s for s in script] for rcpt, script in steps.items()}
    rules = acme_rules(tmp_path / "rules")
    if kind == "chase_reminder":  # a 4-second deadline, one reminder at 50%, Pat always at work
        edit_rules(
            rules / "routing.yaml",
            "owner: pat.owner@acme.test\n    deadline: 4h",
            "owner: pat.owner@acme.test\n    deadline: 4s",
        )
        edit_rules(rules / "routing.yaml", "remind_at: [50%, 90%]", "remind_at: [50%]")
        edit_rules(rules / "people.yaml", '    working_hours: "Mon-Fri 09:00-18:00"\n', "")
    with StallingRelay(steps) as relay:
        env = qmark_env(
            database_url=database_url,
            redis_url=redis_url,
            outbound_url=f"smtp://127.0.0.1:{relay.port}",
            QMARK_RULES__PATH=str(rules),
            QMARK_WORKER__LEASE="3s",
            QMARK_WORKER__THREADS="1",
            QMARK_SCHEDULER__TICK="500ms",
        )
        port = int(env["QMARK_SMTP__LISTEN"].rsplit(":", 1)[1])
        logs = tmp_path / "logs"
        logs.mkdir()
        worker = spawn("worker", env, logs / "worker.log")
        others = [spawn("smtp", env, logs / "smtp.log"), spawn("scheduler", env, logs / "scheduler.log")]
        try:
            wait_for_port(port, timeout=30)
            send(port, mail_fixture("gmail-forward.eml"))
            if kind == "process_owner_reply":
                wait_until(lambda: any(r == PAT for r, _ in relay.received), timeout=30, what="the forward")
                forward = next(raw for r, raw in relay.received if r == PAT)
                send(port, reply_to(forward, sender=PAT, text=EXPLANATION))
            if kill:
                # Given the worker is inside the job that sends the scripted mail, When it is SIGKILLed
                assert relay.stalled.wait(30), (logs / "worker.log").read_text()[-2000:]
                worker.send_signal(signal.SIGKILL)
                worker.wait(timeout=10)
                worker = spawn("worker", env, logs / "worker2.log")  # And a fresh one comes up
            wait_until(lambda: len(relay.received) >= mails, timeout=60, what=f"{mails} mails")
            wait_until(
                lambda: (
                    scalar(database_url, "select count(*) from outbound_mails where state != 'sent'") == 0
                    and scalar(database_url, "select count(*) from messages where state != 'done'") == 0
                ),
                timeout=30,
                what="every mail sent and every message done",
            )
        finally:
            for process in [worker, *others]:
                process.send_signal(signal.SIGTERM)
            for process in [worker, *others]:
                process.wait(timeout=60)
        ids = [parsed(raw)["Message-ID"] for _, raw in relay.received]
        assert len(ids) == mails == len(set(ids)), Counter(ids)  # I3: each mail once
        return end_state(database_url, relay)


@pytest.mark.parametrize("kind", list(SCRIPTS))
def test_f8_sigkill_of_a_worker_inside_each_kind_of_job_ends_as_a_fault_free_run_and_sends_nothing_twice(
    kind, sqlite_url, redis_url, tmp_path
):
    import redis

    # The fault-free run, on a database of its own
    baseline_url = f"sqlite:///{tmp_path / 'baseline.db'}"
    upgrade(baseline_url)
    (tmp_path / "baseline").mkdir()
    expected = one_run(kind, baseline_url, redis_url, tmp_path / "baseline", kill=False)
    redis.Redis.from_url(redis_url).flushall()
    # The same script with the worker SIGKILLed mid-job
    (tmp_path / "faulty").mkdir()
    got = one_run(kind, sqlite_url, redis_url, tmp_path / "faulty", kill=True)
    # Then the end state equals the fault-free run's
    assert got == expected


def test_f8_sigkill_of_a_worker_inside_the_process_transaction_opens_the_escalation_once_later(
    migrated_postgres, redis_url, relay_sink, tmp_path
):
    from sqlalchemy import create_engine, text

    url = migrated_postgres
    env = qmark_env(
        database_url=url,
        redis_url=redis_url,
        outbound_url=f"smtp://127.0.0.1:{relay_sink.port}",
        QMARK_WORKER__LEASE="3s",
        QMARK_WORKER__THREADS="1",
    )
    port = int(env["QMARK_SMTP__LISTEN"].rsplit(":", 1)[1])
    locker = create_engine(url)
    worker = spawn("worker", env, tmp_path / "worker.log")
    others = [spawn("smtp", env, tmp_path / "smtp.log"), spawn("scheduler", env, tmp_path / "scheduler.log")]
    try:
        with locker.connect() as lock:
            # Given the worker's process job is inside its transaction (the escalation written),
            # held up by a table lock before it can write the escalation's events
            lock.execute(text("lock table events in exclusive mode"))
            wait_for_port(port, timeout=30)
            send(port, mail_fixture("gmail-forward.eml"))
            wait_until(
                lambda: scalar(
                    url,
                    "select count(*) from pg_stat_activity where datname = current_database()"
                    " and wait_event_type = 'Lock' and query ilike 'insert into events%'",
                ),
                timeout=30,
                what="the process job waiting inside its transaction",
            )
            assert scalar(url, "select state from messages") == "processing"
            # When the worker is SIGKILLed there, and the lock goes away
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=10)
            lock.rollback()
        worker = spawn("worker", env, tmp_path / "worker2.log")
        # Then the half-done job left nothing behind, and the retry opens the escalation once
        received = relay_sink.wait_for(2, timeout=60)
        wait_until(
            lambda: scalar(url, "select count(*) from outbound_mails where state = 'sent'") == 2,
            timeout=30,
            what="both mails recorded as sent",
        )
    finally:
        locker.dispose()
        for process in [worker, *others]:
            process.send_signal(signal.SIGTERM)
        for process in [worker, *others]:
            process.wait(timeout=60)
    assert rows(url, "select state, outcome from messages") == [("done", "escalation")]
    assert rows(url, "select state, owner from escalations") == [("awaiting_explanation", PAT)]
    assert [k for (k,) in rows(url, "select kind from events")].count("opened") == 1
    assert sorted(r.rcpt_tos[0] for r in received) == [DANA, PAT]
    ids = [parsed(r.data)["Message-ID"] for r in relay_sink.messages]
    assert len(ids) == 2 == len(set(ids))
