"""``qmark actions list|show``: the action ledger as a table or JSON, one action with its history.

The data is :mod:`pipeline.ops.actions`'; the moment "overdue" is judged at is passed in
(:func:`list_command`, :func:`show_command`), so tests hold the clock.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from pipeline.model.ids import action_ref, parse_action_ref
from pipeline.ops.actions import details, list_actions
from pipeline.store.db import Database, open_database
from workers.cli.db import ready
from workers.cli.output import EX_DATAERR, EX_NOTFOUND, EX_OK, cut, fail, minute, one_line, print_json, second

SHOWN = ("id", "escalation", "state", "title", "owner", "due", "due_at", "done_at", "created_at", "section")


def run_list(args: argparse.Namespace) -> int:
    """``qmark actions list [--open|--overdue] [--owner EMAIL] [--json]``."""
    db = open_database(ready(args).storage)
    return list_command(db, args, now=datetime.now(UTC))


def list_command(db: Database, args: argparse.Namespace, *, now: datetime) -> int:
    """Print the actions ``args`` select, overdue ones judged at ``now``."""
    rows = list_actions(db, now=now, open_only=args.open, overdue=args.overdue, owner=args.owner)
    if args.json:
        print_json(rows)
    elif rows:
        _print_table(rows)
    else:
        print("no actions")
    return EX_OK


def _print_table(rows: list[dict[str, Any]]) -> None:
    print(f"{'ID':<7} {'ESCALATION':<11} {'STATE':<8} {'OWNER':<28} {'DUE':<19} TITLE")
    for r in rows:
        print(f"{r['id']:<7} {r['escalation']:<11} {action_cells(r)}")


def action_cells(action: dict[str, Any]) -> str:
    """State, owner, due date (``overdue`` marked) and title, as the tables show an action."""
    due = action["due"] + (" overdue" if action["overdue"] else "")
    return f"{action['state']:<8} {action['owner']:<28} {due:<19} {cut(action['title'], 60)}"


def action_number(ident: str) -> int | None:
    """``A-7`` or ``7`` -> 7; anything else -> None."""
    return parse_action_ref(ident) or (int(ident) if ident.isdigit() else None)


def run_show(args: argparse.Namespace) -> int:
    """``qmark actions show A-<n> [--json]``: 65 for a malformed id, 66 for an unknown one."""
    db = open_database(ready(args).storage)
    return show_command(db, args, now=datetime.now(UTC))


def show_command(db: Database, args: argparse.Namespace, *, now: datetime) -> int:
    """Print one action, every field, its evidence or drop reason and its events."""
    number = action_number(args.id)
    if number is None:
        return fail(EX_DATAERR, f"{args.id!r} is not an action id (A-<n>)")
    data = details(db, number=number, now=now)
    if data is None:
        return fail(EX_NOTFOUND, f"no action {action_ref(number)}")
    if args.json:
        print_json(data)
        return EX_OK
    for key in SHOWN:
        value = minute(data[key]) if key.endswith("_at") else data[key]
        print(f"{key + ':':<12} {value}{' (overdue)' if key == 'due' and data['overdue'] else ''}")
    print(f"{'line:':<12} {one_line(data['line'], 100)}")
    if data["evidence"]:
        print(f"{'evidence:':<12} {data['evidence']}")
    if data["dropped_reason"]:
        print(f"{'dropped:':<12} {data['dropped_reason']}")
    print("history:" if data["events"] else "history:    (nothing yet)")
    for event in data["events"]:
        detail = ", ".join(f"{k}={one_line(v)}" for k, v in event["detail"].items() if k != "action")
        print(f"  {second(event['at'])}  {event['kind']:<18} {event['actor']:<26} {detail}")
    return EX_OK
