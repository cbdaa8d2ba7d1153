"""``qmark rules check [DIR]``, ``qmark rules explain FILE.eml`` and ``qmark rules reload``: is a rules
directory valid, what would qmark do with one message and why, and make the running qmark load the
rules anew (checked here first: bad rules are refused without signalling). None touches the database.
"""

from __future__ import annotations

import argparse
import sys
from email.utils import getaddresses
from pathlib import Path
from typing import Any

from workers.cli.db import settings
from workers.cli.inject import envelope_for
from workers.cli.output import EX_CONFIG, EX_DATAERR, EX_NOTFOUND, EX_OK, fail, print_json


def check_command(directory: str | Path) -> int:
    """Every problem in the rules at ``directory`` with file, line and fix; 78 when there is one."""
    from rules.loader import check_rules

    errors = check_rules(directory)
    for error in errors:
        print(str(error))
    if errors:
        print(f"{len(errors)} problem(s) in {directory}", file=sys.stderr)
        return EX_CONFIG
    print(f"rules in {directory} are valid")
    return EX_OK


def run_check(args: argparse.Namespace) -> int:
    """``qmark rules check [DIR]``: DIR needs no config; without it, the configured ``[rules] path``."""
    return check_command(args.dir or settings(args).rules.path)


def run_reload(args: argparse.Namespace) -> int:
    """``qmark rules reload [--pid PID]``: refuse bad rules (78, file, line, fix); else SIGHUP ``qmark run``
    (its pid from ``[service] pid_file``) or the process ``--pid`` names; 66 when it is not running."""
    import os
    import signal

    from workers.roles import pidfile

    found = settings(args)
    if check_command(found.rules.path) != EX_OK:
        return fail(
            EX_CONFIG, "rules not reloaded: the running qmark keeps its rules", command="qmark rules reload"
        )
    path = Path(found.service.pid_file)
    pid = args.pid or pidfile.read(path)
    if pid is None or not pidfile.alive(pid):
        where = f"process {args.pid}" if args.pid else f"a live pid in {path}"
        return fail(
            EX_NOTFOUND,
            f"found no {where}: is `qmark run` running here (same [service] pid_file)? "
            "A one-role qmark reloads on SIGHUP: pass --pid, or systemctl reload qmark-<role>@<n>",
            command="qmark rules reload",
        )
    os.kill(pid, signal.SIGHUP)
    print(f"sent SIGHUP to {pid}: each role logs rules_reloaded (or rules_reload_failed, keeping its rules)")
    return EX_OK


def recipients(raw: bytes) -> list[str]:
    """The To and Cc addresses in the header of ``raw`` (the envelope ``explain`` assumes)."""
    headers = raw.split(b"\n\n", 1)[0].decode("latin-1")
    fields = [
        line.partition(":")[2] for line in headers.splitlines() if line.lower().startswith(("to:", "cc:"))
    ]
    return [address for _, address in getaddresses(fields) if address]


def run_explain(args: argparse.Namespace) -> int:
    """``qmark rules explain FILE.eml [--json]``: verdict, route, owner, deadline, and why."""
    from pipeline.ops.explain import explain
    from rules.loader import load_rules
    from workers.bootstrap import policy

    found = settings(args)
    try:
        raw = Path(args.file).read_bytes()
    except OSError as error:
        return fail(EX_DATAERR, f"cannot read {args.file}: {error.strerror}")
    envelope = envelope_for(raw, None, recipients(raw) or None, found)
    report = explain(
        load_rules(found.rules.path), policy(found), raw, envelope, service_timezone=found.service.timezone
    )
    if args.json:
        print_json(report)
    else:
        _print_report(report)
    return EX_OK


def _print_report(report: dict[str, Any]) -> None:
    for key, value in report.items():
        if isinstance(value, list):
            print(f"{key}:")
            for item in value:
                print(f"  - {item}")
        else:
            print(f"{key + ':':<10} {value}")
