"""Load :class:`Settings` from qmark.toml and the QMARK_* environment, or say what is wrong where.

The file is ``--config PATH``, else ``$QMARK_CONFIG``, else ``./qmark.toml`` when
present; ``QMARK_<SECTION>__<KEY>`` overrides it. Any mistake raises
:class:`ConfigError` naming the file and line (or the variable) and the fix.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from pipeline.config.env import CONFIG_VARIABLE, env_overrides
from pipeline.config.settings import KEYS, Settings
from pipeline.config.sources import ConfigError, close_match, line_of, read_toml

_DEFAULT_FILE = "qmark.toml"


def load_settings(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Settings from ``path`` (else $QMARK_CONFIG, else ./qmark.toml if present), overridden by env."""
    env = os.environ if env is None else env
    chosen = _config_file(path, env)
    label = str(chosen or "defaults")
    data, text = _read_file(chosen, label)
    overrides = env_overrides(env)
    for (section, key), (_variable, value) in overrides.items():
        data.setdefault(section, {})[key] = value
    try:
        return Settings.validated(data, Path(chosen) if chosen is not None else None)
    except ValidationError as exc:
        variables = {where: variable for where, (variable, _value) in overrides.items()}
        raise _problem(exc, label, text, variables) from None


def _config_file(path: str | Path | None, env: Mapping[str, str]) -> str | Path | None:
    chosen = path if path is not None else env.get(CONFIG_VARIABLE) or None
    if chosen is None and Path(_DEFAULT_FILE).is_file():
        return _DEFAULT_FILE
    return chosen


def _read_file(chosen: str | Path | None, label: str) -> tuple[dict[str, Any], str]:
    """The file's data and text, its section and key names checked; nothing when there is no file."""
    if chosen is None:
        return {}, ""
    data, text = read_toml(Path(chosen), label)
    _check_names(data, text, label)
    return data, text


# Names --------------------------------------------------------------------------------------------


def _check_names(data: Mapping[str, Any], text: str, label: str) -> None:
    """Unknown sections and keys are errors with a suggestion."""
    for section, table in data.items():
        if section not in KEYS:
            raise _unknown_section(section, table, text, label)
        if not isinstance(table, dict):
            fix = f"write [{section}] on its own line, then key = value lines"
            raise ConfigError(label, line_of(text, section), f"[{section}] must be a table", fix)
        for key in table:
            if key not in KEYS[section]:
                raise _unknown_key(section, key, text, label)


def _unknown_section(section: str, table: object, text: str, label: str) -> ConfigError:
    home = next((name for name, keys in KEYS.items() if section in keys), None)
    close = close_match(section, KEYS)
    fix = f"put it under [{home}]" if home else f'did you mean "[{close}]"?' if close else "remove it"
    what = (
        f'unknown section "[{section}]"' if isinstance(table, dict) else f'"{section}" is outside any section'
    )
    return ConfigError(label, line_of(text, section), what, fix)


def _unknown_key(section: str, key: str, text: str, label: str) -> ConfigError:
    close = close_match(key, KEYS[section])
    fix = f'did you mean "{close}"?' if close else f"[{section}] takes {', '.join(KEYS[section])}"
    return ConfigError(label, line_of(text, section, key), f'[{section}] unknown key "{key}"', fix)


# Values -------------------------------------------------------------------------------------------


def _problem(
    exc: ValidationError, label: str, text: str, variables: Mapping[tuple[str, str], str]
) -> ConfigError:
    """The first validation error, at the line (or variable) it came from, with a fix."""
    error = exc.errors()[0]
    section, key = str(error["loc"][0]), str(error["loc"][1]) if len(error["loc"]) > 1 else ""
    if error["type"] == "qmark":
        message, fix = str(error["ctx"]["message"]), str(error["ctx"]["fix"])
    else:
        message = f"{json.dumps(error['input'], default=str)} {_described(error)}"
        fix = _default_fix(section, key)
    if (section, key) in variables:
        return ConfigError(variables[(section, key)], None, message, fix)
    return ConfigError(label, line_of(text, section, key), f"[{section}] {key}: {message}", fix)


_WORDS = {
    "bool": "is not true or false",
    "int": "is not a whole number",
    "float": "is not a number",
    "tuple": "is not a list",
    "list": "is not a list",
    "string_type": "is not a string",
    "path": "is not a path",
}


def _described(error: Mapping[str, Any]) -> str:
    """What is wrong with a value, in words, from pydantic's error type."""
    kind, context = str(error["type"]), error.get("ctx") or {}
    if "ge" in context:
        return f"is less than {context['ge']}"
    if "min_length" in context:
        return "is empty"
    return next(
        (text for prefix, text in _WORDS.items() if kind.startswith(prefix)), str(error["msg"]).lower()
    )


def _default_fix(section: str, key: str) -> str:
    default = Settings().model_dump(mode="json", by_alias=True)[section].get(key)
    if default in (None, "**********"):
        return f'write a quoted string, e.g. {key} = "..."'
    return f"write it like the default: {key} = {json.dumps(default)}"
