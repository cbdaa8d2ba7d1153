"""Several qmark "hosts" on one machine: N `qmark run` trees sharing one database and one Redis.

Each :class:`Host` has its own working directory (its ``var/``, metrics directory and log),
its own SMTP and HTTP ports, and runs ``qmark run`` in a process group of its own, so
:meth:`Host.kill` can SIGKILL the whole tree at once (``os.killpg``), as when a machine
dies. Every host gets the same secret key and rules and sends to the same relay.
Used by tests/e2e/test_two_hosts.py and bench/two_hosts.py.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.servers import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
SECRET_KEY = "two-hosts-share-this-secret"  # every host signs reply tokens with it


@dataclass
class Host:
    """One `qmark run` tree in ``workdir`` (its cwd); ``env`` is its QMARK_* configuration."""

    name: str
    workdir: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.workdir / "run.log"

    @property
    def smtp_port(self) -> int:
        return int(self.env["QMARK_SMTP__LISTEN"].rsplit(":", 1)[1])

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, *, wait: bool = True) -> None:
        """Start `qmark run` in its own session and process group; wait for its SMTP port."""
        self.starts += 1
        full_env = {**os.environ, "PYTHONPATH": str(ROOT), **self.env}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "workers.cli", "run"],
                cwd=self.workdir,
                env=full_env,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        if wait:
            wait_for_port(self.smtp_port, timeout=60)

    def kill(self) -> None:
        """SIGKILL the whole tree at once (supervisor and every role), as when the host dies."""
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self._wait_and_reap(timeout=20)

    def stop(self) -> None:
        """SIGTERM the supervisor (it stops its roles gracefully), SIGKILL what is left after a minute."""
        if not self.running:
            return
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        self._wait_and_reap(timeout=60)

    def _wait_and_reap(self, timeout: float) -> None:
        """Wait for the supervisor, then SIGKILL any role of its group still alive."""
        assert self.process is not None
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=timeout)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=20)

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""


def make_hosts(
    count: int,
    base: Path,
    *,
    database_url: str,
    redis_url: str,
    relay_port: int,
    **extra: str,
) -> list[Host]:
    """``count`` hosts under ``base`` (host-a, host-b, …), one worker and one SMTP process each."""
    hosts = []
    for index in range(count):
        name = f"host-{chr(ord('a') + index)}"
        workdir = base / name
        env = {
            "QMARK_STORAGE__DATABASE_URL": database_url,
            "QMARK_STORAGE__REDIS_URL": redis_url,
            "QMARK_OUTBOUND__URL": f"smtp://127.0.0.1:{relay_port}",
            "QMARK_SMTP__LISTEN": f"127.0.0.1:{free_port()}",
            "QMARK_SMTP__PROCESSES": "1",
            "QMARK_HTTP__LISTEN": f"127.0.0.1:{free_port()}",
            "QMARK_HTTP__METRICS_DIR": str(workdir / "var" / "metrics"),
            "QMARK_SERVICE__SECRET_KEY": SECRET_KEY,
            "QMARK_RULES__PATH": str(ROOT / "rules" / "examples" / "acme"),
            "QMARK_SCHEDULER__TICK": "1s",
            "QMARK_SCHEDULER__SWEEP_AFTER": "3s",
            "QMARK_WORKER__PROCESSES": "1",
            "QMARK_WORKER__THREADS": "4",
            "QMARK_WORKER__LEASE": "10s",
            **extra,
        }
        hosts.append(Host(name, workdir, env))
    return hosts


def migrate(database_url: str) -> None:
    """`qmark db upgrade` on the shared database, as an operator runs it once before the hosts start."""
    subprocess.run(
        [sys.executable, "-m", "workers.cli", "db", "upgrade"],
        env={**os.environ, "PYTHONPATH": str(ROOT), "QMARK_STORAGE__DATABASE_URL": database_url},
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=120,
    )
