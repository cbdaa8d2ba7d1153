"""Real servers for tests, started on 127.0.0.1: Redis (and, later, Dovecot).

A missing server binary fails the test with the install command; on CI it is
never skipped (DESIGN §7).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def require_binary(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise AssertionError(f"{name} is not installed: run `make test` (or apt-get install -y {package})")
    return path


class RedisServer:
    """A throwaway redis-server on a free port, without persistence: a restart wipes it."""

    def __init__(self, workdir: Path, *, args: Sequence[str] = ()) -> None:
        self.binary = require_binary("redis-server", "redis-server")
        self.workdir = workdir
        self.port = free_port()
        self.args = list(args)  # more redis-server options, e.g. ["--replicaof", "127.0.0.1", "6379"]
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                self.binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
                *self.args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()  # SIGKILL: whatever was queued is gone, as in a crash
            self.process.wait()
        self.process = None

    def restart_wiped(self) -> None:
        """Kill Redis and start an empty one on the same port: every queued job is lost."""
        self.stop()
        self.start()


def _pg_bin(name: str) -> str:
    for version in ("17", "16", "15"):
        candidate = Path(f"/usr/lib/postgresql/{version}/bin/{name}")
        if candidate.exists():
            return str(candidate)
    raise AssertionError("PostgreSQL is not installed: run `make test` (or apt-get install -y postgresql)")


class PostgresServer:
    """A throwaway PostgreSQL cluster on a free port (run as the postgres user when we are root).

    Tests run it with ``fsync=off`` (a crash of the machine loses the cluster, which nobody
    keeps). ``durable=True`` keeps PostgreSQL's defaults (fsync and synchronous_commit on), as
    in production, for benchmarks; ``settings`` adds ``-c name=value`` server settings.
    """

    def __init__(self, *, durable: bool = False, settings: dict[str, str] | None = None) -> None:
        # Not under pytest's tmp_path: that is private to root, and the server runs as postgres.
        self.workdir = Path(tempfile.mkdtemp(prefix="qmark-pg-"))
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.settings = {
            "listen_addresses": "127.0.0.1",
            **({} if durable else {"fsync": "off"}),
            **(settings or {}),
        }
        self._as_user: list[str] = []
        if os.geteuid() == 0:  # initdb refuses root
            self._as_user = ["runuser", "-u", "postgres", "--"]

    @property
    def url(self) -> str:
        return self.database_url("postgres")

    def database_url(self, name: str) -> str:
        """The URL of database ``name`` on this server."""
        return f"postgresql+psycopg://qmark@127.0.0.1:{self.port}/{name}"

    def start(self) -> None:
        data, sockets = self.workdir / "data", self.workdir / "run"
        sockets.mkdir(parents=True, exist_ok=True)
        if self._as_user:
            shutil.chown(self.workdir, "postgres")
            shutil.chown(sockets, "postgres")
        subprocess.run(
            [*self._as_user, _pg_bin("initdb"), "-D", str(data), "-U", "qmark", "--auth=trust", "-E", "UTF8"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        self.process = subprocess.Popen(
            [
                *self._as_user,
                _pg_bin("postgres"),
                "-D",
                str(data),
                "-p",
                str(self.port),
                "-k",
                str(sockets),
                *(arg for name, value in self.settings.items() for arg in ("-c", f"{name}={value}")),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, timeout=30)
        self._wait_for_connection(timeout=30)

    def _wait_for_connection(self, timeout: float) -> None:
        """The port opens before PostgreSQL accepts connections ("the database system is starting up")."""
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            try:
                psycopg.connect(
                    self.url.replace("postgresql+psycopg://", "postgresql://"), connect_timeout=2
                ).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        self.process = None
        shutil.rmtree(self.workdir, ignore_errors=True)
