"""``qmark quarantine list|show|release``: the held messages as a table or JSON, one with its envelope
and headers (never its body), and releasing one into the flow again.

What is held and why is :mod:`pipeline.ops.quarantine`'s; this module prints it and rings the
process queue for a released message.
"""

from __future__ import annotations

import argparse
import functools
from typing import Any

from pipeline.config.settings import Settings
from pipeline.ops import quarantine
from pipeline.store.db import open_database
from workers.cli.db import ready
from workers.cli.output import EX_DATAERR, EX_NOTFOUND, EX_OK, cut, fail, minute, print_json
from workers.graph import ring

NOT_AN_ID = "{ident!r} is not a message id (a number from `qmark quarantine list`)"


def message_number(ident: str) -> int | None:
    """``12`` or ``#12`` -> 12; anything else -> None."""
    text = ident.strip().lstrip("#")
    return int(text) if text.isdigit() else None


def list_command(settings: Settings, *, as_json: bool) -> int:
    """Every held message, oldest first: id, when received, sender, subject and the reason in words."""
    db = open_database(settings.storage)
    try:
        items = quarantine.list_held(db)
    finally:
        db.dispose()
    if as_json:
        print_json(items)
    elif items:
        _print_table(items)
    else:
        print("no messages in quarantine")
    return EX_OK


def _print_table(items: list[dict[str, Any]]) -> None:
    print(f"{'ID':<7} {'RECEIVED (UTC)':<17} {'SENDER':<40} {'SUBJECT':<36} REASON")
    for item in items:
        sender, subject = cut(item["sender"], 40), cut(item["subject"], 36)
        print(f"{item['id']:<7} {minute(item['when']):<17} {sender:<40} {subject:<36} {item['reason']}")


def show_command(settings: Settings, ident: str, *, as_json: bool) -> int:
    """One held message; 65 for an id that is not a number, 66 for no such message or one that is
    not in quarantine (``qmark escalations show`` covers the others)."""
    message_id = message_number(ident)
    if message_id is None:
        return fail(EX_DATAERR, NOT_AN_ID.format(ident=ident))
    db = open_database(settings.storage)
    try:
        data = quarantine.details(db, message_id=message_id)
    except quarantine.NotQuarantined as error:
        return fail(EX_NOTFOUND, str(error))
    finally:
        db.dispose()
    if as_json:
        print_json(data)
    else:
        _print_details(data)
    return EX_OK


def _print_details(data: dict[str, Any]) -> None:
    envelope = data["envelope"]
    lines = [
        ("id", str(data["id"])),
        ("reason", data["reason"]),
        ("received", f"{minute(data['received_at'])} UTC via {data['channel']} from {envelope['peer']}"),
        ("held", f"{minute(data['held_at'])} UTC"),
        ("envelope", f"MAIL FROM <{envelope['mail_from']}> RCPT TO {', '.join(envelope['rcpt_tos'])}"),
        ("size", f"{data['size']} bytes"),
        ("attempts", str(data["attempts"])),
        ("last error", data["last_error"] or "-"),
    ]
    if data["escalation"]:
        lines.append(("escalation", data["escalation"]))
    for key, value in lines:
        print(f"{key + ':':<12} {value}")
    print("headers:")
    for name, values in data["headers"].items():
        for value in values:
            print(f"  {name + ':':<24} {value}")


def release_command(settings: Settings, ident: str) -> int:
    """Send a held message through the flow again; 65 with the reason if it is not quarantined.

    The process job is enqueued at once; if Redis is unavailable the message is
    still released (pending), and the scheduler's sweeper enqueues it later.
    """
    from workers.bootstrap import build

    message_id = message_number(ident)
    if message_id is None:
        return fail(EX_DATAERR, NOT_AN_ID.format(ident=ident))
    app = build(settings=settings)  # a bad config or rules stop us before anything changes
    try:
        was = quarantine.release(app.services.db, message_id=message_id, now=app.services.clock())
    except quarantine.NotQuarantined as error:
        return fail(EX_NOTFOUND if error.missing else EX_DATAERR, str(error))
    print(f"message {message_id} released from quarantine (it was held: {was})")
    enqueue = functools.partial(app.graph.enqueue_process, [message_id])
    unrung = ring(enqueue, what="process", ids=[message_id])
    if unrung is None:
        print("queued for processing; `qmark quarantine list` shows it again if it is held again")
    else:
        wait = round(settings.scheduler.sweep_after)
        print(
            f"Redis is unavailable ({unrung}); the message is pending and the scheduler's "
            f"sweeper will queue it (after about {wait}s)"
        )
    return EX_OK


def run_list(args: argparse.Namespace) -> int:
    """``qmark quarantine list [--json]``."""
    return list_command(ready(args), as_json=args.json)


def run_show(args: argparse.Namespace) -> int:
    """``qmark quarantine show ID [--json]``."""
    return show_command(ready(args), args.id, as_json=args.json)


def run_release(args: argparse.Namespace) -> int:
    """``qmark quarantine release ID``."""
    return release_command(ready(args), args.id)
