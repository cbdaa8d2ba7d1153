"""What each ``qmark`` sub-command does; cli.py only parses arguments and picks one."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from email.utils import getaddresses
from pathlib import Path
from typing import Any

from pipeline import log
from pipeline.config.settings import Settings
from pipeline.model.escalation import State
from pipeline.model.ids import parse_ref, ref
from pipeline.model.mail import Envelope
from pipeline.store import escalations
from pipeline.store.db import Database

logger = log.get(__name__)

EX_OK, EX_DATAERR, EX_NOTFOUND, EX_TEMPFAIL, EX_CONFIG = 0, 65, 66, 75, 78


def serve(settings: Settings, role: str, config: str | None) -> int:
    """Start a server role; ``run`` starts them all under a supervisor."""
    from pipeline.store.migrate import current_head, schema_revision

    if schema_revision(settings.storage.database_url) != current_head():
        print("qmark: the database schema is not current. Fix: run `qmark db upgrade`", file=sys.stderr)
        return EX_CONFIG
    if role == "run":
        from rules.loader import load_rules
        from workers.roles import run as supervisor

        load_rules(settings.rules.path)  # fail before any child starts; the supervisor stays small
        for warning in settings.warnings():
            logger.warning("config_warning", warning=warning)
        return supervisor.run(
            config, settings.worker.processes, settings.smtp.processes, imap=settings.imap.url is not None
        )
    from workers.bootstrap import build

    app = build(settings=settings)
    if role == "smtp":
        import asyncio

        from workers.roles import smtp as smtp_server

        asyncio.run(smtp_server.serve(app))
    elif role == "worker":
        from workers.roles import worker

        worker.serve(app)
    elif role == "http":
        from workers.roles import http

        http.serve(app)
    elif role == "imap":
        if settings.imap.url is None:
            print(
                "qmark imap: [imap] url is not set. Fix: set it in qmark.toml or QMARK_IMAP__URL",
                file=sys.stderr,
            )
            return EX_CONFIG
        from workers.roles import imap as imap_poller

        imap_poller.serve(app)
    else:
        from workers.roles import scheduler

        scheduler.serve(app)
    return EX_OK


def db_upgrade(settings: Settings) -> int:
    from pipeline.store.migrate import upgrade

    upgrade(settings.storage.database_url)
    print(f"database at head: {settings.storage.database_url}")
    return EX_OK


def _envelope_for(raw: bytes, mail_from: str | None, rcpts: list[str] | None, settings: Settings) -> Envelope:
    from pipeline.inbound.envelopes import from_headers

    default = settings.service.intake_addresses[:1]
    return from_headers(
        raw, channel="inject", peer="inject", default_rcpts=default, mail_from=mail_from, rcpts=rcpts
    )


def inject(settings: Settings, file: str, *, mail_from: str | None, rcpts: list[str] | None) -> int:
    """Store one message like an MTA pipe: 0 stored, 75 try again, 65 unusable input."""
    try:
        raw = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except OSError as error:
        print(f"qmark inject: cannot read {file}: {error.strerror}", file=sys.stderr)
        return EX_DATAERR
    if not raw.strip() or b":" not in raw.split(b"\n", 1)[0]:
        print("qmark inject: input is not an RFC 5322 message (no header on the first line)", file=sys.stderr)
        return EX_DATAERR
    if len(raw) > settings.smtp.max_message_size:
        print(f"qmark inject: message of {len(raw)} bytes is over smtp.max_message_size", file=sys.stderr)
        return EX_DATAERR
    envelope = _envelope_for(raw, mail_from, rcpts, settings)
    try:
        from workers.bootstrap import build
        from workers.roles.group_commit import store_one

        app = build(settings=settings)
        message_id = store_one(Database(settings.storage.database_url), raw, envelope)
    except Exception as error:
        print(f"qmark inject: temporary failure, message not stored: {error}", file=sys.stderr)
        return EX_TEMPFAIL
    try:
        app.graph.enqueue_process([message_id])
    except Exception as error:
        logger.warning("enqueue_failed_sweeper_will_retry", message_id=message_id, error=str(error))
    print(f"stored as message {message_id}")
    return EX_OK


def _summary(row: Any, now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    chased = row.state in {State.AWAITING_EXPLANATION, State.AWAITING_ROOT_CAUSE}
    return {
        "overdue": chased and row.paused_at is None and row.deadline < now,
        "paused": row.paused_at is not None,
        "id": ref(row.id),
        "state": row.state,
        "executive": row.executive,
        "owner": row.owner,
        "deadline": row.deadline.isoformat(),
        "opened_at": row.opened_at.isoformat(),
        "closed_at": row.closed_at.isoformat() if row.closed_at else None,
        "route": row.route,
        "subject": row.subject,
        "customer": row.customer,
    }


def escalations_list(settings: Settings, *, state: str | None, overdue: bool = False, as_json: bool) -> int:
    try:
        wanted = State(state) if state else None
    except ValueError:
        print(f"qmark: unknown state {state!r}; one of: {', '.join(s.value for s in State)}", file=sys.stderr)
        return EX_DATAERR
    db = Database(settings.storage.database_url)
    with db.read() as session:
        now = datetime.now(UTC)
        found = escalations.list_all(session, state=wanted, overdue_at=now if overdue else None)
        rows = [_summary(r, now) for r in found]
    if as_json:
        print(json.dumps(rows, indent=2))
        return EX_OK
    if not rows:
        print("no escalations")
        return EX_OK
    print(f"{'ID':<8} {'STATE':<22} {'OWNER':<28} {'DEADLINE (UTC)':<25} SUBJECT")
    for r in rows:
        deadline = r["deadline"][:16].replace("T", " ") + (" overdue" if r["overdue"] else "")
        print(f"{r['id']:<8} {r['state']:<22} {r['owner']:<28} {deadline:<25} {r['subject'][:50]}")
    return EX_OK


def status(settings: Settings, *, as_json: bool) -> int:
    """``qmark status``: the verdict and the numbers (workers/ops/status.py); 0 ok, 1 degraded, 2 failing."""
    from workers.bootstrap import build
    from workers.ops.status import status_command

    return status_command(build(settings=settings), as_json=as_json)


def escalations_show(settings: Settings, ident: str, *, as_json: bool) -> int:
    number = parse_ref(ident) or (int(ident) if ident.isdigit() else None)
    if number is None:
        print(f"qmark: {ident!r} is not an escalation id (Q-<n>)", file=sys.stderr)
        return EX_DATAERR
    db = Database(settings.storage.database_url)
    with db.read() as session:
        row = escalations.get(session, number=number)
        if row is None:
            print(f"qmark: no escalation {ref(number)}", file=sys.stderr)
            return EX_NOTFOUND
        data = _summary(row)
        data["events"] = [
            {"at": e.at.isoformat(), "kind": e.kind, "actor": e.actor, "detail": e.detail}
            for e in escalations.list_events(session, number=number)
        ]
    if as_json:
        print(json.dumps(data, indent=2))
        return EX_OK
    for key in ("id", "state", "executive", "owner", "route", "deadline", "opened_at", "subject", "customer"):
        print(f"{key + ':':<11} {data[key]}")
    print("history:")
    for event in data["events"]:
        detail = ", ".join(f"{k}={_short(v)}" for k, v in event["detail"].items())
        print(f"  {event['at'][:19].replace('T', ' ')}  {event['kind']:<16} {event['actor']:<26} {detail}")
    return EX_OK


def _short(value: object, limit: int = 60) -> str:
    """One line of at most ``limit`` characters for the history table (``--json`` has it whole)."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def escalations_close(settings: Settings, ident: str, *, writeup: str, by: str) -> int:
    """Close an escalation with a writeup file; refused (65) with the missing sections when incomplete."""
    from pipeline.decide.closing import CloseRefused
    from pipeline.steps.close import close_with_writeup
    from workers.bootstrap import build

    number = parse_ref(ident) or (int(ident) if ident.isdigit() else None)
    if number is None:
        print(f"qmark: {ident!r} is not an escalation id (Q-<n>)", file=sys.stderr)
        return EX_DATAERR
    try:
        text = sys.stdin.read() if writeup == "-" else Path(writeup).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        print(f"qmark: cannot read the writeup {writeup}: {error}", file=sys.stderr)
        return EX_DATAERR
    app = build(settings=settings)
    try:
        closed = close_with_writeup(app.services, number=number, text=text, actor=by.strip().lower())
    except CloseRefused as error:
        print(f"qmark: {error}", file=sys.stderr)
        return EX_DATAERR
    try:
        app.graph.enqueue_send(closed.mail_ids)
    except Exception as error:
        logger.warning("enqueue_failed_sweeper_will_retry", error=str(error))
    print(f"{ref(number)} closed; the executive and the owner are told")
    return EX_OK


def rules_check(directory: str | Path) -> int:
    from rules.loader import check_rules

    errors = check_rules(directory)
    for error in errors:
        print(str(error))
    if errors:
        print(f"{len(errors)} problem(s) in {directory}", file=sys.stderr)
        return EX_CONFIG
    print(f"rules in {directory} are valid")
    return EX_OK


def rules_explain(settings: Settings, file: str, *, as_json: bool) -> int:
    """Say what qmark would do with a .eml file: verdict, route, owner, deadline, and why."""
    from pipeline.ops.explain import explain

    try:
        raw = Path(file).read_bytes()
    except OSError as error:
        print(f"qmark: cannot read {file}: {error.strerror}", file=sys.stderr)
        return EX_DATAERR
    headers = raw.split(b"\n\n", 1)[0].decode("latin-1")
    rcpts = [
        a
        for _, a in getaddresses(
            [
                line.partition(":")[2]
                for line in headers.splitlines()
                if line.lower().startswith(("to:", "cc:"))
            ]
        )
        if a
    ]
    envelope = _envelope_for(raw, None, rcpts or None, settings)
    report = explain(settings, raw, envelope)
    if as_json:
        print(json.dumps(report, indent=2))
    else:
        for key, value in report.items():
            if isinstance(value, list):
                print(f"{key}:")
                for item in value:
                    print(f"  - {item}")
            else:
                print(f"{key + ':':<10} {value}")
    return EX_OK
