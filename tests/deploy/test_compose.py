"""deploy/compose.yaml: valid against the Compose specification, and a demo that can start.

No Docker engine runs here: the file is checked with check-jsonschema's vendored compose-spec
schema (a copy with a typo proves it can fail), and what it would run is checked for sense —
every qmark service runs a real qmark command, after the one-shot migration, on healthy
PostgreSQL and Redis, with the relay sink as outbound.
"""

from __future__ import annotations

import yaml

from tests.support.deploy import DEPLOY, command_of, is_qmark_command, run, tool

COMPOSE = DEPLOY / "compose.yaml"
ROLES = {"smtp", "worker", "scheduler", "http"}


def services() -> dict[str, dict]:
    return yaml.safe_load(COMPOSE.read_text())["services"]  # resolves the << merge keys


def check(path) -> tuple[int, str]:
    checked = run(tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(path))
    return checked.returncode, checked.stdout + checked.stderr


def test_the_compose_file_is_valid_against_the_compose_specification():
    code, output = check(COMPOSE)
    assert code == 0, output


def test_a_compose_file_with_a_misspelt_key_is_refused(tmp_path):
    broken = tmp_path / "compose.yaml"
    broken.write_text(COMPOSE.read_text().replace('command: ["worker"]', 'comand: ["worker"]'))
    code, output = check(broken)
    assert code != 0
    assert "'comand' was unexpected" in output


def test_every_qmark_service_runs_a_real_qmark_command():
    found = {name: service for name, service in services().items() if service.get("image") == "qmark:latest"}
    assert set(found) == ROLES | {"migrate"}
    for name, service in found.items():
        path = command_of(service["command"])
        assert is_qmark_command(*path), f"{name}: qmark {' '.join(path)} is not a qmark command"
    assert found["migrate"]["command"] == ["db", "upgrade"]
    assert {name: found[name]["command"] for name in ROLES} == {name: [name] for name in ROLES}


def test_the_roles_start_after_the_migration_on_healthy_postgres_and_redis():
    found = services()
    for role in ROLES:
        after = found[role]["depends_on"]
        assert after["migrate"] == {"condition": "service_completed_successfully"}, role
        assert after["redis"] == {"condition": "service_healthy"}, role
    assert found["migrate"]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    assert found["migrate"]["restart"] == "no"
    for server in ("postgres", "redis"):
        assert found[server]["healthcheck"]["test"], server


def test_every_role_shares_one_database_one_redis_one_secret_and_mails_through_mailpit():
    found = services()
    environments = [found[name]["environment"] for name in ROLES | {"migrate"}]
    assert all(environment == environments[0] for environment in environments)
    environment = environments[0]
    assert "@postgres:5432/qmark" in environment["QMARK_STORAGE__DATABASE_URL"]
    assert environment["QMARK_STORAGE__REDIS_URL"] == "redis://redis:6379/0"
    assert environment["QMARK_OUTBOUND__URL"] == "smtp://mailpit:1025"
    assert environment["QMARK_SERVICE__SECRET_KEY"].startswith("${QMARK_SECRET_KEY:-")
    assert found["smtp"]["ports"] == ["127.0.0.1:2525:2525"]
