"""The schema and the flow on a real PostgreSQL: no SQLite-only SQL anywhere."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, text

from pipeline.model.mail import Envelope
from pipeline.steps.process import process_message
from pipeline.steps.send import deliver_mails, send_claimed
from tests.conftest import mail_fixture

pytestmark = pytest.mark.integration


@pytest.fixture
def pg_url(empty_postgres):
    from pipeline.store.migrate import upgrade

    upgrade(empty_postgres)
    return empty_postgres


def test_a_forward_becomes_an_escalation_on_postgresql_and_a_second_run_claims_nothing(pg_url, tmp_path):
    from tests.support.runners import qmark_env, settings_from
    from workers.bootstrap import build
    from workers.roles.group_commit import GroupCommitter

    env = qmark_env(
        database_url=pg_url, redis_url="redis://127.0.0.1:1/0", outbound_url=f"maildir:{tmp_path}/sent"
    )
    app = build(settings=settings_from(env))
    committed: list[int] = []
    committer = GroupCommitter(app.services.db, committed.extend)
    envelope = Envelope("dana.chief@acme.test", ("escalations@acme.test",), "test", datetime.now(UTC), "smtp")
    futures = [
        committer.submit(mail_fixture(name), envelope) for name in ("gmail-forward.eml", "apple-forward.eml")
    ]
    ids = [f.result(timeout=10) for f in futures]
    committer.close()
    assert ids == committed and len(set(ids)) == 2
    claimed = process_message(app.services, ids[0])
    assert len(claimed) == 2
    assert process_message(app.services, ids[0]) == []
    assert send_claimed(app.services, app.transport(), claimed) == []
    deliver_mails(app.services, app.transport(), [item.id for item in claimed])
    assert len(list((tmp_path / "sent" / "new").iterdir())) == 2
    engine = create_engine(pg_url)
    with engine.connect() as connection:
        state, deadline = connection.execute(text("select state, deadline from escalations")).one()
        assert state == "awaiting_explanation" and deadline.tzinfo is not None
    engine.dispose()


def test_two_ticks_on_postgresql_claim_disjoint_due_escalations_and_skip_locked_rows(pg_url):
    from datetime import timedelta

    from pipeline.store import chases

    now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        for number in range(1, 7):
            conn.execute(
                text(
                    "insert into escalations (id, state, executive, executive_name, owner, owner_name, route,"
                    " deadline, opened_at, subject, customer, executive_note, source_message_id, dedupe_key,"
                    " explanation, writeup, extended, reopened, clock_business, chase_phase, chase_slot,"
                    " chase_at, paused_seconds) values (:n, 'awaiting_explanation', 'e', 'E', 'o', 'O', 'r',"
                    " :due, :opened, 's', 'c', '?', :n, :key, '', '{}', false, 0, false, 1, 0, :chase, 0)"
                ),
                {"n": number, "due": now, "opened": now - timedelta(hours=4), "key": f"k{number}",
                 "chase": now - timedelta(minutes=number) if number <= 4 else now + timedelta(hours=1)},
            )  # fmt: skip
    first, second = engine.connect(), engine.connect()
    try:
        # Given one tick holds its claim of three rows in an open transaction
        first.begin()
        held = chases.claim_due(first, now=now, lease=timedelta(minutes=2), limit=3)
        # When a second tick runs meanwhile, it skips the locked rows instead of waiting
        with second.begin():
            taken = chases.claim_due(second, now=now, lease=timedelta(minutes=2), limit=500)
        first.commit()
    finally:
        first.close()
        second.close()
    # Then the four due escalations were claimed once each, and the two not due by nobody
    assert len(held) == 3 and len(taken) == 1
    assert sorted(held + taken) == [1, 2, 3, 4]
    engine.dispose()


def test_a_days_digest_is_claimed_once_and_a_failed_day_can_be_taken_over(database_url):
    from datetime import timedelta

    from pipeline.store import digests
    from pipeline.store.db import Database

    db = Database(database_url)
    now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    try:
        # Given one scheduler claimed the day
        with db.transaction() as conn:
            assert digests.claim(conn, day="2026-11-24", recipients=["ops@acme.test"], now=now)
        # When a second one tries, it gets nothing and writes nothing
        with db.transaction() as conn:
            assert not digests.claim(conn, day="2026-11-24", recipients=["cto@acme.test"], now=now)
            assert not digests.take_over(
                conn, day="2026-11-24", recipients=["x@acme.test"], now=now, stale=timedelta(minutes=15)
            )
        with db.read() as session:
            row = digests.get(session, day="2026-11-24")
            assert row is not None and row.recipients == ["ops@acme.test"] and row.state == digests.SENDING
        # And once the day failed, a retry takes it over
        with db.transaction() as conn:
            digests.finish(conn, day="2026-11-24", state=digests.FAILED, now=now, error="relay down")
            assert digests.take_over(
                conn, day="2026-11-24", recipients=["x@acme.test"], now=now, stale=timedelta(minutes=15)
            )
    finally:
        db.dispose()
