"""Repeat complaints on a real database: the bounded lookup (pipeline.store.related) and migration 0009
on SQLite and PostgreSQL, and the opening step recording a fix that did not hold (pipeline.steps.related).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, insert, text

from pipeline.model.related import Probe, complaint_key, domain_of
from pipeline.store.db import Database
from pipeline.store.models import EscalationRow
from tests.conftest import mail_fixture
from tests.integration.test_replies import DANA, PAT, make_life
from tests.support.db import rows, scalar
from tests.support.replies import WRITEUP, body_of, parsed

pytestmark = pytest.mark.integration

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
CHARGED = ("Charged twice for invoice 4411", "I was charged twice for invoice 4411. Please refund it.")


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request, tmp_path):
    """An empty database, SQLite or PostgreSQL, without any schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'qmark.db'}"
    return str(request.getfixturevalue("empty_postgres"))


@pytest.fixture
def url(empty_url):
    from pipeline.store.migrate import upgrade

    upgrade(empty_url)
    return empty_url


def escalation(number: int, customer: str, *, route="billing", days=10, subject="Something else", body=""):
    opened = NOW - timedelta(days=days)
    return {
        "id": number, "state": "closed", "executive": "dana.chief@acme.test", "executive_name": "Dana",
        "owner": "pat.owner@acme.test", "owner_name": "Pat", "route": route, "deadline": opened,
        "opened_at": opened, "closed_at": opened + timedelta(days=1), "subject": subject,
        "customer": customer, "executive_note": "?", "source_message_id": number, "dedupe_key": f"k{number}",
        "explanation": "", "writeup": {"root_cause": f"Cause {number}."}, "root_cause_at": opened,
        "extended": False, "reopened": 0, "clock_business": False, "chase_phase": 0, "chase_slot": 0,
        "paused_seconds": 0.0, "customer_domain": domain_of(customer),
        "complaint_key": complaint_key(subject, body),
    }  # fmt: skip


def seed(url: str, *items: dict[str, object]) -> Database:
    db = Database(url)
    with db.transaction() as conn:
        conn.execute(insert(EscalationRow), list(items))
    return db


def found(db: Database, probe: Probe, **kwargs) -> list[int]:
    from pipeline.store import related

    with db.read() as session:
        return sorted(c.number for c in related.candidates(session, probe=probe, now=NOW, **kwargs))


def probe(customer: str, route: str = "billing") -> Probe:
    return Probe.of(customer=customer, route=route, subject=CHARGED[0], body=CHARGED[1])


def test_the_lookup_finds_customer_domain_and_route_within_the_year_only(url):
    db = seed(
        url,
        escalation(1, "jordan@shop.example", route="shipping"),
        escalation(2, "taylor@shop.example", route="shipping"),
        escalation(3, "sam@else.example", route="billing"),
        escalation(4, "sam@else.example", route="shipping"),
        escalation(5, "jordan@shop.example", route="shipping", days=400),  # older than a year
        escalation(6, "jordan@shop.example", route="shipping", days=-1),  # opened after now
    )
    try:
        assert found(db, probe("jordan@shop.example")) == [1, 2, 3]
        assert found(db, probe("jordan@shop.example"), window=timedelta(days=500)) == [1, 2, 3, 5]
        assert found(db, probe("nobody@nowhere.example", route="key-account")) == []
    finally:
        db.dispose()


def test_free_mail_is_looked_up_by_address_never_by_domain(url):
    db = seed(
        url,
        escalation(1, "jordan@gmail.com", route="shipping"),
        escalation(2, "someone@gmail.com", route="shipping"),
    )
    try:
        assert found(db, probe("jordan@gmail.com")) == [1]
    finally:
        db.dispose()


def test_each_kind_reads_at_most_its_limit_newest_first(url):
    from pipeline.store import related

    many = [escalation(n, f"c{n}@shop.example", route="shipping", days=n) for n in range(1, 31)]
    db = seed(url, *many)
    try:
        assert found(db, probe("x@shop.example")) == list(range(1, related.PER_DOMAIN + 1))
    finally:
        db.dispose()


def test_action_progress_counts_done_of_not_dropped_through_a_session_or_a_connection(url):
    from pipeline.model.action_items import ActionItem
    from pipeline.store import actions

    db = seed(url, escalation(1, "jordan@shop.example"), escalation(2, "taylor@shop.example"))
    item = ActionItem("corrective_actions", "Fix", "- Fix", "pat.owner@acme.test", NOW.date())
    try:
        with db.transaction() as conn:
            numbers = actions.add(
                conn, escalation_id=1, actions=[actions.NewAction(item, NOW, None)] * 3, now=NOW
            )
            for number, state in zip(numbers, ("done", "dropped", "open"), strict=True):
                conn.execute(text("update actions set state = :s where id = :n"), {"s": state, "n": number})
        with db.read() as session:
            assert actions.progress(session, escalation_ids=[1, 2, 3]) == {1: (1, 2)}
        with db.transaction() as conn:
            assert actions.progress(conn, escalation_ids=[2, 1]) == {1: (1, 2)}
    finally:
        db.dispose()


def test_the_progress_of_any_number_of_escalations_is_one_statement_text_on_postgresql(empty_postgres):
    from sqlalchemy import event

    from pipeline.store import actions
    from pipeline.store.migrate import upgrade

    upgrade(empty_postgres)
    db = Database(empty_postgres)
    sent: list[str] = []
    event.listen(db.engine, "before_cursor_execute", lambda _c, _cur, statement, *_: sent.append(statement))
    try:
        with db.read() as session:
            for count in (1, 3, 120):
                assert actions.progress(session, escalation_ids=list(range(1, count + 1))) == {}
    finally:
        db.dispose()
    assert len(sent) == 3
    assert len(set(sent)) == 1  # psycopg caches its conversion and the server can reuse the plan


def test_the_earlier_escalations_are_read_with_their_writeup(url):
    from pipeline.store import related

    db = seed(url, escalation(7, "jordan@shop.example"))
    try:
        with db.read() as session:
            [(number, row)] = related.shown(session, numbers=[7, 99]).items()
        assert number == 7 and row.state == "closed" and row.writeup == {"root_cause": "Cause 7."}
    finally:
        db.dispose()


def test_migration_0009_backfills_the_domain_and_the_subject_text(empty_url):
    from pipeline.store.migrate import upgrade

    url = empty_url
    upgrade(url, "0008")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "insert into escalations (id, state, executive, executive_name, owner, owner_name, route,"
                " deadline, opened_at, subject, customer, executive_note, source_message_id, dedupe_key,"
                " explanation, writeup, extended, reopened, clock_business, chase_phase, chase_slot,"
                " paused_seconds, root_cause_at) values (1, 'closed', 'e', 'E', 'o', 'O', 'billing',"
                " :at, :at, 'Fwd: Charged twice for invoice 4411', 'Jordan@Shop.Example', '?', 1, 'k',"
                " '', '{}', false, 0, false, 0, 0, 0, :at)"
            ),
            {"at": "2026-12-01 09:00:00"},
        )
    engine.dispose()
    upgrade(url)
    [(domain, key)] = rows(url, "select customer_domain, complaint_key from escalations")
    assert (domain, key) == ("shop.example", "charged twice invoice")


def test_the_sqlite_lookup_reads_indexes_not_the_table(tmp_path):
    from pipeline.store.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'plan.db'}"
    upgrade(url)
    for column in ("customer", "customer_domain", "route"):
        sql = (
            "explain query plan select id, customer, customer_domain, route, complaint_key, opened_at"
            f" from escalations where {column} = 'x' and opened_at >= '2026' and opened_at < '2027'"
            " order by opened_at desc limit 10"
        )
        plan = " ".join(str(r[-1]) for r in rows(url, sql))
        assert f"SEARCH escalations USING INDEX ix_escalations_{column}_opened_at" in plan, plan
        assert "SCAN" not in plan and "TEMP B-TREE" not in plan, plan


# The opening step -----------------------------------------------------------------------------------


def billing(n: int) -> bytes:
    """Dana's billing forward again, as a new mail (its own Message-ID): the same customer."""
    return mail_fixture("gmail-forward.eml").replace(b"Message-ID: <", f"Message-ID: <copy{n}.".encode(), 1)


@pytest.fixture
def closed_life(database_url, redis_url, relay_sink, tmp_path):
    """Q-1 opened from Jordan's billing complaint and closed by ops with the shared writeup."""
    from pipeline.steps.close import close_with_writeup

    life = make_life(database_url, redis_url, relay_sink, tmp_path)
    life.deliver(mail_fixture("gmail-forward.eml"))
    life.new_mail(2)
    life.tick(hours=1)
    close_with_writeup(life.svc, number=1, text=WRITEUP, actor="ops@acme.test")
    assert life.state(1) == "closed"
    life.tick(days=20)
    return life


def add_actions(life, *states: str) -> None:
    """Q-1's actions become exactly ``states`` (whatever the close made of the shared writeup)."""
    from pipeline.model.action_items import ActionItem
    from pipeline.store import actions

    due = life.now.date()
    items = [
        actions.NewAction(
            ActionItem("corrective_actions", f"Fix {n}", f"- Fix {n}", PAT, due), life.now, None
        )
        for n, _ in enumerate(states)
    ]
    with life.svc.db.transaction() as conn:
        conn.execute(text("delete from actions where escalation_id = 1"))
        numbers = actions.add(conn, escalation_id=1, actions=items, now=life.now)
        for number, state in zip(numbers, states, strict=True):
            conn.execute(text("update actions set state = :s where id = :n"), {"s": state, "n": number})


def test_a_repeat_after_a_fix_that_held_for_every_action_is_recorded_on_both_and_the_owner_told(closed_life):
    from pipeline.ops.escalations import details
    from pipeline.steps.process import process_message
    from pipeline.store import related

    life = closed_life
    add_actions(life, "done", "done", "dropped")
    message_id = life.deliver(billing(2))
    mails = life.new_mail(3)
    forwards = [m.data for m in mails if m.rcpt_tos == (PAT,) and "[Q-2]" in str(parsed(m.data)["Subject"])]
    fix = [m.data for m in mails if "[Q-1]" in str(parsed(m.data)["Subject"])]
    assert len(forwards) == 1 and len(fix) == 1
    assert "Seen before:\n- Q-1 (closed 2026-11-24, owner Pat Owner): root cause" in body_of(forwards[0])
    assert "actions 2 of 2 done — same customer; same route and similar text 100%" in body_of(forwards[0])
    assert "Q-1's fix did not hold: Q-2 is the same complaint" in body_of(fix[0])
    assert parsed(fix[0])["To"] is not None and PAT in str(parsed(fix[0])["To"])
    assert "recurred_after_fix" in life.events(1) and "recurred_after_fix" in life.events(2)
    assert scalar(life.url, "select recurred_after from escalations where id = 2") == 1
    # When the step runs again for the same message, nothing more is written or sent
    assert process_message(life.svc, message_id) == []
    assert life.events(1).count("recurred_after_fix") == 1 and life.new_mail() == []
    with life.svc.db.read() as session:
        assert related.recurrence_count(session) == 1
    shown = details(life.svc.db, number=2)
    assert shown is not None and shown["related"] == [
        {"id": "Q-1", "why": "same customer; same route and similar text 100%", "state": "closed",
         "root_cause": "Why charged twice? The capture was retried."}
    ]  # fmt: skip


def test_with_an_action_still_open_the_earlier_one_is_seen_but_nothing_recurred(closed_life):
    life = closed_life
    add_actions(life, "done", "open")
    life.deliver(billing(2))
    by_rcpt = life.by_recipient(2)
    assert set(by_rcpt) == {PAT, DANA}
    assert "- Q-1 (closed 2026-11-24, owner Pat Owner)" in body_of(by_rcpt[DANA])
    assert "actions 1 of 2 done" in body_of(by_rcpt[PAT])
    assert "recurred_after_fix" not in life.events(2) and "seen_before" in life.events(2)
    assert scalar(life.url, "select recurred_after from escalations where id = 2") is None
