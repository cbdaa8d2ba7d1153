"""Dead letters on a real Redis and a real relay sink: listed with their reason, replayed once fixed."""

from __future__ import annotations

import email
import json

import pytest
import redis
from sqlalchemy import create_engine, text

from pipeline.steps import process as flow
from tests.support.db import rows, scalar
from tests.support.dead_letters import build, listed, printed, store
from tests.support.runners import qmark_env, role_in_thread, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def env(database_url, redis_url, relay_sink):
    return qmark_env(
        database_url=database_url, redis_url=redis_url, outbound_url=f"smtp://127.0.0.1:{relay_sink.port}"
    )


def failing_fast(env):
    """An app whose process jobs go to the dead letters at their first failure."""
    app = build(env)
    app.graph.process.options["max_retries"] = 0  # read by dramatiq's Retries middleware per message
    return app


def missing_table(database_url: str) -> str:
    """How the store's driver words the error of a query on the renamed-away table."""
    if database_url.startswith("sqlite"):
        return "OperationalError: no such table: escalation_numbers"
    return 'ProgrammingError: relation "escalation_numbers" does not exist'


def rename(database_url: str, old: str, new: str) -> None:
    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(text(f"alter table {old} rename to {new}"))
    finally:
        engine.dispose()


def dead_jobs(redis_url: str, queue: str = "process") -> int:
    return int(redis.Redis.from_url(redis_url).zcard(f"qmark:{queue}.XQ"))


def test_a_job_failing_on_purpose_appears_in_dead_letters_and_replays_once_the_fault_is_removed(
    env, database_url, redis_url, relay_sink, capsys
):
    from workers.cli import dead_letters as deadletters
    from workers.roles import worker

    app = failing_fast(env)
    # Given escalations cannot be numbered: opening one fails
    rename(database_url, "escalation_numbers", "escalation_numbers_away")
    with role_in_thread(worker.serve, app):
        # When an executive's forward is processed
        message_id = store(app, "gmail-forward.eml")
        wait_until(lambda: dead_jobs(redis_url) == 1, what="the process job in the dead letters")
        # Then the dead letter names the actor, the message, its sender and subject, and the error
        [item] = listed(capsys, app.settings)
        assert item["actor"] == "process_messages" and item["queue"] == "process" and item["kind"] == "job"
        assert item["ids"] == item["message_ids"] == [message_id] == item["unfinished"]
        assert missing_table(database_url).split(": ", 1)[1] in item["reason"]
        assert item["sender"] == "Dana Chief <dana.chief@acme.test>"
        assert item["subject"] == "Fwd: Charged twice for invoice 4411"
        assert item["retries"] == 0 and item["job_error"] is None  # dramatiq kept no traceback
        assert item["when"] == item["dead_at"] and item["dead_at"] >= item["enqueued_at"]
        assert item["expires_at"] > item["dead_at"]
        assert deadletters.list_command(app.settings, as_json=False) == 0
        table = printed(capsys)
        assert item["id"] in table and "process_messages" in table and f"message {message_id}" in table
        assert missing_table(database_url).split(": ", 1)[1] in table and "Fwd: Charged twice" in table
        # When the fault is removed and the dead letter replayed
        rename(database_url, "escalation_numbers_away", "escalation_numbers")
        assert deadletters.replay_command(app.settings, ident=item["id"], replay_all=False) == 0
        assert "back on queue 'process' with fresh retries" in printed(capsys)
        # Then the escalation opens and the owner's forward reaches the relay
        received = relay_sink.wait_for(2)
    owners = [r for r in received if r.rcpt_tos == ("pat.owner@acme.test",)]
    assert len(owners) == 1 and email.message_from_bytes(owners[0].data)["Subject"].startswith("[Q-")
    assert scalar(database_url, "select count(*) from escalations") == 1
    assert rows(database_url, "select state, outcome from messages") == [("done", "escalation")]
    assert dead_jobs(redis_url) == 0
    assert listed(capsys, app.settings) == []


def test_replay_all_enqueues_every_dead_job_again_and_an_unknown_id_is_66(
    env, database_url, redis_url, relay_sink, capsys
):
    from workers.cli import dead_letters as deadletters
    from workers.roles import worker

    app = failing_fast(env)
    assert deadletters.replay_command(app.settings, ident=None, replay_all=True) == 0
    assert "no dead letters" in printed(capsys)
    rename(database_url, "escalation_numbers", "escalation_numbers_away")
    with role_in_thread(worker.serve, app):
        store(app, "gmail-forward.eml")
        store(app, "apple-forward.eml")
        wait_until(lambda: dead_jobs(redis_url) == 2, what="both process jobs in the dead letters")
        assert deadletters.replay_command(app.settings, ident="not-a-dead-letter", replay_all=False) == 66
        assert deadletters.replay_command(app.settings, ident="mail-999", replay_all=False) == 66
        assert "no dead letter 'mail-999'" in capsys.readouterr().err
        rename(database_url, "escalation_numbers_away", "escalation_numbers")
        assert deadletters.replay_command(app.settings, ident=None, replay_all=True) == 0
        assert printed(capsys).count("back on queue 'process' with fresh retries") == 2
        relay_sink.wait_for(4)
    assert scalar(database_url, "select count(*) from escalations") == 2
    assert dead_jobs(redis_url) == 0


def test_a_replayed_job_whose_work_was_done_meanwhile_does_nothing(
    env, database_url, redis_url, relay_sink, capsys
):
    from workers.cli import dead_letters as deadletters
    from workers.roles import worker

    app = failing_fast(env)
    rename(database_url, "escalation_numbers", "escalation_numbers_away")
    with role_in_thread(worker.serve, app):
        message_id = store(app, "gmail-forward.eml")
        wait_until(lambda: dead_jobs(redis_url) == 1, what="the process job in the dead letters")
        rename(database_url, "escalation_numbers_away", "escalation_numbers")
        # Given the sweeper (here: the flow by hand) did the work after all
        assert len(flow.process_message(app.services, message_id)) == 2
        [item] = listed(capsys, app.settings)
        assert item["unfinished"] == [] and "replay does nothing" in item["reason"]
        assert item["escalations"] == ["Q-1"]
        assert deadletters.replay_command(app.settings, ident=item["id"][:8], replay_all=False) == 0
        wait_until(lambda: dead_jobs(redis_url) == 0, what="the dead letter gone")
        wait_until(
            lambda: redis.Redis.from_url(redis_url).hlen("qmark:process.msgs") == 0, what="the job run"
        )
    assert scalar(database_url, "select count(*) from escalations") == 1
    assert scalar(database_url, "select count(*) from outbound_mails") == 2


def test_a_retried_job_keeps_the_traceback_and_time_of_the_failure_before_the_last(
    env, database_url, redis_url, relay_sink, capsys
):
    from workers.roles import worker

    app = failing_fast(env)
    app.graph.process.options.update(max_retries=1, min_backoff=10, max_backoff=20)
    rename(database_url, "escalation_numbers", "escalation_numbers_away")
    with role_in_thread(worker.serve, app):
        store(app, "gmail-forward.eml")
        wait_until(lambda: dead_jobs(redis_url) == 1, what="the retried job in the dead letters")
        [item] = listed(capsys, app.settings)
    # Dramatiq stores the message as last enqueued: the retry carried the first failure's traceback
    assert item["retries"] == 1
    assert item["job_error"].startswith(missing_table(database_url))
    assert item["reason"] == item["job_error"]
    assert item["enqueued_at"] <= item["last_retry_at"] <= item["dead_at"]
    assert scalar(database_url, "select attempts from messages") == 2


def test_the_cli_lists_dead_letters_as_json(env, monkeypatch, tmp_path, capsys):
    from workers.cli.main import main

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    assert main(["dead-letters", "list", "--json"]) == 0
    assert json.loads(printed(capsys)) == []
    assert main(["dead-letters", "replay", "0123456789"]) == 66
