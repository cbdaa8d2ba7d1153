"""The HTTP role (``qmark http``, also a child of ``qmark run``): health, readiness and metrics.

* ``GET /healthz`` — 200 ``ok``: the process answers.
* ``GET /readyz`` — 200 ``ready``, or 503 with one line per failing check, each naming what is
  wrong and what to do: the database, Redis, the scheduler's tick, and (when ``[imap] url`` is
  set) how long ago the IMAP folder was polled.
* ``GET /metrics`` — Prometheus text (see :mod:`workers.ops.metrics.setup`).

Anything else is 404. Every answer carries ``X-Qmark-Rules: version=<12 hex>; loaded_at=<ISO 8601>``,
the rules this process runs on (a SIGHUP reload changes both). Binds ``[http] listen``; SIGTERM stops it.

With ``[http] token`` set, ``/readyz`` and ``/metrics`` answer only a request carrying
``Authorization: Bearer <token>`` (compared in constant time) and 401 with
``WWW-Authenticate: Bearer`` otherwise; ``/healthz`` stays open for liveness probes.
"""

from __future__ import annotations

import hmac
import os
import signal
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from pipeline import log
from workers.bootstrap import App
from workers.heartbeat import Heart
from workers.ops.health import Health
from workers.ops.metrics import setup
from workers.redis_client import redis_client

logger = log.get(__name__)


@dataclass
class Endpoints:
    """What the handlers need: the readiness checks, the metrics registry and the bearer token."""

    health: Health
    registry: Any
    token: bytes | None = None

    @classmethod
    def build(cls, app: App, *, metrics_dir: Path | None) -> Endpoints:
        client = redis_client(app.settings.storage.redis_url)
        found = setup.registry(app.services.db, client, metrics_dir=metrics_dir)
        token = app.settings.http.token
        return cls(
            health=Health(app=app, redis_client=client),
            registry=found,
            token=token.get_secret_value().encode() if token is not None else None,
        )

    def authorized(self, header: str | None) -> bool:
        """Whether an ``Authorization`` header value carries the bearer token (always, when unset)."""
        if self.token is None:
            return True
        scheme, _, credentials = (header or "").strip().partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(credentials.strip().encode(), self.token)

    def rules_live(self) -> str:
        """The ``X-Qmark-Rules`` header: the version of this process's live rules and when they loaded."""
        app = self.health.app
        return f"version={app.services.rules.version}; loaded_at={app.rules_loaded_at.isoformat()}"

    def metrics_text(self) -> bytes:
        from prometheus_client import generate_latest

        return bytes(generate_latest(self.registry))


class Handler(BaseHTTPRequestHandler):
    endpoints: Endpoints  # set on the subclass made by make_server
    server_version = "qmark"

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            self._answer(200, b"ok\n")
        elif path in {"/readyz", "/metrics"} and not self.endpoints.authorized(
            self.headers.get("Authorization")
        ):
            self._answer(401, b"unauthorized: send Authorization: Bearer <[http] token>\n", bearer=True)
        elif path == "/readyz":
            found = self.endpoints.health.problems()
            if found:
                self._answer(503, ("\n".join(found) + "\n").encode())
            else:
                self._answer(200, b"ready\n")
        elif path == "/metrics":
            from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

            self._answer(200, self.endpoints.metrics_text(), CONTENT_TYPE_PLAIN_0_0_4)
        else:
            self._answer(404, b"not found: try /healthz, /readyz or /metrics\n")

    def _answer(
        self,
        status: int,
        body: bytes,
        content_type: str = "text/plain; charset=utf-8",
        *,
        bearer: bool = False,
    ) -> None:
        self.send_response(status)
        if bearer:
            self.send_header("WWW-Authenticate", 'Bearer realm="qmark"')
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Qmark-Rules", self.endpoints.rules_live())
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("http_request", line=format % args)


def make_server(endpoints: Endpoints, host: str, port: int) -> ThreadingHTTPServer:
    handler = type("BoundHandler", (Handler,), {"endpoints": endpoints})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def serve(app: App, *, stop: threading.Event | None = None) -> None:
    """Answer on ``[http] listen`` until SIGTERM/SIGINT (or ``stop``)."""
    own_process = threading.current_thread() is threading.main_thread()
    metrics_dir = setup.use_metrics_dir(app.settings)  # before prometheus_client is imported
    if metrics_dir is None:
        configured = Path(os.environ.get(setup.MULTIPROC_ENV) or app.settings.http.metrics_dir)
        metrics_dir = configured if configured.is_dir() else None
    stop = stop or threading.Event()
    if own_process:
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
    host, port = app.settings.http.host_port
    try:
        server = make_server(Endpoints.build(app, metrics_dir=metrics_dir), host, port)
    except OSError as error:
        logger.error(
            "http_cannot_listen",
            host=host,
            port=port,
            error=str(error),
            fix="another process holds the port: stop it or set [http] listen (QMARK_HTTP__LISTEN)",
        )
        raise
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    Heart(app.services.db, "http").start(stop)
    logger.info("http_listening", host=host, port=port, metrics_dir=str(metrics_dir))
    stop.wait()
    server.shutdown()
    server.server_close()
    logger.info("http_stopped")
