"""The optional bearer token on /readyz and /metrics, through real `qmark run` / `qmark http` processes."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from tests.support.runners import qmark_env, spawn, stop, wait_until
from tests.support.servers import wait_for_port

pytestmark = pytest.mark.integration

TOKEN = "scrape-token-for-tests-0123456789"


def get(port: int, path: str, authorization: str | None = None) -> tuple[int, str, str | None]:
    """(status, body, WWW-Authenticate) of GET ``path``, with ``authorization`` as the header if given."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if authorization is not None:
        request.add_header("Authorization", authorization)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read().decode(), answer.headers.get("WWW-Authenticate")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), error.headers.get("WWW-Authenticate")


@pytest.fixture
def http_env(sqlite_url, redis_url, relay_sink, tmp_path):
    return qmark_env(
        database_url=sqlite_url,
        redis_url=redis_url,
        outbound_url=f"smtp://127.0.0.1:{relay_sink.port}",
        QMARK_HTTP__METRICS_DIR=str(tmp_path / "metrics"),
    )


def test_qmark_run_with_a_token_keeps_healthz_open_and_wants_the_bearer_on_readyz_and_metrics(
    http_env, tmp_path
):
    env = {**http_env, "QMARK_HTTP__TOKEN": TOKEN}
    port = int(env["QMARK_HTTP__LISTEN"].rsplit(":", 1)[1])
    log_path = tmp_path / "run.log"
    process = spawn("run", {**env, "QMARK_WORKER__PROCESSES": "1", "QMARK_SMTP__PROCESSES": "1"}, log_path)
    try:
        wait_for_port(port, timeout=30)
        assert get(port, "/healthz")[:2] == (200, "ok\n")
        for path in ("/readyz", "/metrics"):
            for header in (None, "Bearer wrong-token", f"Basic {TOKEN}", "Bearer", f"Bearer {TOKEN}x"):
                status, _, challenge = get(port, path, header)
                assert (status, challenge) == (401, 'Bearer realm="qmark"'), (path, header)
        status, body, _ = get(port, "/metrics", f"Bearer {TOKEN}")
        assert status == 200 and "qmark_" in body
        wait_until(
            lambda: get(port, "/readyz", f"bearer {TOKEN}")[:2] == (200, "ready\n"),
            timeout=30,
            what="/readyz ready with the token (the scheduler's first tick)",
        )
        assert get(port, "/readyz")[0] == 401
    finally:
        log, _ = stop(process, log_path)
    assert TOKEN not in log


def test_without_a_token_readyz_and_metrics_stay_open_as_before(http_env, tmp_path):
    port = int(http_env["QMARK_HTTP__LISTEN"].rsplit(":", 1)[1])
    log_path = tmp_path / "http.log"
    process = spawn("http", http_env, log_path)
    try:
        wait_for_port(port, timeout=30)
        assert get(port, "/healthz")[:2] == (200, "ok\n")
        assert get(port, "/metrics", "Bearer anything")[0] == 200
        assert get(port, "/readyz")[0] in (200, 503)  # its checks answer: no scheduler runs here
    finally:
        stop(process, log_path)
