"""What every ``qmark`` command prints with: exit codes, ids read from the command line, errors, JSON,
and table cells.

Exit codes follow sysexits.h, so an MTA piping into ``qmark inject`` knows to retry (75)
or not (65); 66 is "no such thing", 78 a configuration (or schema) to fix first.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any

from pipeline.model.ids import parse_ref

EX_OK = 0
EX_DATAERR = 65
EX_NOTFOUND = 66
EX_TEMPFAIL = 75
EX_CONFIG = 78


def fail(code: int, message: str, *, command: str = "qmark") -> int:
    """Print ``<command>: <message>`` to standard error and return ``code`` (the exit code)."""
    print(f"{command}: {message}", file=sys.stderr)
    return code


def print_json(data: Any) -> None:
    """``--json`` output: indented, anything not JSON (a datetime) as its string."""
    print(json.dumps(data, indent=2, default=str))


def escalation_number(ident: str) -> int | None:
    """``Q-12`` or ``12`` -> 12; anything else -> None."""
    return parse_ref(ident) or (int(ident) if ident.isdigit() else None)


def minute(moment: datetime | str | None) -> str:
    """``2026-01-31 09:15`` for a datetime or its ISO text; ``-`` for none."""
    if moment is None:
        return "-"
    text = moment if isinstance(moment, str) else moment.isoformat()
    return text[:16].replace("T", " ")


def second(iso: str) -> str:
    """``2026-01-31 09:15:02`` for an ISO 8601 timestamp."""
    return iso[:19].replace("T", " ")


def cut(text: str, width: int) -> str:
    """``text`` in at most ``width`` characters, an ellipsis marking what was cut."""
    return text if len(text) <= width else text[: width - 1] + "…"


def one_line(value: object, limit: int = 60) -> str:
    """``value`` on one line of at most ``limit`` characters (``--json`` has it whole)."""
    return cut(" ".join(str(value).split()), limit)
