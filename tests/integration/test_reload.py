"""Reloading a role's rules (workers.reload) on a built app, real SQLite/PostgreSQL and Redis; and
`qmark rules reload` when no qmark runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.rules import acme_rules, edit_rules
from tests.support.runners import qmark_command, qmark_env, settings_from

pytestmark = pytest.mark.integration


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    return acme_rules(tmp_path / "rules")


@pytest.fixture
def env(database_url, redis_url, rules_dir, tmp_path) -> dict[str, str]:
    return qmark_env(
        database_url=database_url,
        redis_url=redis_url,
        outbound_url=f"maildir:{tmp_path / 'sent'}",
        QMARK_RULES__PATH=str(rules_dir),
        QMARK_SERVICE__PID_FILE=str(tmp_path / "qmark.pid"),
    )


@pytest.fixture
def app(env):
    from workers.bootstrap import build

    return build(settings=settings_from(env))


def billing_owner(rules) -> str:
    return next(route.owner for route in rules.routes if route.name == "billing")


def test_a_job_that_started_before_a_reload_keeps_the_old_rules_and_the_next_job_gets_the_new(app, rules_dir):
    from workers.reload import Reloader

    # Given a job that took its runtime under the example rules
    running = app.runtime()
    before = app.rules_loaded_at
    # When routing.yaml gives billing to Lee and the process reloads
    edit_rules(rules_dir / "routing.yaml", "owner: pat.owner@acme.test", "owner: lee.logistics@acme.test")
    assert Reloader(app, "worker").reload() is True
    # Then the running job still sees Pat, the next job sees Lee, under a new version
    assert billing_owner(running.services.rules) == "pat.owner@acme.test"
    following = app.runtime().services.rules
    assert billing_owner(following) == "lee.logistics@acme.test"
    assert following.version != running.services.rules.version
    assert app.rules_loaded_at >= before


def test_a_broken_file_keeps_every_old_rule_and_a_fixed_one_reloads_all_files_at_once(app, rules_dir):
    from workers.reload import Reloader

    old = app.services
    # Given a routing change and a broken people.yaml in the same edit
    edit_rules(rules_dir / "routing.yaml", "owner: pat.owner@acme.test", "owner: lee.logistics@acme.test")
    edit_rules(
        rules_dir / "people.yaml", "name: Robin Support", "name: Robin Renamed\n    manager: nobody@acme.test"
    )
    # When the process reloads, it refuses and nothing changes: not even the valid routing.yaml
    assert Reloader(app, "worker").reload() is False
    assert app.services is old
    assert billing_owner(app.services.rules) == "pat.owner@acme.test"
    # When people.yaml is fixed, both files take effect together
    edit_rules(rules_dir / "people.yaml", "\n    manager: nobody@acme.test", "")
    assert Reloader(app, "worker").reload() is True
    assert billing_owner(app.services.rules) == "lee.logistics@acme.test"
    assert app.services.rules.person("robin.support@acme.test").name == "Robin Renamed"


def test_qmark_rules_reload_with_no_running_qmark_says_where_it_looked_and_exits_66(env, tmp_path):
    missing = qmark_command(env, "rules", "reload")
    assert missing.returncode == 66
    assert str(tmp_path / "qmark.pid") in missing.stderr
    # A pid file left by a qmark that is gone is no better
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (tmp_path / "qmark.pid").write_text(f"{gone.pid}\n")
    stale = qmark_command(env, "rules", "reload")
    assert stale.returncode == 66, stale.stdout


def test_qmark_rules_reload_refuses_broken_rules_with_file_line_and_fix_before_looking_for_qmark(
    env, rules_dir
):
    edit_rules(rules_dir / "routing.yaml", "deadline: 4h\n", "deadline: soon\n")
    refused = qmark_command(env, "rules", "reload")
    assert refused.returncode == 78
    assert f"{rules_dir / 'routing.yaml'}:" in refused.stdout and "Fix:" in refused.stdout
    assert "keeps its rules" in refused.stderr
