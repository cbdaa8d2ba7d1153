"""deploy/Dockerfile: hadolint passes it, it runs qmark as a non-root user, and its HEALTHCHECK works.

No Docker engine runs here, so the image is not built: the Dockerfile is linted (and a broken
copy shows the linter can fail), what it copies is checked against the repository and the
.dockerignore, and the HEALTHCHECK script runs against a real database and a real `qmark http`.
"""

from __future__ import annotations

import fnmatch
import os
import re
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from pipeline.store import heartbeats
from pipeline.store.db import Database
from tests.support.deploy import DEPLOY, ROOT, command_of, is_qmark_command, run, tool
from tests.support.runners import qmark_env, role_in_thread, settings_from
from tests.support.servers import wait_for_port

DOCKERFILE = DEPLOY / "Dockerfile"
IGNORE = DEPLOY / "Dockerfile.dockerignore"
HEALTHCHECK = DEPLOY / "docker" / "healthcheck.py"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) for each instruction, continuation lines joined."""
    joined = text.replace("\\\n", " ")
    found = []
    for line in joined.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            word, _, rest = stripped.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def test_hadolint_passes_the_dockerfile():
    checked = run(tool("hadolint"), "--no-color", str(DOCKERFILE))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_hadolint_fails_a_dockerfile_that_ends_as_root_and_installs_unpinned(tmp_path):
    broken = tmp_path / "Dockerfile"
    text = DOCKERFILE.read_text().replace("USER 10001:10001", "USER root")
    broken.write_text(text.replace("ENTRYPOINT", "RUN apt-get update && apt-get install -y curl\nENTRYPOINT"))
    checked = run(tool("hadolint"), "--no-color", str(broken))
    assert checked.returncode != 0
    assert "DL3002" in checked.stdout  # last USER should not be root
    assert "DL3008" in checked.stdout  # pin versions in apt-get install


def test_the_image_runs_qmark_as_a_non_root_user_with_a_role_as_command():
    steps = instructions(DOCKERFILE.read_text())
    final_stage = steps[max(i for i, (word, _) in enumerate(steps) if word == "FROM") :]
    user = [args for word, args in final_stage if word == "USER"][-1]
    assert user.split(":")[0] not in {"root", "0"}
    assert ("ENTRYPOINT", '["qmark"]') in final_stage
    [cmd] = [args for word, args in final_stage if word == "CMD"]
    assert is_qmark_command(*command_of(eval(cmd)))  # JSON array form
    [healthcheck] = [args for word, args in final_stage if word == "HEALTHCHECK"]
    assert "/opt/qmark/healthcheck.py" in healthcheck


def test_everything_the_dockerfile_copies_from_the_context_exists_and_is_not_ignored():
    patterns = [line for line in IGNORE.read_text().splitlines() if line and not line.startswith("#")]

    def ignored(path: str) -> bool:
        verdict = False
        for pattern in patterns:
            negated = pattern.startswith("!")
            bare = pattern.lstrip("!").rstrip("/")
            if fnmatch.fnmatch(path, bare) or path.startswith(bare + "/"):
                verdict = not negated
        return verdict

    copies = [args for word, args in instructions(DOCKERFILE.read_text()) if word == "COPY"]
    sources = [args.split()[0] for args in copies if not args.startswith("--from")]
    assert "pyproject.toml" in sources and "pipeline" in sources
    for source in sources:
        assert (ROOT / source).exists(), source
        assert not ignored(source), f"{source} is excluded by {IGNORE.name}"
    assert ignored(".venv") and ignored("var") and ignored("tests")


# The HEALTHCHECK script, against a real SQLite database and a real `qmark http` ------------------


def healthcheck(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(HEALTHCHECK), *args],
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def beat(database_url: str, role: str, holder: str, age: timedelta) -> None:
    db = Database(database_url)
    at = datetime.now(UTC) - age
    with db.transaction() as conn:
        heartbeats.beat(conn, role, holder, at, at)
    db.dispose()


@pytest.fixture
def env(database_url, tmp_path):
    return qmark_env(database_url=database_url, redis_url="redis://127.0.0.1:1/0", outbound_url="maildir:x")


def test_the_healthcheck_fails_without_a_heartbeat_of_this_host_and_passes_with_a_fresh_one(
    env, database_url
):
    host = socket.gethostname()
    beat(database_url, "worker", "another-container:1", timedelta(seconds=1))
    unhealthy = healthcheck(env)
    assert unhealthy.returncode == 1
    assert f"no /healthz and no heartbeat from {host}" in unhealthy.stdout
    beat(database_url, "worker", f"{host}:1", timedelta(minutes=5))
    stale = healthcheck(env)
    assert stale.returncode == 1
    assert re.search(r"last heartbeat 3\d\d s ago \(limit 60 s\)", stale.stdout), stale.stdout
    beat(database_url, "worker", f"{host}:1", timedelta(seconds=2))
    assert healthcheck(env).returncode == 0


def test_the_healthcheck_with_a_role_counts_only_that_role_s_heartbeat(env, database_url):
    host = socket.gethostname()
    beat(database_url, "http", f"{host}:7", timedelta(seconds=1))
    assert healthcheck(env, "--role", "scheduler").returncode == 1
    beat(database_url, "scheduler", f"{host}:8", timedelta(seconds=1))
    assert healthcheck(env, "--role", "scheduler").returncode == 0


def test_the_healthcheck_passes_while_qmark_http_answers_healthz(env):
    from workers.bootstrap import build
    from workers.roles import http

    app = build(settings=settings_from(env))
    assert healthcheck(env).returncode == 1  # nothing answers yet, no heartbeat
    with role_in_thread(http.serve, app):
        wait_for_port(app.settings.http.host_port[1])
        assert healthcheck(env).returncode == 0
