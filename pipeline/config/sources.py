"""Reading qmark.toml: errors with file, line and fix, TOML parsing, finding a key's line.

config.py owns the settings model; this module owns the text they come from.
"""

from __future__ import annotations

import difflib
import json
import re
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any


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
    current, header = "", None
    for number, line in enumerate(text.splitlines(), start=1):
        table = re.match(r"\s*\[\s*([\w\-\"']+)\s*\]\s*(#.*)?$", line)
        if table:
            current = table.group(1).strip("\"'")
            header = number if current == section and header is None else header
        elif current == section and key and re.match(rf"\s*[\"']?{re.escape(key)}[\"']?\s*=", line):
            return number
        elif current == "" and re.match(rf"\s*{re.escape(section)}\s*[.=]", line):
            header = header or number  # dotted keys or an inline table at the top
    return header


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


def env_value(variable: str, value: str, default: object) -> object:
    """An env string as the setting's type wants it: lists as JSON or comma-separated, "" as unset."""
    if value == "" and default is None:
        return None
    if not isinstance(default, tuple):
        return value
    if not value.lstrip().startswith("["):
        return [item.strip() for item in value.split(",") if item.strip()]
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise ConfigError(variable, None, f"not a JSON list ({exc.msg})", 'write ["a", "b"] or a,b') from None
