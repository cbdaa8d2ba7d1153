"""A dead letter's reason in words: the driver's class name is dropped, whichever store raised it."""

from __future__ import annotations

import pytest

from pipeline.ops.dead_letters import first_line


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (
            "OperationalError: (sqlite3.OperationalError) no such table: escalation_numbers\n[SQL: INSERT]",
            "OperationalError: no such table: escalation_numbers",
        ),
        (
            'ProgrammingError: (psycopg.errors.UndefinedTable) relation "x" does not exist\nLINE 1: …',
            'ProgrammingError: relation "x" does not exist',
        ),
        ("\n\nRuntimeError: relay (smtp) said no\n", "RuntimeError: relay (smtp) said no"),
        (None, ""),
    ],
)
def test_the_reason_is_the_first_line_without_the_drivers_class(error: str | None, reason: str) -> None:
    assert first_line(error) == reason
