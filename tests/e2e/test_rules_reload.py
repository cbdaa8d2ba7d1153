"""Rules reload through the real `qmark run`: SIGHUP and `qmark rules reload` swap the routing for the
next forward; a broken file keeps the old rules whole and the log says where."""

from __future__ import annotations

import email
import email.policy
import json
import signal
import smtplib
import urllib.request
from email.message import EmailMessage
from pathlib import Path

import pytest

from pipeline.outbound.transport import crlf
from rules.loader import load_rules
from tests.support.rules import acme_rules, edit_rules
from tests.support.runners import qmark_command, spawn, stop, wait_until
from tests.support.servers import wait_for_port
from tests.support.sink import RelaySink
from tests.support.traffic import executive_forwards

pytestmark = pytest.mark.e2e

ROLES = {"smtp", "worker", "scheduler", "http"}


def log_lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


def reloaded_roles(path: Path, event: str, **fields: object) -> set[object]:
    """The roles that logged ``event`` with ``fields`` so far."""
    return {
        line.get("role")
        for line in log_lines(path)
        if line["event"] == event and all(line.get(k) == v for k, v in fields.items())
    }


def live_rules_header(env: dict[str, str]) -> str:
    with urllib.request.urlopen(f"http://{env['QMARK_HTTP__LISTEN']}/healthz", timeout=10) as answer:
        return str(answer.headers["X-Qmark-Rules"])


class Forwards:
    """Sends the executive's "?" forwards one by one and finds qmark's forward of each to its owner."""

    def __init__(self, env: dict[str, str], sink: RelaySink) -> None:
        self.port = int(env["QMARK_SMTP__LISTEN"].rsplit(":", 1)[1])
        self.mails = executive_forwards(4, "reload")
        self.sink = sink
        self.sent = 0

    def next_owners_forward(self) -> EmailMessage:
        """Send the next forward; the mail qmark sends its owner (not the executive's acknowledgement)."""
        seq, (_, raw) = self.sent, self.mails[self.sent]
        self.sent += 1
        with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as client:
            client.sendmail("dana.chief@acme.test", ["escalations@acme.test"], crlf(raw))
        tag = f"(reload-{seq})"

        def found() -> EmailMessage | None:
            for received in self.sink.messages:
                message = email.message_from_bytes(received.data, policy=email.policy.default)
                if tag in str(message["Subject"]) and received.rcpt_tos != ("dana.chief@acme.test",):
                    return message  # type: ignore[return-value]
            return None

        return wait_until(found, timeout=30, what=f"the owner's forward of {tag}")  # type: ignore[return-value]


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    return acme_rules(tmp_path / "rules")


@pytest.fixture
def env(run_env: dict[str, str], rules_dir: Path, tmp_path: Path) -> dict[str, str]:
    return {
        **run_env,
        "QMARK_RULES__PATH": str(rules_dir),
        "QMARK_SERVICE__PID_FILE": str(tmp_path / "qmark.pid"),
    }


def test_a_reload_routes_the_next_forward_by_the_new_rules_and_a_broken_file_keeps_the_old_ones_whole(
    env, rules_dir, relay_sink, tmp_path
):
    routing, people, log = rules_dir / "routing.yaml", rules_dir / "people.yaml", tmp_path / "run.log"
    process = spawn("run", env, log)
    try:
        wait_for_port(int(env["QMARK_SMTP__LISTEN"].rsplit(":", 1)[1]), timeout=30)
        forwards = Forwards(env, relay_sink)
        # Given billing complaints go to Pat
        assert forwards.next_owners_forward()["To"].addresses[0].username == "pat.owner"

        # When routing.yaml gives billing to Lee and `qmark run` gets SIGHUP
        edit_rules(
            routing, "    owner: pat.owner@acme.test\n    deadline: 4h", "    owner: lee.logistics@acme.test"
        )
        lee = load_rules(rules_dir).version
        process.send_signal(signal.SIGHUP)
        wait_until(
            lambda: reloaded_roles(log, "rules_reloaded", version=lee) >= ROLES, what="every role reloaded"
        )
        # Then every role runs the new rules, and the next billing complaint goes to Lee
        assert live_rules_header(env).startswith(f"version={lee};")
        assert forwards.next_owners_forward()["To"].addresses[0].username == "lee.logistics"

        # When billing goes to Robin and ops run `qmark rules reload`
        edit_rules(
            routing,
            "owner: lee.logistics@acme.test\n\n  - name: shipping",
            "owner: robin.support@acme.test\n\n  - name: shipping",
        )
        robin = load_rules(rules_dir).version
        done = qmark_command(env, "rules", "reload")
        assert done.returncode == 0, done.stderr
        assert f"sent SIGHUP to {process.pid}" in done.stdout
        wait_until(
            lambda: reloaded_roles(log, "rules_reloaded", version=robin) >= ROLES, what="every role reloaded"
        )
        assert forwards.next_owners_forward()["To"].addresses[0].username == "robin.support"

        # When people.yaml renames Robin and routing.yaml breaks in the same edit
        edit_rules(people, "name: Robin Support", "name: Robin Renamed")
        edit_rules(routing, "  - name: shipping\n", "  - name: shipping\n   bad_indent: [\n")
        refused = qmark_command(env, "rules", "reload")
        # Then `qmark rules reload` refuses without signalling, naming the file and line
        assert refused.returncode == 78
        assert f"{routing}:" in refused.stdout and "Fix:" in refused.stdout
        assert "sent SIGHUP" not in refused.stdout
        assert reloaded_roles(log, "rules_reload_failed") == set()
        # And a SIGHUP anyway makes every role say why and keep the old rules
        process.send_signal(signal.SIGHUP)
        wait_until(
            lambda: (
                reloaded_roles(log, "rules_reload_failed", file=str(routing), kept_version=robin) >= ROLES
            ),
            what="every role refusing the broken rules",
        )
        assert all(
            isinstance(line.get("line"), int) and line.get("fix")
            for line in log_lines(log)
            if line["event"] == "rules_reload_failed"
        )
        assert live_rules_header(env).startswith(f"version={robin};")
        # And nothing is half-applied: billing still goes to Robin, under the old name
        forward = forwards.next_owners_forward()
        assert forward["To"].addresses[0].username == "robin.support"
        assert "Robin Renamed" not in forward.as_string()
    finally:
        stop(process, log)
    assert not (tmp_path / "qmark.pid").exists()


def test_a_sighup_while_the_roles_start_kills_none_of_them_and_each_reloads_once_ready(env, tmp_path):
    log, pid_file = tmp_path / "run.log", tmp_path / "qmark.pid"
    process = spawn("run", env, log)
    try:
        # Given `qmark run` is up (its pid file written) and its children are being started
        wait_until(pid_file.exists, timeout=30, what="the pid file")
        # When SIGHUP arrives before any child could install its reloader
        process.send_signal(signal.SIGHUP)
        # Then each role takes it once ready, and none died of it
        wait_until(lambda: reloaded_roles(log, "rules_reloaded") >= ROLES, what="every role reloaded")
        wait_for_port(int(env["QMARK_SMTP__LISTEN"].rsplit(":", 1)[1]), timeout=30)
    finally:
        stop(process, log)
    assert not [line for line in log_lines(log) if line["event"] == "role_died_restarting"]
