"""Run qmark's roles inside the test process (threads), or as real `qmark` subprocesses."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline.config.load import load_settings
from pipeline.config.settings import Settings
from tests.support.servers import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]


def qmark_env(
    *,
    database_url: str,
    redis_url: str,
    outbound_url: str,
    smtp_port: int | None = None,
    **extra: str,
) -> dict[str, str]:
    """QMARK_* variables for a test instance on the acme example rules."""
    env = {
        "QMARK_STORAGE__DATABASE_URL": database_url,
        "QMARK_STORAGE__REDIS_URL": redis_url,
        "QMARK_OUTBOUND__URL": outbound_url,
        "QMARK_SMTP__LISTEN": f"127.0.0.1:{smtp_port or free_port()}",
        "QMARK_HTTP__LISTEN": f"127.0.0.1:{free_port()}",
        "QMARK_SERVICE__SECRET_KEY": "test-secret-not-for-production",
        "QMARK_RULES__PATH": str(ROOT / "rules" / "examples" / "acme"),
        "QMARK_SCHEDULER__TICK": "1s",
        "QMARK_SCHEDULER__SWEEP_AFTER": "2s",
        "QMARK_WORKER__THREADS": "4",
        # Each instance its own Prometheus directory: `qmark run` empties it at start.
        "QMARK_HTTP__METRICS_DIR": tempfile.mkdtemp(prefix="qmark-metrics-"),
    }
    env.update(extra)
    return env


def settings_from(env: dict[str, str]) -> Settings:
    return load_settings(None, env=env)


@contextmanager
def smtp_in_thread(app: object) -> Iterator[None]:
    """The SMTP role on its own event loop in a thread; stopped (and flushed) on exit."""
    from workers.roles import smtp

    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    errors: list[BaseException] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(smtp.serve(app, stop=stop))  # type: ignore[arg-type]
        except BaseException as error:  # surfaced to the test below
            errors.append(error)
        finally:
            loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    _, port = app.settings.smtp.host_port  # type: ignore[attr-defined]
    wait_for_port(port)
    try:
        yield
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(20)
        if errors:
            raise errors[0]


@contextmanager
def role_in_thread(serve: Callable[..., None], app: object) -> Iterator[None]:
    """A worker or scheduler role in a thread, stopped on exit."""
    stop = threading.Event()
    thread = threading.Thread(target=serve, args=(app,), kwargs={"stop": stop}, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(40)


def spawn(role: str, env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """`qmark <role>` as a real subprocess with ``env`` on top of ours; output goes to ``log_path``."""
    full_env = {**os.environ, **env}
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "workers.cli", role], env=full_env, cwd=ROOT, stdout=log, stderr=log
        )


def qmark_command(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`qmark <args>` run to its end with ``env`` on top of ours: its exit code and text output."""
    return subprocess.run(
        [sys.executable, "-m", "workers.cli", *args],
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def stop(process: subprocess.Popen[bytes], log_path: Path) -> tuple[str, list[dict[str, object]]]:
    """SIGTERM ``process``, require a clean exit, and return its log text and its JSON lines."""
    import json
    import signal

    process.send_signal(signal.SIGTERM)
    code = process.wait(timeout=60)
    log = log_path.read_text()
    assert code == 0, log[-3000:]
    return log, [json.loads(line) for line in log.splitlines() if line.startswith("{")]


def wait_until(predicate: Callable[[], object], timeout: float = 15.0, what: str = "condition") -> object:
    """Poll ``predicate`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
