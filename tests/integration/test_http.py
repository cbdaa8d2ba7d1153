"""/healthz, /readyz and /metrics on real servers: Redis, SQLite (and PostgreSQL), a relay sink."""

from __future__ import annotations

import smtplib
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert

from pipeline.outbound.transport import crlf
from pipeline.store import heartbeats
from pipeline.store.db import Database
from pipeline.store.models import ImapMailboxRow, MessageRow
from tests.conftest import ROOT, mail_fixture
from tests.support.db import scalar
from tests.support.runners import (
    qmark_env,
    role_in_thread,
    settings_from,
    spawn,
    stop,
    wait_until,
)
from tests.support.servers import wait_for_port
from workers.ops.metrics.specs import METRIC_NAMES

pytestmark = pytest.mark.integration


# Helpers ------------------------------------------------------------------------------------------


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def scrape(port: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    status, body = get(port, "/metrics")
    assert status == 200, body
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples, name: str) -> float:
    return sum(v for (n, _), v in samples.items() if n == name)


def http_port(env) -> int:
    return int(env["QMARK_HTTP__LISTEN"].rsplit(":", 1)[1])


@pytest.fixture
def env(database_url, redis_url, relay_sink, tmp_path):
    return qmark_env(
        database_url=database_url,
        redis_url=redis_url,
        outbound_url=f"smtp://127.0.0.1:{relay_sink.port}",
        QMARK_HTTP__METRICS_DIR=str(tmp_path / "metrics"),
    )


def build(env, **extra):
    from workers.bootstrap import build as build_app

    return build_app(settings=settings_from({**env, **extra}))


@contextmanager
def http_in_thread(app) -> Iterator[int]:
    from workers.roles import http

    _, port = app.settings.http.host_port
    with role_in_thread(http.serve, app):
        wait_for_port(port)
        yield port


def send(port: int, raw: bytes, rcpts=("escalations@acme.test",)) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.sendmail("dana.chief@acme.test", list(rcpts), crlf(raw))


def stored_message(db: Database, *, outcome: str | None, reason: str | None, channel: str = "smtp") -> None:
    now = datetime.now(UTC)
    with db.transaction() as conn:
        conn.execute(
            insert(MessageRow).values(
                received_at=now,
                channel=channel,
                mail_from="x@example.test",
                rcpt_tos=["escalations@acme.test"],
                peer="test",
                raw=b"Subject: x\r\n\r\nx\r\n",
                size=17,
                sha256="0" * 64,
                header_message_id=f"<{now.timestamp()}-{reason}@test>",
                state="done" if outcome else "pending",
                outcome=outcome,
                reason=reason,
                attempts=1,
            )
        )


# /metrics after real traffic, with `qmark run` and two worker processes ---------------------------


def heartbeat_roles(scraped: Any) -> set[str]:
    return {dict(labels)["role"] for name, labels in scraped if name == "qmark_heartbeat_age_seconds"}


def test_metrics_change_as_expected_after_real_traffic(env, relay_sink, database_url, tmp_path):
    run_env = {**env, "QMARK_WORKER__PROCESSES": "2"}
    smtp_port = int(run_env["QMARK_SMTP__LISTEN"].rsplit(":", 1)[1])
    port = http_port(run_env)
    process = spawn("run", run_env, tmp_path / "run.log")
    try:
        wait_for_port(smtp_port, timeout=30)
        wait_for_port(port, timeout=30)
        assert get(port, "/healthz") == (200, "ok\n")
        before = scrape(port)
        assert value(before, "qmark_escalations", state="awaiting_explanation") == 0
        assert value(before, "qmark_queue_messages", queue="process", state="ready") == 0

        send(smtp_port, mail_fixture("gmail-forward.eml"))
        send(smtp_port, mail_fixture("outlook-forward.eml"))
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            send(smtp_port, mail_fixture("gmail-forward.eml"), rcpts=("nobody@acme.test",))
        relay_sink.wait_for(4, timeout=30)
        wait_until(
            lambda: scalar(database_url, "select count(*) from outbound_mails where state = 'sent'") == 4,
            what="the four mails recorded as sent",
        )
        wait_until(
            lambda: total(scrape(port), "dramatiq_messages_total") >= 1,
            what="dramatiq's job counter in /metrics",
        )
        wait_until(
            lambda: {"worker", "smtp", "scheduler", "http"} <= heartbeat_roles(scrape(port)),
            what="a heartbeat from every role (the scheduler's comes with its first tick)",
        )
        after = scrape(port)
        wait_until(lambda: get(port, "/readyz")[0] == 200, what="ready")
        readiness = get(port, "/readyz")
        assert readiness == (200, "ready\n")
    finally:
        log, _ = stop(process, tmp_path / "run.log")

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("qmark_messages_stored_total", channel="smtp") == 2
    assert delta("qmark_message_outcomes_total", outcome="escalation") == 2
    assert delta("qmark_smtp_received_total") == 2
    assert delta("qmark_smtp_refused_total", code="550") == 1
    assert delta("qmark_smtp_refused_total", code="451") == 0
    assert total(after, "qmark_mails_sent_total") - total(before, "qmark_mails_sent_total") == 4
    assert value(after, "qmark_escalations", state="awaiting_explanation") == 2
    assert value(after, "qmark_escalations_overdue") == 0
    assert value(after, "qmark_oldest_unprocessed_message_seconds") == 0
    assert value(after, "qmark_mails_failed_total", state="dead") == 0
    assert value(after, "qmark_quarantined_total", reason="unparseable") == 0
    for queue in ("process", "send", "chase"):
        for state in ("ready", "delayed", "dead"):
            assert (("qmark_queue_messages", frozenset({("queue", queue), ("state", state)}))) in after
    assert 0 <= value(after, "qmark_heartbeat_age_seconds", role="worker") < 30
    assert {"worker", "smtp", "scheduler", "http"} <= heartbeat_roles(after)
    # Dramatiq's metrics merged over both worker processes: no per-process series, no wrong gauge
    assert value(after, "dramatiq_messages_total", queue_name="process", actor_name="process_messages") >= 1
    assert not any("pid" in dict(labels) for _, labels in after)
    assert not any(name.startswith("dramatiq_delayed_messages") for name, _ in after)
    # Everything qmark exports is in the list the alert rules are checked against
    exported = {name for name, _ in after if name.startswith(("qmark_", "dramatiq_"))}
    assert exported <= METRIC_NAMES, exported - METRIC_NAMES
    assert value(after, "qmark_scrape_errors_total", source="database") == 0
    assert "Traceback" not in log


# /readyz -----------------------------------------------------------------------------------------


def test_readyz_fails_naming_redis_when_redis_is_stopped_and_recovers_when_it_returns(env, redis_server):
    from workers.roles import scheduler

    app = build(env)
    with role_in_thread(scheduler.serve, app), http_in_thread(app) as port:
        wait_until(lambda: get(port, "/readyz") == (200, "ready\n"), what="ready")
        redis_server.stop()
        try:
            status, body = get(port, "/readyz")
            assert status == 503
            [line] = [line for line in body.splitlines() if line.startswith("redis:")]
            assert "start Redis or fix [storage] redis_url" in line
            assert not body.startswith("database")
            # The scrape still answers: Redis's metrics are left out and the error is counted
            samples = scrape(port)
            assert not any(name == "qmark_queue_messages" for name, _ in samples)
            assert value(samples, "qmark_scrape_errors_total", source="redis") >= 1
            assert "qmark_escalations_overdue" in {name for name, _ in samples}
        finally:
            redis_server.start()
        wait_until(lambda: get(port, "/readyz") == (200, "ready\n"), timeout=20, what="ready again")
        assert value(scrape(port), "qmark_queue_messages", queue="process", state="dead") == 0


def test_readyz_names_a_stalled_scheduler(env, database_url):
    from workers.roles import scheduler

    app = build(env)
    with http_in_thread(app) as port:
        status, body = get(port, "/readyz")
        assert status == 503
        assert body == "scheduler stalled: no tick recorded; is `qmark scheduler` (or `qmark run`) running?\n"
        # A scheduler that ticked ten minutes ago and then stopped
        long_ago = datetime.now(UTC) - timedelta(minutes=10)
        with app.services.db.transaction() as conn:
            heartbeats.beat(conn, "scheduler", "elsewhere:1", long_ago, long_ago)
        status, body = get(port, "/readyz")
        assert status == 503
        assert body.startswith("scheduler stalled: last tick 600 s ago (ticks every 1 s)")
        assert 600 <= value(scrape(port), "qmark_heartbeat_age_seconds", role="scheduler") < 700
        with role_in_thread(scheduler.serve, app):
            wait_until(lambda: get(port, "/readyz") == (200, "ready\n"), what="ready once it ticks")


def test_readyz_names_the_imap_folder_that_lags_with_its_last_error(env):
    from workers.imap_folder import Folder
    from workers.roles import scheduler

    app = build(
        env,
        QMARK_IMAP__URL="imaps://imap.acme.test:993",
        QMARK_IMAP__USERNAME="intake",
        QMARK_IMAP__POLL_INTERVAL="30s",
    )
    key = Folder.from_settings(app.settings).key
    with role_in_thread(scheduler.serve, app), http_in_thread(app) as port:
        wait_until(lambda: "scheduler" not in get(port, "/readyz")[1], what="the scheduler's tick")
        assert get(port, "/readyz") == (
            503,
            f"imap {key}: never polled; is `qmark imap` (or `qmark run`) running?\n",
        )
        an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
        with app.services.db.transaction() as conn:
            conn.execute(
                insert(ImapMailboxRow).values(
                    key=key,
                    last_uid=0,
                    ingested=3,
                    last_poll_at=an_hour_ago,
                    last_error="LOGIN failed: authentication failed",
                )
            )
        status, body = get(port, "/readyz")
        assert status == 503
        assert body.startswith(f"imap {key}: last polled 3600 s ago (limit 180 s)")
        assert "last error: LOGIN failed: authentication failed" in body
        assert 3600 <= value(scrape(port), "qmark_imap_lag_seconds", mailbox=key) < 3700
        with app.services.db.transaction() as conn:
            conn.execute(
                ImapMailboxRow.__table__.update().values(last_poll_at=datetime.now(UTC), last_error=None)
            )
        assert get(port, "/readyz") == (200, "ready\n")


def test_healthz_answers_and_anything_else_is_404(env):
    app = build(env)
    with http_in_thread(app) as port:
        assert get(port, "/healthz") == (200, "ok\n")
        assert get(port, "/nope")[0] == 404
        assert get(port, "/metrics/../readyz")[0] == 404


def test_every_answer_names_the_live_rules_version_and_a_reload_changes_it(env, tmp_path):
    import shutil

    from workers.reload import Reloader

    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules" / "examples" / "acme", rules)
    app = build(env, QMARK_RULES__PATH=str(rules))
    with http_in_thread(app) as port:

        def live() -> str:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as answer:
                return str(answer.headers["X-Qmark-Rules"])

        first = live()
        assert first.startswith(f"version={app.services.rules.version}; loaded_at=")
        (rules / "rca.yaml").write_text((rules / "rca.yaml").read_text() + "\n# reviewed\n")
        assert Reloader(app, "http").reload() is True
        assert live().startswith(f"version={app.services.rules.version}; loaded_at=") and live() != first


def test_smtp_refusals_are_counted_by_code(env):
    from tests.support.runners import smtp_in_thread

    app = build(env, QMARK_SMTP__MAX_MESSAGE_SIZE="2KB")
    smtp_port = app.settings.smtp.host_port[1]
    with smtp_in_thread(app), http_in_thread(app) as port:
        before = scrape(port)
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            send(smtp_port, b"Subject: hi\n\nhello\n", rcpts=("stranger@elsewhere.test",))
        with pytest.raises(smtplib.SMTPException):
            send(smtp_port, b"Subject: big\n\n" + b"x" * 5000 + b"\n")
        after = scrape(port)
    assert (
        value(after, "qmark_smtp_refused_total", code="550")
        - value(before, "qmark_smtp_refused_total", code="550")
        == 1
    )
    assert (
        value(after, "qmark_smtp_refused_total", code="552")
        - value(before, "qmark_smtp_refused_total", code="552")
        == 1
    )


def test_queue_depths_read_ready_delayed_and_dead_from_redis(env, redis_url):
    import redis

    from workers.ops.queues import queue_depths

    app = build(env)
    app.graph.process.send([1])
    app.graph.send.send_with_options(args=([2],), delay=60_000)
    client = redis.Redis.from_url(redis_url)
    client.zadd("qmark:chase.XQ", {"some-id": 1})
    assert queue_depths(client) == {
        "process": {"ready": 1, "delayed": 0, "dead": 0},
        "send": {"ready": 0, "delayed": 1, "dead": 0},
        "chase": {"ready": 0, "delayed": 0, "dead": 1},
    }


# /metrics from the database ----------------------------------------------------------------------


def test_quarantine_reasons_fall_into_a_fixed_set_of_classes(env):
    from pipeline.model.outcomes import classify_reason

    app = build(env)
    reasons = {
        "unparseable: the header section is over 1 MB": "unparseable",
        "possible spoof: mail claims to be from executive dana@acme.test but dmarc=fail": "possible_spoof",
        "the reply token is not genuine (signature does not verify); nothing changed": "reply_forged_token",
        "eve@evil.test takes no part in Q-3 (matched by token); nothing changed": "reply_stranger",
        "processing failed 5 times; last error: OperationalError": "processing_failed",
        "something new": "other",
    }
    for reason in reasons:
        stored_message(app.services.db, outcome="quarantined", reason=reason)
    stored_message(app.services.db, outcome="quarantined", reason="unparseable: no header")
    stored_message(app.services.db, outcome="escalation", reason="opened Q-1", channel="imap")
    stored_message(app.services.db, outcome=None, reason=None, channel="inject")
    assert {reason: classify_reason(reason) for reason in reasons} == reasons
    with http_in_thread(app) as port:
        samples = scrape(port)
    assert value(samples, "qmark_quarantined_total", reason="unparseable") == 2
    for name in ("possible_spoof", "reply_forged_token", "reply_stranger", "processing_failed", "other"):
        assert value(samples, "qmark_quarantined_total", reason=name) == 1
    assert value(samples, "qmark_messages_stored_total", channel="smtp") == 7
    assert value(samples, "qmark_messages_stored_total", channel="imap") == 1
    assert value(samples, "qmark_messages_stored_total", channel="inject") == 1
    assert value(samples, "qmark_message_outcomes_total", outcome="quarantined") == 7
    assert value(samples, "qmark_message_outcomes_total", outcome="escalation") == 1
    assert 0 <= value(samples, "qmark_oldest_unprocessed_message_seconds") < 60


def test_heartbeats_and_the_metric_queries_work_on_postgresql(empty_postgres, tmp_path):
    from pipeline.store.metricdata import metric_data
    from pipeline.store.migrate import upgrade
    from workers.ops.metrics.families import database_families

    upgrade(empty_postgres)
    db = Database(empty_postgres)
    now = datetime.now(UTC)
    with db.transaction() as conn:
        heartbeats.beat(conn, "worker", "a:1", now - timedelta(seconds=20), now - timedelta(minutes=5))
        heartbeats.beat(conn, "stale", "b:2", now - timedelta(days=2), now - timedelta(days=2))
    with db.transaction() as conn:  # the second beat updates, and prunes beats older than a day
        heartbeats.beat(conn, "worker", "a:1", now - timedelta(seconds=5), now - timedelta(minutes=5))
        heartbeats.beat(conn, "worker", "a:2", now - timedelta(seconds=9), now)
    stored_message(db, outcome="quarantined", reason="possible spoof: x")
    stored_message(db, outcome="quarantined", reason="unparseable: y")
    with db.read() as session:
        assert heartbeats.latest(session) == {
            "worker": [("a:1", now - timedelta(seconds=5)), ("a:2", now - timedelta(seconds=9))]
        }
        families = {family.name: family for family in database_families(metric_data(session, now=now), now)}
    quarantined = {s.labels["reason"]: s.value for s in families["qmark_quarantined"].samples}
    assert quarantined["possible_spoof"] == 1 and quarantined["unparseable"] == 1
    [age] = families["qmark_heartbeat_age_seconds"].samples
    assert age.labels == {"role": "worker"} and age.value == 5
    db.dispose()
