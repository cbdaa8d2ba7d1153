"""``qmark run|smtp|worker|scheduler|imap|http``: start the server roles.

``run`` starts them all under a supervisor (each child is ``qmark <role>`` again); the others
start one role in this process. Every role refuses a database that is not at the current
schema, and the roles' modules are imported only when one starts, so the other commands
load neither aiosmtpd nor imapclient.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

from pipeline import log
from pipeline.config.settings import Settings
from pipeline.store.schema import require_current
from workers.cli.db import settings
from workers.cli.output import EX_CONFIG, EX_OK, fail

if TYPE_CHECKING:
    from workers.bootstrap import App

logger = log.get(__name__)

NO_IMAP_URL = "[imap] url is not set. Fix: set it in qmark.toml or QMARK_IMAP__URL"


def run_role(args: argparse.Namespace) -> int:
    """``qmark <role>``: the role named by the command, on a database at the current schema.

    SIGHUP reloads the rules (:mod:`workers.reload`); one that comes while the role starts is held
    until its reloader is installed, then reloads.
    """
    from workers import reload
    from workers.bootstrap import build

    reload.hold_hangups()
    found = settings(args)
    require_current(found.storage.database_url)
    if args.command == "run":
        return _supervise(found, args.config)
    app = build(settings=found)
    if args.command == "imap" and found.imap.url is None:
        return fail(EX_CONFIG, NO_IMAP_URL, command="qmark imap")
    reload.Reloader(app, args.command).install()
    ROLES[args.command](app)
    return EX_OK


def _supervise(found: Settings, config: str | None) -> int:
    from rules.loader import load_rules
    from workers.roles import run as supervisor

    load_rules(found.rules.path)  # fail before any child starts; the supervisor stays small
    for warning in found.warnings():
        logger.warning("config_warning", warning=warning)
    return supervisor.run(
        config, found.worker.processes, found.smtp.processes, imap=found.imap.url is not None
    )


def _smtp(app: App) -> None:
    import asyncio

    from workers.roles import smtp

    asyncio.run(smtp.serve(app))


def _worker(app: App) -> None:
    from workers.roles import worker

    worker.serve(app)


def _scheduler(app: App) -> None:
    from workers.roles import scheduler

    scheduler.serve(app)


def _imap(app: App) -> None:
    from workers.roles import imap

    imap.serve(app)


def _http(app: App) -> None:
    from workers.roles import http

    http.serve(app)


# What each one-role command serves, once the app is built.
ROLES: dict[str, Callable[[App], None]] = {
    "smtp": _smtp,
    "worker": _worker,
    "scheduler": _scheduler,
    "imap": _imap,
    "http": _http,
}
