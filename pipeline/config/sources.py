"""Reading qmark.toml: errors with file, line and fix, TOML parsing, finding a key's line.

:mod:`pipeline.config.settings` owns the settings model and :mod:`pipeline.config.load`
turns the file into it; this module owns the text they come from.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

_TABLE_HEADER = re.compile(r"\s*\[\s*([\w\-\"']+)\s*\]\s*(#.*)?$")


class ConfigError(Exception):
    """A bad setting: ``file`` (or the env variable), ``line`` (1-based or None), ``message``, ``fix``."""

    def __init__(self, file: str, line: int | None, message: str, fix: str) -> None:
        self.file, self.line = file, line
        self.message = message.rstrip(". ")
        self.fix = fix if fix.endswith((".", "?", "!")) else f"{fix}."
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.message}. Fix: {self.fix}"


def close_match(word: str, choices: Iterable[str]) -> str | None:
    found = difflib.get_close_matches(word.lower(), list(choices), n=1)
    return found[0] if found else None


def line_of(text: str, section: str, key: str | None = None) -> int | None:
    """The line of ``key =`` in ``[section]``, else of the ``[section]`` header; None if neither is there."""
    lines = list(_lines(text))
    found = _key_line(lines, section, key) if key else None
    return found or _section_line(lines, section)


def _lines(text: str) -> Iterator[tuple[int, str, str, bool]]:
    """(number, line, the table it is in, whether it is that table's header) for each line of TOML."""
    table = ""
    for number, line in enumerate(text.splitlines(), start=1):
        header = _TABLE_HEADER.match(line)
        table = header.group(1).strip("\"'") if header else table
        yield number, line, table, header is not None


def _key_line(lines: Iterable[tuple[int, str, str, bool]], section: str, key: str) -> int | None:
    """The first ``key =`` line in ``[section]``."""
    assigns = re.compile(rf"\s*[\"']?{re.escape(key)}[\"']?\s*=")
    found = (n for n, line, table, header in lines if table == section and not header and assigns.match(line))
    return next(found, None)


def _section_line(lines: Iterable[tuple[int, str, str, bool]], section: str) -> int | None:
    """The first ``[section]`` header, or top-level ``section.key =`` / ``section = {...}`` line."""
    top_level = re.compile(rf"\s*{re.escape(section)}\s*[.=]")
    found = (
        n
        for n, line, table, header in lines
        if (header and table == section) or (not header and table == "" and top_level.match(line))
    )
    return next(found, None)


def read_toml(path: Path, label: str) -> tuple[dict[str, Any], str]:
    try:
        text = path.read_bytes().decode("utf-8")
        return tomllib.loads(text), text
    except FileNotFoundError:
        fix = "create it (deploy/qmark.example.toml shows every key) or name an existing file"
        raise ConfigError(label, None, "config file not found", fix) from None
    except OSError as exc:
        raise ConfigError(
            label, None, f"cannot read the config file: {exc.strerror}", "name a readable file"
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            label, None, f"not UTF-8 text (byte {exc.start})", "save the file as UTF-8"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        at = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        problem = re.sub(r"\s*\(at .*?\)", "", str(exc)) or "invalid TOML"
        message = f"TOML syntax error: {problem[0].lower()}{problem[1:]}" + (
            f" (column {at[2]})" if at else ""
        )
        fix = 'write key = value, strings in double quotes, e.g. listen = "127.0.0.1:2525"'
        raise ConfigError(label, int(at[1]) if at else None, message, fix) from None
