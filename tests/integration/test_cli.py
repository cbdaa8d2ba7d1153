"""The `qmark` command's contract: exit codes, explain output, JSON shapes, config errors."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.conftest import ACME, MAIL
from tests.support.db import scalar
from tests.support.runners import qmark_env
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
