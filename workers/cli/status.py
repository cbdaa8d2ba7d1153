"""``qmark status [--json]``: the verdict with its reasons, then the numbers, one section a few lines.

The report is :func:`workers.ops.status.report`'s; exit 0 when ok, 1 when degraded, 2 when
failing, so a script can act on it.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from pipeline.config.settings import Settings
from pipeline.ops.actions import overdue_lines
from workers.cli.db import ready
from workers.cli.output import print_json

if TYPE_CHECKING:
    from workers.bootstrap import App

EXIT = {"ok": 0, "degraded": 1}  # anything else (failing): 2


def status_command(app: App, *, as_json: bool) -> int:
    """Print the report; exit 0 when ok, 1 when degraded, 2 when failing (for scripts)."""
    from workers.ops.status import report

    data = report(app)
    if as_json:
        print_json(data)
    else:
        print(text(data))
    return EXIT.get(data["verdict"], 2)


def status(settings: Settings, *, as_json: bool) -> int:
    """:func:`status_command` for the app ``settings`` describe."""
    from workers.bootstrap import build

    return status_command(build(settings=settings), as_json=as_json)


def run_status(args: argparse.Namespace) -> int:
    """``qmark status [--json]``."""
    return status(ready(args), as_json=args.json)


def text(data: dict[str, Any]) -> str:
    """The report on one screen: the verdict and its reasons, then each section's lines."""
    lines = [f"qmark is {data['verdict'].upper()}"]
    lines += [f"  - {reason}" for reason in data["reasons"]]
    for section in SECTIONS:
        lines += section(data)
    lines += data.get("statistics", [])
    return "\n".join(lines)


def _queues(data: dict[str, Any]) -> list[str]:
    queues = data.get("queues", {})
    lines = [f"queues       unreadable: {queues['error']}"] if "error" in queues else []
    for name, depth in queues.items():
        if isinstance(depth, dict):
            lines.append(
                f"queue {name:<7} ready {depth['ready']}, delayed {depth['delayed']}, dead {depth['dead']}"
            )
    return lines


def _backlog(data: dict[str, Any]) -> list[str]:
    backlog = data.get("backlog")
    if not backlog:
        return []
    oldest = backlog["oldest_unprocessed_seconds"]
    return [
        f"backlog      oldest unprocessed {'none' if oldest is None else f'{oldest} s'}, "
        f"{backlog['mails_failed_last_day']} mail(s) failed and "
        f"{backlog['quarantined_last_day']} message(s) quarantined in the last day"
    ]


def _processes(data: dict[str, Any]) -> list[str]:
    return [
        f"process {role:<9} {info['alive']} alive, last beat {info['last_beat_seconds']} s ago"
        for role, info in sorted(data.get("processes", {}).items())
    ]


def _imap(data: dict[str, Any]) -> list[str]:
    lines = []
    for box in data.get("imap", []):
        lag = "never polled" if box["lag_seconds"] is None else f"lag {box['lag_seconds']} s"
        problem = f", last error: {box['last_error']}" if box["last_error"] else ""
        lines.append(f"imap  {box['mailbox']}: {lag}, {box['ingested']} ingested{problem}")
    return lines


def _escalations(data: dict[str, Any]) -> list[str]:
    counts = data.get("escalations")
    if not counts:
        return []
    head = (
        f"escalations  open {counts['open']}, overdue {counts['overdue']}, "
        f"awaiting root cause {counts['awaiting_root_cause']}, paused {counts['paused']}"
    )
    return [head] + [f"  {name:<22} {number}" for name, number in counts["by_state"].items()]


def _actions(data: dict[str, Any]) -> list[str]:
    found = data.get("actions")
    if not found or not any(found["by_state"].values()):
        return []
    states = ", ".join(f"{state} {number}" for state, number in found["by_state"].items())
    lines = [f"actions      {states}", f"  {found['figure']}"]
    if found["overdue"]:
        lines.append("  overdue, most overdue first:")
        lines += [f"    {line}" for line in overdue_lines(found["most_overdue"], found["overdue"])]
    return lines


# The report's sections, in the order they are shown (the statistics close it).
SECTIONS = (_queues, _backlog, _processes, _imap, _escalations, _actions)
