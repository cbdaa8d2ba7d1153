"""The container image's HEALTHCHECK: is this container's qmark process alive and doing its job?

One image serves every role, so the check works for each without being told which runs:

* ``qmark http`` and ``qmark run`` answer ``GET /healthz`` on ``[http] listen``: 200 is healthy.
* ``qmark smtp``, ``worker``, ``scheduler`` and ``imap`` serve no HTTP, but every qmark process
  records a heartbeat in the database every 10 s (the scheduler once per tick) as
  ``<hostname>:<pid>``. Healthy when a process of this container (its hostname) beat within
  ``max(60 s, 3 x [scheduler] tick)`` — a wedged worker stops beating, a dead one restarts the
  container anyway.

``healthcheck.py --role worker`` checks only that role's heartbeat and skips ``/healthz``: for a
pod whose ``qmark http`` container answers ``/healthz`` beside the role (Kubernetes exec probes).

Exit 0 healthy, 1 unhealthy with one line saying why (Docker keeps it in ``docker inspect``).
"""

from __future__ import annotations

import argparse
import socket
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

from pipeline.config.load import load_settings
from pipeline.config.settings import Settings
from pipeline.store import heartbeats
from pipeline.store.db import Database

WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104 (mapped to loopback)


def healthz_answers(settings: Settings) -> bool:
    """True when ``/healthz`` on this container's ``[http] listen`` answers 200."""
    host, port = settings.http.host_port
    host = WILDCARDS.get(host, host)
    address = f"[{host}]" if ":" in host else host
    try:
        with urllib.request.urlopen(f"http://{address}:{port}/healthz", timeout=3) as answer:
            return bool(answer.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def freshest_own_beat(settings: Settings, role: str | None) -> datetime | None:
    """The newest heartbeat of a process on this host (container), of ``role`` if given, or None."""
    prefix = f"{socket.gethostname()}:"
    db = Database(settings.storage.database_url)
    try:
        with db.read() as session:
            own = [
                at
                for name, found in heartbeats.latest(session).items()
                for holder, at in found
                if holder.startswith(prefix) and role in (None, name)
            ]
    finally:
        db.dispose()
    return max((at if at.tzinfo else at.replace(tzinfo=UTC) for at in own), default=None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Is this container's qmark process healthy?")
    parser.add_argument("--role", help="check only this role's heartbeat (smtp, worker, scheduler, imap)")
    role = parser.parse_args(argv).role
    settings = load_settings(None)
    if role is None and healthz_answers(settings):
        return 0
    limit = timedelta(seconds=max(60.0, 3 * settings.scheduler.tick))
    try:
        beat = freshest_own_beat(settings, role)
    except Exception as error:
        print(f"unhealthy: cannot read heartbeats ({type(error).__name__}: {error})")
        return 1
    if beat is None:
        what = f"{role} heartbeat" if role else "/healthz and no heartbeat"
        print(f"unhealthy: no {what} from {socket.gethostname()}")
        return 1
    age = datetime.now(UTC) - beat
    if age > limit:
        seconds, most = age.total_seconds(), limit.total_seconds()
        print(f"unhealthy: last heartbeat {seconds:.0f} s ago (limit {most:.0f} s)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
