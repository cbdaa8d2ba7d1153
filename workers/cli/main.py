"""The ``qmark`` command: parse the arguments, then run the handler the dispatch table names.

Each command group is one module in ``workers/cli/``; a handler takes the parsed arguments,
loads the settings (``--config``, before or after the sub-command, else ``$QMARK_CONFIG``,
else ./qmark.toml) and returns the exit code (``workers/cli/output.py``). A broken config or
rules, or a database that is missing or not at the current schema, stops a command with one
line and exit 78. Dramatiq, Redis and the server roles are imported inside the handlers that
use them, so ``qmark escalations list`` or ``qmark rules check`` start quickly.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from importlib import import_module
from typing import Any

from pipeline import log
from pipeline.config.sources import ConfigError
from pipeline.store.schema import SchemaNotCurrent
from rules.errors import RulesError
from workers.cli.output import EX_CONFIG, fail

# The command path (the sub-command and its own sub-command) -> "module:handler" in workers/cli/.
# Named, not imported: a command loads only its own module (a role process only its role's).
COMMANDS: dict[tuple[str, ...], str] = {
    ("run",): "serve:run_role",
    ("smtp",): "serve:run_role",
    ("worker",): "serve:run_role",
    ("scheduler",): "serve:run_role",
    ("imap",): "serve:run_role",
    ("http",): "serve:run_role",
    ("status",): "status:run_status",
    ("inject",): "inject:run_inject",
    ("db", "upgrade"): "db:run_upgrade",
    ("escalations", "list"): "escalations:run_list",
    ("escalations", "show"): "escalations:run_show",
    ("escalations", "close"): "escalations:run_close",
    ("actions", "list"): "actions:run_list",
    ("actions", "show"): "actions:run_show",
    ("rules", "check"): "rules:run_check",
    ("rules", "explain"): "rules:run_explain",
    ("rules", "reload"): "rules:run_reload",
    ("dead-letters", "list"): "dead_letters:run_list",
    ("dead-letters", "replay"): "dead_letters:run_replay",
    ("quarantine", "list"): "quarantine:run_list",
    ("quarantine", "show"): "quarantine:run_show",
    ("quarantine", "release"): "quarantine:run_release",
    ("digest", "send"): "digest:run_send",
}


def main(argv: Sequence[str] | None = None) -> int:
    """``qmark ...``: the exit code of the command ``argv`` names; 78 for a config, rules or schema to fix."""
    args = build_parser().parse_args(argv)
    log.configure()
    name_database_sessions(args.command)
    try:
        return handler(args.command, *_subcommand(args))(args)
    except (ConfigError, RulesError, SchemaNotCurrent) as error:
        return fail(EX_CONFIG, str(error))


def name_database_sessions(command: str) -> None:
    """PostgreSQL sessions of this process show ``qmark-<command>`` in ``pg_stat_activity``.

    libpq reads ``PGAPPNAME``; a name the operator set is kept, one inherited from ``qmark run``
    (``qmark-run``) is replaced by the child's role. SQLite ignores it.
    """
    if os.environ.get("PGAPPNAME", "qmark-").startswith("qmark-"):
        os.environ["PGAPPNAME"] = f"qmark-{command}"


def handler(*path: str) -> Callable[[argparse.Namespace], int]:
    """The handler of the command ``path`` (``"escalations", "list"``), its module imported now."""
    module, _, name = COMMANDS[path].partition(":")
    found: Callable[[argparse.Namespace], int] = getattr(import_module(f"workers.cli.{module}"), name)
    return found


def _subcommand(args: argparse.Namespace) -> tuple[str, ...]:
    """The sub-command of a command group (``list`` of ``escalations list``); none for the others."""
    return (args.subcommand,) if getattr(args, "subcommand", None) else ()


# The parser ------------------------------------------------------------------------------------

DESCRIPTION = 'Turns an executive\'s "?" email into an escalation that cannot drop the ball.'
CONFIG_HELP = "path to qmark.toml, before or after the command (default: $QMARK_CONFIG or ./qmark.toml)"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    # ``--config`` is accepted before and after the sub-command. After it, it may only set the
    # value when given (SUPPRESS): a sub-parser's default would overwrite the one given before.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", default=argparse.SUPPRESS, help=CONFIG_HELP)
    parser = argparse.ArgumentParser(prog="qmark", description=DESCRIPTION)
    parser.add_argument("--config", default=None, help=CONFIG_HELP)
    sub = parser.add_subparsers(dest="command", required=True)
    _roles(sub, common)
    _escalations(sub, common)
    _actions(sub, common)
    _ops(sub, common)
    _rules(sub, common)
    return parser


def _group(sub: Any, common: argparse.ArgumentParser, name: str, help: str) -> Any:
    """A command with sub-commands of its own (``qmark <name> <sub-command>``)."""
    group = sub.add_parser(name, parents=[common], help=help)
    return group.add_subparsers(dest="subcommand", required=True)


def _roles(sub: Any, common: argparse.ArgumentParser) -> None:
    """The server roles, and what feeds them: inject and the database schema."""
    sub.add_parser("run", parents=[common], help="all roles in one process tree")
    sub.add_parser("smtp", parents=[common], help="the SMTP intake only")
    sub.add_parser("worker", parents=[common], help="one worker process")
    sub.add_parser("scheduler", parents=[common], help="the scheduler tick and sweeper")
    sub.add_parser("imap", parents=[common], help="the IMAP poller ([imap] url must be set)")
    sub.add_parser("http", parents=[common], help="/healthz, /readyz and /metrics")
    status_ = sub.add_parser(
        "status", parents=[common], help="escalations open, overdue, awaiting root cause"
    )
    status_.add_argument("--json", action="store_true")
    inject_ = sub.add_parser("inject", parents=[common], help="store one raw message (MTA pipe)")
    inject_.add_argument("file", help="a file with one RFC 5322 message, or - for standard input")
    inject_.add_argument("--mail-from", help="envelope sender (default: Return-Path, else From)")
    inject_.add_argument("--rcpt", action="append", help="envelope recipient (default: the intake address)")
    db_ = _group(sub, common, "db", "database schema")
    db_.add_parser("upgrade", parents=[common], help="migrate the database to the newest schema")


def _escalations(sub: Any, common: argparse.ArgumentParser) -> None:
    group = _group(sub, common, "escalations", "list or show escalations")
    listing = group.add_parser("list", parents=[common])
    listing.add_argument("--state", help="only escalations in this state")
    listing.add_argument("--overdue", action="store_true", help="only overdue ones, most overdue first")
    listing.add_argument("--json", action="store_true")
    show = group.add_parser("show", parents=[common])
    show.add_argument("id", help="Q-<n> or <n>")
    show.add_argument("--json", action="store_true")
    close = group.add_parser(
        "close", parents=[common], help="close with a root-cause writeup received another way"
    )
    close.add_argument("id", help="Q-<n> or <n>")
    close.add_argument("--writeup", required=True, help="a text file with the writeup's sections, or -")
    close.add_argument("--by", required=True, help="the email address of who closes it (recorded)")


def _actions(sub: Any, common: argparse.ArgumentParser) -> None:
    group = _group(sub, common, "actions", "the corrective and preventive actions of closed escalations")
    listing = group.add_parser("list", parents=[common])
    which = listing.add_mutually_exclusive_group()
    which.add_argument("--open", action="store_true", help="only open ones")
    which.add_argument("--overdue", action="store_true", help="only open ones past due, most overdue first")
    listing.add_argument("--owner", help="only this owner's (an email address)")
    listing.add_argument("--json", action="store_true")
    show = group.add_parser("show", parents=[common])
    show.add_argument("id", help="A-<n> or <n>")
    show.add_argument("--json", action="store_true")


def _ops(sub: Any, common: argparse.ArgumentParser) -> None:
    """Dead letters, quarantine and the digest: what ops run by hand."""
    dead = _group(sub, common, "dead-letters", "jobs that failed for good")
    dead.add_parser("list", parents=[common]).add_argument("--json", action="store_true")
    replay = dead.add_parser("replay", parents=[common], help="enqueue dead jobs again")
    which = replay.add_mutually_exclusive_group(required=True)
    which.add_argument("id", nargs="?", help="a dead letter's id from `dead-letters list`")
    which.add_argument("--all", action="store_true")

    held = _group(sub, common, "quarantine", "messages held back, with the reason")
    held.add_parser("list", parents=[common]).add_argument("--json", action="store_true")
    show = held.add_parser("show", parents=[common])
    show.add_argument("id", help="a message id from `quarantine list`")
    show.add_argument("--json", action="store_true")
    release = held.add_parser("release", parents=[common], help="process a held message again")
    release.add_argument("id", help="a message id from `quarantine list`")

    digest_ = _group(sub, common, "digest", "the daily digest mail")
    digest_.add_parser("send", parents=[common], help="send today's digest now (once per day)")


def _rules(sub: Any, common: argparse.ArgumentParser) -> None:
    group = _group(sub, common, "rules", "check, explain or reload the rules")
    check = group.add_parser("check", parents=[common])
    check.add_argument("dir", nargs="?", help="rules directory (default: [rules] path)")
    explain = group.add_parser("explain", parents=[common])
    explain.add_argument("file", help="a .eml file")
    explain.add_argument("--json", action="store_true")
    reload = group.add_parser(
        "reload", parents=[common], help="check the rules, then SIGHUP the running `qmark run`"
    )
    reload.add_argument(
        "--pid", type=int, help="signal this process (a one-role qmark) instead of [service] pid_file"
    )
