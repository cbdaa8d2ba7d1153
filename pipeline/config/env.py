"""The QMARK_<SECTION>__<KEY> environment variables: which setting each names, and its value.

A variable that looks like ours but is misspelt is an error naming the variable
and the fix; one that is not ours (QMARK_ANYTHING_ELSE) is left alone.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from pipeline.config.settings import KEYS, SECTIONS
from pipeline.config.sources import ConfigError, close_match

#: Where the config file is named; not a setting.
CONFIG_VARIABLE = "QMARK_CONFIG"


def env_overrides(env: Mapping[str, str]) -> dict[tuple[str, str], tuple[str, object]]:
    """(section, key) -> (variable, value) for each QMARK_<SECTION>__<KEY>; unknown ones are errors."""
    found: dict[tuple[str, str], tuple[str, object]] = {}
    for variable, value in sorted(env.items()):
        setting = _setting(variable)
        if setting is not None:
            section, key = setting
            default = SECTIONS[section].model_fields[KEYS[section][key]].default
            found[setting] = (variable, env_value(variable, value, default))
    return found


def _setting(variable: str) -> tuple[str, str] | None:
    """The (section, key) ``variable`` sets; None when it is not a qmark setting at all."""
    if not variable.startswith("QMARK_") or variable == CONFIG_VARIABLE:
        return None
    section, sep, key = variable.removeprefix("QMARK_").lower().partition("__")
    if not sep:  # QMARK_SMTP_LISTEN is a typo; QMARK_ANYTHING_ELSE is not ours
        _refuse_single_underscore(variable, section)
        return None
    if section not in KEYS or key not in KEYS[section]:
        choices = [f"{s}__{k}" for s in KEYS for k in KEYS[s]]
        close = close_match(f"{section}__{key}", choices)
        fix = (
            f"did you mean QMARK_{close.upper()}?" if close else "see deploy/qmark.example.toml for the keys"
        )
        raise ConfigError(variable, None, f"no such setting [{section}] {key}", fix)
    return section, key


def _refuse_single_underscore(variable: str, name: str) -> None:
    """ConfigError when ``name`` (after QMARK_) starts with a section and one underscore."""
    home = next((section for section in KEYS if name.startswith(f"{section}_")), None)
    if home:
        fix = f"write QMARK_{home.upper()}__{name[len(home) + 1 :].upper()} (two underscores)"
        raise ConfigError(variable, None, "not a qmark setting", fix)


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
