"""The qmark command's dispatch table (workers/cli/main.py): every command has a handler, and only those."""

from __future__ import annotations

import argparse

from workers.cli.main import COMMANDS, build_parser, handler


def _paths(parser: argparse.ArgumentParser) -> set[tuple[str, ...]]:
    """Every command path the parser accepts: ``("status",)``, ``("escalations", "list")``, ..."""
    found: set[tuple[str, ...]] = set()
    for action in parser._subparsers._group_actions:  # type: ignore[union-attr]
        for name, sub in action.choices.items():
            inner = _paths(sub) if sub._subparsers is not None else set()
            found |= {(name, *rest) for rest in inner} if inner else {(name,)}
    return found


def test_every_command_the_parser_accepts_has_exactly_one_handler_in_the_table():
    assert _paths(build_parser()) == set(COMMANDS)


def test_every_handler_the_table_names_exists_and_is_callable():
    for path in COMMANDS:
        assert callable(handler(*path)), path
