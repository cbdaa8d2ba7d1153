"""The action ledger as ops see it, on a real SQLite database and Redis with a clock the test holds:
``qmark actions list|show``, ``escalations show``'s progress, status, the digest and /metrics.

Q-1 (billing, Pat) opens on Tuesday 24 Nov 2026 and gets five actions; the test looks at the
ledger on Tuesday 8 Dec 2026 09:00 UTC (:data:`NOW`), when A-1 is done in time, A-3 dropped,
A-4 and A-2 overdue (A-4 the most) and A-5 not due yet. Q-2 (shipping) has no actions.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from pipeline.model.action import Action
from pipeline.model.action_items import ActionItem
from pipeline.model.mail import Address, Envelope
from pipeline.steps import process as flow
from pipeline.store import actions, heartbeats
from tests.conftest import mail_fixture
from tests.support.life import START
from tests.support.mailcheck import body_text
from tests.support.runners import qmark_env, settings_from
from workers.cli.main import build_parser, main

pytestmark = pytest.mark.integration

NOW = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
PAT, SAM = "pat.owner@acme.test", "sam.manager@acme.test"
PLAN = (  # title, owner, due (overdue from 17:00 UTC that day)
    ("Add idempotency keys to every capture call", PAT, date(2026, 12, 1)),
    ("Alert when one card is captured twice in a day", SAM, date(2026, 12, 3)),
    ("Retire the legacy gateway client", PAT, date(2026, 12, 5)),
    ("Test a capture timeout in staging", PAT, date(2026, 12, 2)),
    ("Review every retry job for idempotency", PAT, date(2026, 12, 20)),
)
EVIDENCE = "keys added to all capture calls, deployed on 30 November"
JSON_KEYS = {"id", "escalation", "title", "owner", "due", "state", "done_at"}


@pytest.fixture
def env(monkeypatch, database_url, redis_url, tmp_path):
    values = qmark_env(
        database_url=database_url, redis_url=redis_url, outbound_url=f"maildir:{tmp_path}/sent"
    )
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    return values


@pytest.fixture
def app(env):
    from workers.bootstrap import build

    built = build(settings=settings_from(env))
    svc = replace(built.services, clock=lambda: START)
    for name in ("gmail-forward.eml", "apple-forward.eml"):
        flow.process_message(svc, store(built, name))
    seed(built.services.db)
    return built


def store(app, name: str) -> int:
    from workers.roles.group_commit import store_one

    envelope = Envelope("dana.chief@acme.test", ("escalations@acme.test",), "test", START, "smtp")
    return store_one(app.services.db, mail_fixture(name), envelope)


def seed(db) -> None:
    """Q-1's five actions; A-1 done on 30 Nov (in time), A-3 dropped on 4 Dec."""
    new = [
        actions.NewAction(
            item=ActionItem(
                section="corrective_actions",
                line=f"- {title}, {owner}, {due}",
                title=title,
                owner=owner,
                due=due,
            ),
            due_at=datetime(due.year, due.month, due.day, 17, 0, tzinfo=UTC),
            chase_at=None,
        )
        for title, owner, due in PLAN
    ]
    with db.transaction() as conn:
        assert actions.add(conn, escalation_id=1, actions=new, now=START + timedelta(days=1)) == [
            1,
            2,
            3,
            4,
            5,
        ]
    with db.transaction() as conn:
        done = as_loaded(1)
        done.done(now=datetime(2026, 11, 30, 12, 0, tzinfo=UTC), actor=PAT, evidence=EVIDENCE)
        actions.save(conn, action=done)
        dropped = as_loaded(3)
        dropped.drop(
            now=datetime(2026, 12, 4, 10, 0, tzinfo=UTC), actor=PAT, reason="the client goes with Q1"
        )
        actions.save(conn, action=dropped)


def as_loaded(number: int) -> Action:
    """Action ``number`` of :data:`PLAN` as ``actions.load`` would give it (built here: on main,
    ``load`` reads an ORM entity through a Core connection and gets the id back, not the row)."""
    title, owner, due = PLAN[number - 1]
    due_at = datetime(due.year, due.month, due.day, 17, 0, tzinfo=UTC)
    opened = START + timedelta(days=1)
    return Action(number, 1, "corrective_actions", title, owner, due, due_at, clock_started_at=opened)


def run(app, *argv: str, now: datetime = NOW) -> int:
    """``qmark actions ...`` as the command runs it, with the clock at ``now``."""
    from workers.cli.actions import list_command, show_command

    args = build_parser().parse_args(["actions", *argv])
    command = list_command if args.subcommand == "list" else show_command
    return command(app.services.db, args, now=now)


def listed(app, capsys, *argv: str) -> list[dict]:
    assert run(app, "list", "--json", *argv) == 0
    return json.loads(capsys.readouterr().out)


# -- qmark actions list ----------------------------------------------------------------------------


def test_the_json_list_has_the_contract_s_keys_oldest_first(app, capsys):
    found = listed(app, capsys)
    assert [item["id"] for item in found] == ["A-1", "A-2", "A-3", "A-4", "A-5"]
    assert all(set(item) >= JSON_KEYS for item in found)
    first = found[0]
    assert {key: first[key] for key in JSON_KEYS} == {
        "id": "A-1",
        "escalation": "Q-1",
        "title": "Add idempotency keys to every capture call",
        "owner": PAT,
        "due": "2026-12-01",
        "state": "done",
        "done_at": "2026-11-30T12:00:00+00:00",
    }
    assert [item["state"] for item in found] == ["done", "open", "dropped", "open", "open"]
    assert [item["overdue"] for item in found] == [False, True, False, True, False]
    assert found[1]["done_at"] is None


def test_open_overdue_and_owner_filter_the_list(app, capsys):
    assert [item["id"] for item in listed(app, capsys, "--open")] == ["A-2", "A-4", "A-5"]
    assert [item["id"] for item in listed(app, capsys, "--overdue")] == ["A-4", "A-2"]  # most overdue first
    assert [item["id"] for item in listed(app, capsys, "--owner", "Sam.Manager@ACME.test")] == ["A-2"]
    assert [item["id"] for item in listed(app, capsys, "--open", "--owner", PAT)] == ["A-4", "A-5"]
    # a week earlier nothing was overdue yet
    assert run(app, "list", "--overdue", now=datetime(2026, 12, 1, 9, 0, tzinfo=UTC)) == 0
    assert capsys.readouterr().out.strip() == "no actions"


def test_open_and_overdue_together_are_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as refused:
        build_parser().parse_args(["actions", "list", "--open", "--overdue"])
    assert refused.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_the_table_marks_the_overdue_ones(app, capsys):
    assert run(app, "list") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["ID", "ESCALATION", "STATE", "OWNER", "DUE", "TITLE"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert set(rows) == {"A-1", "A-2", "A-3", "A-4", "A-5"}
    assert "2026-12-02 overdue" in rows["A-4"] and "Test a capture timeout in staging" in rows["A-4"]
    assert "2026-12-03 overdue" in rows["A-2"] and SAM in rows["A-2"]
    assert "overdue" not in rows["A-1"] and "overdue" not in rows["A-5"]


def test_the_command_itself_lists_the_actions(app, capsys):
    assert main(["actions", "list", "--json"]) == 0
    assert [item["id"] for item in json.loads(capsys.readouterr().out)] == ["A-1", "A-2", "A-3", "A-4", "A-5"]


# -- qmark actions show ----------------------------------------------------------------------------


def test_show_prints_every_field_the_evidence_and_the_action_s_own_events(app, capsys):
    assert run(app, "show", "A-1") == 0
    out = capsys.readouterr().out
    for line in (
        "id:          A-1",
        "escalation:  Q-1",
        "state:       done",
        f"owner:       {PAT}",
        "due:         2026-12-01",
        "done_at:     2026-11-30 12:00",
        f"evidence:    {EVIDENCE}",
    ):
        assert line in out, line
    history = out.split("history:", 1)[1].splitlines()[1:]
    assert len(history) == 1 and "action_done" in history[0] and "in_time=True" in history[0]
    assert "action_dropped" not in out  # A-3's event is on the same trail, not A-1's


def test_show_of_a_dropped_action_gives_the_reason_and_an_overdue_one_says_so(app, capsys):
    assert run(app, "show", "A-3") == 0
    out = capsys.readouterr().out
    assert "dropped:     the client goes with Q1" in out and "action_dropped" in out
    assert run(app, "show", "a-4") == 0
    out = capsys.readouterr().out
    assert "due:         2026-12-02 (overdue)" in out and "history:    (nothing yet)" in out


def test_show_json_has_the_keys_and_only_the_action_s_events(app, capsys):
    assert run(app, "show", "A-1", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) >= JSON_KEYS and data["evidence"] == EVIDENCE and data["dropped_reason"] == ""
    assert [(e["kind"], e["detail"]["action"]) for e in data["events"]] == [("action_done", "A-1")]
    assert run(app, "show", "3", "--json") == 0
    assert json.loads(capsys.readouterr().out)["dropped_reason"] == "the client goes with Q1"


def test_an_unknown_action_exits_66_and_a_malformed_id_65(app, capsys):
    assert main(["actions", "show", "A-99"]) == 66
    assert "no action A-99" in capsys.readouterr().err
    assert main(["actions", "show", "Q-1"]) == 65
    assert "'Q-1' is not an action id (A-<n>)" in capsys.readouterr().err


# -- qmark escalations show/list -------------------------------------------------------------------


def test_escalations_show_says_how_many_actions_are_done_and_lists_them(app, capsys):
    assert main(["escalations", "show", "Q-1"]) == 0
    out = capsys.readouterr().out
    assert "actions:    1 of 4 done" in out  # the dropped one is not counted
    lines = [line.split() for line in out.splitlines() if line.startswith("  A-")]
    assert [(words[0], words[1]) for words in lines] == [
        ("A-1", "done"),
        ("A-2", "open"),
        ("A-3", "dropped"),
        ("A-4", "open"),
        ("A-5", "open"),
    ]
    assert main(["escalations", "show", "Q-2"]) == 0
    assert "actions:" not in capsys.readouterr().out


def test_escalations_show_json_gains_the_actions_and_the_progress(app):
    from pipeline.ops.escalations import details, list_summaries

    data = details(app.services.db, number=1, now=NOW)
    assert data["action_progress"] == {"done": 1, "of": 4}
    assert [a["id"] for a in data["actions"]] == ["A-1", "A-2", "A-3", "A-4", "A-5"]
    assert all(set(a) >= JSON_KEYS for a in data["actions"])
    assert data["actions"][3]["overdue"] is True and data["actions"][4]["overdue"] is False
    other = details(app.services.db, number=2, now=NOW)
    assert (other["actions"], other["action_progress"]) == ([], None)
    progress = {row["id"]: row["action_progress"] for row in list_summaries(app.services.db)}
    assert progress == {"Q-1": {"done": 1, "of": 4}, "Q-2": None}


# -- status, digest, metrics -----------------------------------------------------------------------

FIGURE = "actions done by their due date: 1 of 3 (33%); 2 overdue now"


def test_status_lists_the_overdue_actions_and_the_honest_figure_without_changing_the_verdict(app):
    from workers.cli.status import text
    from workers.ops.status import report

    with app.services.db.transaction() as conn:
        for role in ("worker", "scheduler"):
            heartbeats.beat(conn, role, f"{role}-test", NOW, NOW)
    data = report(app, now=NOW)
    assert (data["verdict"], data["reasons"]) == ("ok", [])  # people's lateness, not qmark's fault
    ledger = data["actions"]
    assert ledger["by_state"] == {"open": 3, "done": 1, "dropped": 1}
    assert (ledger["overdue"], ledger["due_so_far"], ledger["done_in_time"]) == (2, 3, 1)
    assert [a["id"] for a in ledger["most_overdue"]] == ["A-4", "A-2"]
    shown = text(data).splitlines()
    start = shown.index("actions      open 3, done 1, dropped 1")
    assert shown[start + 1 : start + 5] == [
        f"  {FIGURE}",
        "  overdue, most overdue first:",
        f"    A-4  Q-1  5d 16h late  {PAT}: Test a capture timeout in staging",
        f"    A-2  Q-1  4d 16h late  {SAM}: Alert when one card is captured twice in a day",
    ]


def test_status_lists_at_most_the_limit_and_says_how_many_more(app):
    from pipeline.ops.actions import ledger, overdue_lines

    found = ledger(app.services.db, now=NOW, limit=1)
    assert overdue_lines(found["most_overdue"], found["overdue"]) == [
        f"A-4  Q-1  5d 16h late  {PAT}: Test a capture timeout in staging",
        "and 1 more",
    ]


def test_the_digest_lists_overdue_actions_and_ends_its_statistics_with_the_honest_figure(app):
    from pipeline.ops.digest import digest_data, overdue_actions
    from pipeline.outbound.digest import render_digest

    db = app.services.db
    facts, stats_lines = digest_data(db, day="2026-12-08", now=NOW, sections=app.services.rules.rca.sections)
    assert stats_lines[-1] == FIGURE
    late = overdue_actions(db, now=NOW)
    assert ([item.ref for item in late.items], late.total) == (["A-4", "A-2"], 2)
    mail = render_digest(
        facts,
        stats_lines=stats_lines,
        identity=app.services.identity,
        recipient=Address("ops@acme.test"),
        day="2026-12-08",
        actions=late,
    )
    body = body_text(mail)
    section = body.split("Actions overdue: 2\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert section == [
        f"- A-4  5d 16h late  {PAT} (Q-1): Test a capture timeout in staging",
        f"- A-2  4d 16h late  {SAM} (Q-1): Alert when one card is captured twice in a day",
    ]
    assert body.index("Actions overdue") < body.index("Statistics") and f"- {FIGURE}" in body


def test_metrics_count_actions_by_state_and_the_overdue_ones(app, redis_url):
    import redis

    from workers.ops.metrics.collector import QmarkCollector

    client = redis.Redis.from_url(redis_url)
    collector = QmarkCollector(app.services.db, client, clock=lambda: NOW)
    families = {family.name: family for family in collector.collect()}
    by_state = {s.labels["state"]: s.value for s in families["qmark_actions"].samples}
    assert by_state == {"open": 3, "done": 1, "dropped": 1}
    [overdue] = families["qmark_actions_overdue"].samples
    assert overdue.value == 2
    earlier = QmarkCollector(app.services.db, client, clock=lambda: datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    [none_yet] = {f.name: f for f in earlier.collect()}["qmark_actions_overdue"].samples
    assert none_yet.value == 0
