"""The `qmark` command's contract: exit codes, explain output, JSON shapes, config errors."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys

import pytest

from pipeline.model.mail import Envelope
from pipeline.steps import process as flow
from pipeline.steps.services import utcnow
from tests.conftest import ACME, MAIL, mail_fixture
from tests.support.certs import self_signed
from tests.support.db import scalar
from tests.support.runners import ROOT, qmark_env, settings_from
from workers.cli.main import main

pytestmark = pytest.mark.integration


@pytest.fixture
def env(monkeypatch, database_url, tmp_path):
    values = qmark_env(
        database_url=database_url, redis_url="redis://127.0.0.1:1/0", outbound_url=f"maildir:{tmp_path}/sent"
    )
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    return values


def test_rules_check_passes_the_example_and_names_file_line_and_fix_for_a_broken_copy(tmp_path, capsys):
    assert main(["rules", "check", str(ACME)]) == 0
    assert "valid" in capsys.readouterr().out
    broken = tmp_path / "rules"
    shutil.copytree(ACME, broken)
    routing = broken / "routing.yaml"
    routing.write_text(routing.read_text().replace("owner: pat.owner@acme.test", "owner: pat@acme.test"))
    assert main(["rules", "check", str(broken)]) == 78
    out = capsys.readouterr().out
    assert "routing.yaml:" in out and 'owner "pat@acme.test" is not in people.yaml' in out and "Fix:" in out


def test_rules_explain_names_the_route_why_the_owner_and_the_deadline(env, capsys):
    assert main(["rules", "explain", str(MAIL / "gmail-forward.eml"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["verdict"] == "escalation"
    assert report["route"] == "billing"
    assert report["owner"] == "Pat Owner <pat.owner@acme.test>"
    assert report["deadline"].startswith("4h -> ") and "Europe/Berlin" in report["deadline"]
    assert report["why"][0].startswith("text /") and report["why"][0].endswith('matched "Charged"')
    assert report["ladder"] == "sam.manager@acme.test -> alex.vp@acme.test"


def test_rules_explain_says_why_a_message_is_not_an_escalation(env, capsys):
    assert main(["rules", "explain", str(MAIL / "note-fyi.eml")]) == 0
    out = capsys.readouterr().out
    assert "ignored" in out and "FYI" in out


def test_inject_stores_a_message_and_exits_0(env, database_url, capsys):
    assert main(["inject", str(MAIL / "gmail-forward.eml")]) == 0
    assert "stored as message 1" in capsys.readouterr().out
    assert scalar(database_url, "select channel from messages") == "inject"
    assert scalar(database_url, "select mail_from from messages") == "dana.chief@acme.test"


def test_inject_refuses_unusable_input_with_65(env, tmp_path, database_url):
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"\x00\x01 not a mail at all\n")
    assert main(["inject", str(garbage)]) == 65
    assert main(["inject", str(tmp_path / "missing.eml")]) == 65
    assert scalar(database_url, "select count(*) from messages") == 0


def test_inject_answers_75_when_the_database_is_unavailable(env, monkeypatch):
    # A database server that does not answer (a missing SQLite file is a schema to create: 78, below)
    monkeypatch.setenv("QMARK_STORAGE__DATABASE_URL", "postgresql+psycopg://qmark@127.0.0.1:1/qmark")
    assert main(["inject", str(MAIL / "gmail-forward.eml")]) == 75


def test_escalations_show_of_an_unknown_id_exits_66_and_list_is_empty_json(env, capsys):
    assert main(["escalations", "show", "Q-99"]) == 66
    assert main(["escalations", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1] or "[]") == []


def test_a_broken_config_file_stops_with_file_line_and_fix(env, tmp_path, capsys):
    config = tmp_path / "qmark.toml"
    config.write_text('[smtp]\nlisten = "127.0.0.1:2525"\nmax_message_size = "25 parsecs"\n')
    assert main(["--config", str(config), "escalations", "list"]) == 78
    err = capsys.readouterr().err
    assert "qmark.toml:3" in err and "max_message_size" in err and "Fix:" in err


# -- through the real command: --config wherever it is given, and a database without its schema ----

NO_REDIS = "redis://127.0.0.1:1/0"  # nothing listens here


def run_qmark(*args: str, cwd, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``python -m workers.cli ARGS`` in ``cwd``, with ``env``'s QMARK_* variables and none of ours."""
    clean = {key: value for key, value in os.environ.items() if not key.startswith("QMARK_")}
    return subprocess.run(
        [sys.executable, "-m", "workers.cli", *args],
        cwd=cwd,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def one_escalation(database_url, tmp_path) -> str:
    """A migrated database holding escalation Q-1 (an executive's forward, processed)."""
    from workers.bootstrap import build
    from workers.roles.group_commit import store_one

    env = qmark_env(database_url=database_url, redis_url=NO_REDIS, outbound_url=f"maildir:{tmp_path}/sent")
    app = build(settings=settings_from(env))
    envelope = Envelope("dana.chief@acme.test", ("escalations@acme.test",), "test", utcnow(), "smtp")
    message_id = store_one(app.services.db, mail_fixture("gmail-forward.eml"), envelope)
    flow.process_message(app.services, message_id)
    app.services.db.engine.dispose()
    return database_url


@pytest.mark.parametrize(
    "args",
    [
        ["--config", "{config}", "escalations", "list"],
        ["escalations", "list", "--config", "{config}"],
        ["escalations", "--config", "{config}", "list"],
        ["escalations", "list"],  # and $QMARK_CONFIG
    ],
    ids=["before the command", "after the command", "between command and sub-command", "QMARK_CONFIG"],
)
def test_the_config_file_is_read_wherever_it_is_given_and_nothing_lands_in_the_working_directory(
    one_escalation, tmp_path, args
):
    # Given a config file naming a database that holds Q-1, and an empty working directory
    config = tmp_path / "elsewhere.toml"
    config.write_text(f'[storage]\ndatabase_url = "{one_escalation}"\n')
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    args = [part.format(config=config) for part in args]
    env = {} if "--config" in args else {"QMARK_CONFIG": str(config)}
    # When the escalations are listed
    done = run_qmark(*args, "--json", cwd=cwd, env=env)
    # Then they are the configured database's, and no ./var/qmark.db (nor anything) was created
    assert done.returncode == 0, done.stderr
    [item] = json.loads(done.stdout)
    assert item["id"] == "Q-1" and item["owner"] == "pat.owner@acme.test"
    assert list(cwd.iterdir()) == []


DATABASE_COMMANDS = {
    "escalations list": ["escalations", "list"],
    "escalations show": ["escalations", "show", "Q-1"],
    "status": ["status"],
    "quarantine list": ["quarantine", "list"],
    "dead-letters list": ["dead-letters", "list"],
    "inject": ["inject", str(MAIL / "gmail-forward.eml")],
    "digest send": ["digest", "send"],
    "worker": ["worker"],
}


@pytest.mark.parametrize("command", DATABASE_COMMANDS.values(), ids=DATABASE_COMMANDS.keys())
def test_a_command_on_a_database_never_created_names_it_says_db_upgrade_and_creates_nothing(
    tmp_path, command
):
    missing = tmp_path / "new" / "qmark.db"
    env = qmark_env(
        database_url=f"sqlite:///{missing}",
        redis_url=NO_REDIS,
        outbound_url=f"maildir:{tmp_path}/sent",
        QMARK_DIGEST__RECIPIENTS="ops@acme.test",
    )
    done = run_qmark(*command, cwd=tmp_path, env=env)
    assert done.returncode == 78, done.stderr
    assert done.stderr.splitlines() == [f"qmark: there is no database at {missing}; run: qmark db upgrade"]
    assert done.stdout == ""
    assert not missing.parent.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_database_without_the_schema_or_behind_it_is_refused_until_db_upgrade(tmp_path):
    from pipeline.store.migrate import current_head, upgrade

    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()  # a file, no tables
    env = qmark_env(
        database_url=f"sqlite:///{empty}", redis_url=NO_REDIS, outbound_url=f"maildir:{tmp_path}/s"
    )
    done = run_qmark("escalations", "list", cwd=tmp_path, env=env)
    assert done.returncode == 78
    assert done.stderr.splitlines() == [f"qmark: the database {empty} has no schema; run: qmark db upgrade"]
    upgrade(f"sqlite:///{empty}", revision="0001")
    behind = run_qmark("quarantine", "list", cwd=tmp_path, env=env)
    assert behind.returncode == 78
    assert behind.stderr.splitlines() == [
        f"qmark: the database {empty} is at schema 0001, not {current_head()}; run: qmark db upgrade"
    ]
    assert run_qmark("db", "upgrade", cwd=tmp_path, env=env).returncode == 0
    listed = run_qmark("escalations", "list", cwd=tmp_path, env=env)
    assert (listed.returncode, listed.stdout.strip()) == (0, "no escalations")


def test_rules_check_and_explain_need_no_database(tmp_path):
    env = qmark_env(
        database_url="sqlite:///nowhere/qmark.db", redis_url=NO_REDIS, outbound_url="maildir:sent"
    )
    assert run_qmark("rules", "check", cwd=tmp_path, env=env).returncode == 0
    explained = run_qmark("rules", "explain", str(MAIL / "gmail-forward.eml"), cwd=tmp_path, env=env)
    assert explained.returncode == 0, explained.stderr
    assert "billing" in explained.stdout
    assert list(tmp_path.iterdir()) == []


def test_qmark_smtp_with_a_missing_tls_key_file_stops_before_listening_with_file_line_and_fix(tmp_path):
    cert, key = self_signed(tmp_path)
    config = tmp_path / "qmark.toml"
    config.write_text(f'[smtp]\nlisten = "127.0.0.1:2525"\ntls_cert = "{cert}"\ntls_key = "{key}.gone"\n')
    this_tree = {"PYTHONPATH": str(ROOT)}  # the code under test, not whichever checkout is installed
    done = run_qmark("smtp", "--config", str(config), cwd=tmp_path, env=this_tree)
    assert done.returncode == 78, done.stderr
    assert f"{config}:4" in done.stderr and "tls_key" in done.stderr and "cannot read" in done.stderr
    assert "Fix: point tls_cert and tls_key at a readable PEM certificate" in done.stderr
