"""`qmark status`: a verdict with its reasons, then the numbers; real SQLite and Redis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pipeline.steps import process as flow
from pipeline.steps.services import utcnow
from pipeline.store import heartbeats
from tests.conftest import mail_fixture
from tests.support.runners import qmark_env, settings_from

pytestmark = pytest.mark.integration


@pytest.fixture
def app(database_url, redis_url, tmp_path):
    from workers.bootstrap import build

    env = qmark_env(
        database_url=database_url, redis_url=redis_url, outbound_url=f"maildir:{tmp_path / 'sent'}"
    )
    return build(settings=settings_from(env))


def alive(app, *roles: str) -> None:
    now = datetime.now(UTC)
    with app.services.db.transaction() as conn:
        for role in roles:
            heartbeats.beat(conn, role, f"{role}-test", now, now)


def store(app, name: str) -> int:
    from pipeline.model.mail import Envelope
    from workers.roles.group_commit import store_one

    envelope = Envelope("dana.chief@acme.test", ("escalations@acme.test",), "test", utcnow(), "smtp")
    return store_one(app.services.db, mail_fixture(name), envelope)


def test_no_worker_and_no_scheduler_is_failing_and_says_what_to_start(app):
    from workers.ops.status import report

    data = report(app)
    assert data["verdict"] == "failing"
    assert any(reason.startswith("scheduler stalled") for reason in data["reasons"])
    assert any(reason.startswith("workers: none alive") for reason in data["reasons"])


def test_with_workers_and_a_ticking_scheduler_it_is_ok_and_shows_the_numbers(app):
    from workers.ops.status import report

    alive(app, "worker", "scheduler")
    flow.process_message(app.services, store(app, "gmail-forward.eml"))
    data = report(app)
    assert (data["verdict"], data["reasons"]) == ("ok", [])
    assert data["escalations"]["open"] == 1 and data["escalations"]["overdue"] == 0
    assert data["queues"]["process"] == {"ready": 0, "delayed": 0, "dead": 0}
    assert data["processes"]["worker"]["alive"] == 1
    assert data["statistics"][0] == "last 30 days: 1 escalation opened"


def test_a_quarantined_message_or_a_backlog_makes_it_degraded_with_the_command_to_run(app):
    from workers.cli.status import status_command
    from workers.ops.status import report

    alive(app, "worker", "scheduler")
    flow.process_message(app.services, store(app, "no-dmarc.eml"))  # held as a possible spoof
    data = report(app)
    assert data["verdict"] == "degraded"
    assert any("qmark quarantine list" in reason for reason in data["reasons"])
    store(app, "gmail-forward.eml")  # stored, never processed: the backlog grows
    later = report(app, now=datetime.now(UTC) + timedelta(minutes=10))
    assert any(reason.startswith("backlog:") for reason in later["reasons"])
    assert status_command(app, as_json=False) == 1
