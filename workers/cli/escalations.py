"""``qmark escalations list|show|close``: the escalations as a table or JSON, one with its history, and
closing one with a root-cause writeup that reached ops another way.

The data is :mod:`pipeline.ops.escalations`'; closing is :func:`pipeline.steps.close.close_with_writeup`.
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path
from typing import Any

from pipeline.config.settings import Settings
from pipeline.model.escalation import State
from pipeline.model.ids import ref
from pipeline.ops.actions import progress_line
from pipeline.ops.escalations import details, list_summaries
from pipeline.store.db import open_database
from workers.cli.actions import action_cells
from workers.cli.db import ready
from workers.cli.output import (
    EX_DATAERR,
    EX_NOTFOUND,
    EX_OK,
    escalation_number,
    fail,
    minute,
    one_line,
    print_json,
    second,
)

SHOWN = ("id", "state", "executive", "owner", "route", "deadline", "opened_at", "subject", "customer")


def run_list(args: argparse.Namespace) -> int:
    """``qmark escalations list [--state S] [--overdue] [--json]``."""
    settings = ready(args)
    try:
        wanted = State(args.state) if args.state else None
    except ValueError:
        states = ", ".join(s.value for s in State)
        return fail(EX_DATAERR, f"unknown state {args.state!r}; one of: {states}")
    rows = list_summaries(open_database(settings.storage), state=wanted, overdue=args.overdue)
    if args.json:
        print_json(rows)
    elif rows:
        _print_table(rows)
    else:
        print("no escalations")
    return EX_OK


def _print_table(rows: list[dict[str, Any]]) -> None:
    print(f"{'ID':<8} {'STATE':<22} {'OWNER':<28} {'DEADLINE (UTC)':<25} SUBJECT")
    for r in rows:
        deadline = minute(r["deadline"]) + (" overdue" if r["overdue"] else "")
        print(f"{r['id']:<8} {r['state']:<22} {r['owner']:<28} {deadline:<25} {r['subject'][:50]}")


def run_show(args: argparse.Namespace) -> int:
    """``qmark escalations show Q-<n> [--json]``: 65 for a malformed id, 66 for an unknown one."""
    settings = ready(args)
    number = escalation_number(args.id)
    if number is None:
        return fail(EX_DATAERR, f"{args.id!r} is not an escalation id (Q-<n>)")
    data = details(open_database(settings.storage), number=number)
    if data is None:
        return fail(EX_NOTFOUND, f"no escalation {ref(number)}")
    if args.json:
        print_json(data)
        return EX_OK
    for key in SHOWN:
        print(f"{key + ':':<11} {data[key]}")
    _print_actions(data)
    if data["related"]:
        print("Seen before:")
        for item in data["related"]:
            cause = f'root cause "{item["root_cause"]}"' if item["root_cause"] else "no root cause yet"
            print(f"  {item['id']:<8} {item['state']:<22} {cause} — {item['why']}")
    print("history:")
    for event in data["events"]:
        detail = ", ".join(f"{k}={one_line(v)}" for k, v in event["detail"].items())
        print(f"  {second(event['at'])}  {event['kind']:<16} {event['actor']:<26} {detail}")
    return EX_OK


def _print_actions(data: dict[str, Any]) -> None:
    """``actions: 1 of 2 done`` and one line per action; nothing for an escalation without actions."""
    progress = data["action_progress"]
    if progress is None:
        return
    print(f"{'actions:':<11} {progress_line(progress['done'], progress['of'])}")
    for action in data["actions"]:
        print(f"  {action['id']:<7} {action_cells(action)}")


def run_close(args: argparse.Namespace) -> int:
    """``qmark escalations close Q-<n> --writeup FILE|- --by EMAIL``: refused (65) with the missing
    sections when the writeup is incomplete; the executive and the owner are told."""
    settings = ready(args)
    number = escalation_number(args.id)
    if number is None:
        return fail(EX_DATAERR, f"{args.id!r} is not an escalation id (Q-<n>)")
    try:
        text = sys.stdin.read() if args.writeup == "-" else Path(args.writeup).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return fail(EX_DATAERR, f"cannot read the writeup {args.writeup}: {error}")
    return close(settings, number, text=text, by=args.by)


def close(settings: Settings, number: int, *, text: str, by: str) -> int:
    """Close escalation ``number`` with the writeup ``text``, then ring the send queue for its mails."""
    from pipeline.decide.closing import CloseRefused
    from pipeline.steps.close import close_with_writeup
    from workers.bootstrap import build
    from workers.graph import ring

    app = build(settings=settings)
    try:
        closed = close_with_writeup(app.services, number=number, text=text, actor=by.strip().lower())
    except CloseRefused as error:
        return fail(EX_DATAERR, str(error))
    mail_ids = list(closed.mail_ids)
    ring(functools.partial(app.graph.enqueue_send, mail_ids), what="send", ids=mail_ids)
    print(f"{ref(number)} closed; the executive and the owner are told")
    return EX_OK
