"""The ``qmark`` command: parse arguments, load config, hand over to the right role or report.

Server roles live in ``workers/`` and are imported only when their command
runs, so the domain stays free of Dramatiq and aiosmtpd.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from pipeline import log
from pipeline.config.load import load_settings
from pipeline.config.sources import ConfigError
from rules.errors import RulesError

EX_OK = 0
EX_DATAERR = 65
EX_TEMPFAIL = 75
EX_CONFIG = 78


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help="path to qmark.toml (default: $QMARK_CONFIG or ./qmark.toml)")
    parser = argparse.ArgumentParser(prog="qmark", description=__doc__, parents=[common])
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("run", parents=[common], help="all roles in one process tree")
    sub.add_parser("smtp", parents=[common], help="the SMTP intake only")
    sub.add_parser("worker", parents=[common], help="one worker process")
    sub.add_parser("scheduler", parents=[common], help="the scheduler tick and sweeper")
    sub.add_parser("imap", parents=[common], help="the IMAP poller ([imap] url must be set)")
    sub.add_parser("http", parents=[common], help="/healthz, /readyz and /metrics")

    _ops_commands(sub, common)
    status = sub.add_parser("status", parents=[common], help="escalations open, overdue, awaiting root cause")
    status.add_argument("--json", action="store_true")

    inject = sub.add_parser("inject", parents=[common], help="store one raw message (MTA pipe)")
    inject.add_argument("file", help="a file with one RFC 5322 message, or - for standard input")
    inject.add_argument("--mail-from", help="envelope sender (default: Return-Path, else From)")
    inject.add_argument("--rcpt", action="append", help="envelope recipient (default: the intake address)")

    db = sub.add_parser("db", parents=[common], help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", parents=[common], help="migrate the database to the newest schema")

    esc = sub.add_parser("escalations", parents=[common], help="list or show escalations")
    esc_sub = esc.add_subparsers(dest="esc_command", required=True)
    esc_list = esc_sub.add_parser("list", parents=[common])
    esc_list.add_argument("--state", help="only escalations in this state")
    esc_list.add_argument("--overdue", action="store_true", help="only overdue ones, most overdue first")
    esc_list.add_argument("--json", action="store_true")
    esc_show = esc_sub.add_parser("show", parents=[common])
    esc_show.add_argument("id", help="Q-<n> or <n>")
    esc_show.add_argument("--json", action="store_true")
    esc_close = esc_sub.add_parser(
        "close", parents=[common], help="close with a root-cause writeup received another way"
    )
    esc_close.add_argument("id", help="Q-<n> or <n>")
    esc_close.add_argument("--writeup", required=True, help="a text file with the writeup's sections, or -")
    esc_close.add_argument("--by", required=True, help="the email address of who closes it (recorded)")

    rules = sub.add_parser("rules", parents=[common], help="check or explain the rules")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True)
    check = rules_sub.add_parser("check", parents=[common])
    check.add_argument("dir", nargs="?", help="rules directory (default: [rules] path)")
    explain = rules_sub.add_parser("explain", parents=[common])
    explain.add_argument("file", help="a .eml file")
    explain.add_argument("--json", action="store_true")
    return parser


def _ops_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Dead letters, quarantine and the digest: what ops run by hand."""
    dead = sub.add_parser("dead-letters", parents=[common], help="jobs that failed for good")
    dead_sub = dead.add_subparsers(dest="dead_command", required=True)
    dead_list = dead_sub.add_parser("list", parents=[common])
    dead_list.add_argument("--json", action="store_true")
    dead_replay = dead_sub.add_parser("replay", parents=[common], help="enqueue dead jobs again")
    dead_which = dead_replay.add_mutually_exclusive_group(required=True)
    dead_which.add_argument("id", nargs="?", help="a dead letter's id from `dead-letters list`")
    dead_which.add_argument("--all", action="store_true")

    held = sub.add_parser("quarantine", parents=[common], help="messages held back, with the reason")
    held_sub = held.add_subparsers(dest="quarantine_command", required=True)
    held_list = held_sub.add_parser("list", parents=[common])
    held_list.add_argument("--json", action="store_true")
    held_show = held_sub.add_parser("show", parents=[common])
    held_show.add_argument("id", help="a message id from `quarantine list`")
    held_show.add_argument("--json", action="store_true")
    held_release = held_sub.add_parser("release", parents=[common], help="process a held message again")
    held_release.add_argument("id", help="a message id from `quarantine list`")

    digest = sub.add_parser("digest", parents=[common], help="the daily digest mail")
    digest_sub = digest.add_subparsers(dest="digest_command", required=True)
    digest_sub.add_parser("send", parents=[common], help="send today's digest now (once per day)")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    log.configure()
    try:
        return _dispatch(args)
    except (ConfigError, RulesError) as error:
        print(f"qmark: {error}", file=sys.stderr)
        return EX_CONFIG


def _dispatch(args: argparse.Namespace) -> int:
    from workers.cli import commands

    if args.command == "rules" and args.rules_command == "check" and args.dir:
        return commands.rules_check(args.dir)
    settings = load_settings(args.config)
    if args.command == "rules":
        if args.rules_command == "check":
            return commands.rules_check(settings.rules.path)
        return commands.rules_explain(settings, args.file, as_json=args.json)
    if args.command == "db":
        return commands.db_upgrade(settings)
    if args.command == "escalations":
        if args.esc_command == "list":
            return commands.escalations_list(
                settings, state=args.state, overdue=args.overdue, as_json=args.json
            )
        if args.esc_command == "close":
            return commands.escalations_close(settings, args.id, writeup=args.writeup, by=args.by)
        return commands.escalations_show(settings, args.id, as_json=args.json)
    if args.command == "dead-letters":
        from workers.ops import dead_letters as deadletters

        if args.dead_command == "list":
            return deadletters.list_command(settings, as_json=args.json)
        return deadletters.replay_command(settings, ident=args.id, replay_all=args.all)
    if args.command == "quarantine":
        from pipeline.ops import quarantine

        if args.quarantine_command == "list":
            return quarantine.list_command(settings, as_json=args.json)
        if args.quarantine_command == "show":
            return quarantine.show_command(settings, args.id, as_json=args.json)
        return quarantine.release_command(settings, args.id)
    if args.command == "digest":
        from workers.ticks import digest as digester

        return digester.send_command(settings)
    if args.command == "status":
        return commands.status(settings, as_json=args.json)
    if args.command == "inject":
        return commands.inject(settings, args.file, mail_from=args.mail_from, rcpts=args.rcpt)
    return commands.serve(settings, args.command, args.config)
