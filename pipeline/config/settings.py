"""One typed Settings object from qmark.toml + QMARK_* env; nobody else reads os.environ.

Every key has an embedded default, so qmark starts without any file. The file is
``--config PATH``, else ``$QMARK_CONFIG``, else ``./qmark.toml`` when present;
``QMARK_<SECTION>__<KEY>`` overrides it. Any mistake raises :class:`ConfigError`
naming the file and line (or the variable) and the fix.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, cast
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, SecretStr
from pydantic import ValidationError as _ValidationError

from pipeline.config.sources import ConfigError, close_match, env_value, line_of, read_toml
from pipeline.config.values import (
    LOOPBACK,
    Addresses,
    Count,
    Listen,
    Seconds,
    Size,
    address,
    clock_time,
    host_port,
    iana_timezone,
    mailbox,
    url_scheme,
)

# Sections -----------------------------------------------------------------------------------------


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_by_name=True, validate_by_alias=True)


class ServiceSettings(_Section):
    domain: str = Field(default="acme.test", min_length=1)
    intake_addresses: Addresses = ("escalations@acme.test",)
    secret_key: SecretStr | None = None
    timezone: Annotated[str, AfterValidator(iana_timezone)] = "UTC"


class StorageSettings(_Section):
    database_url: str = Field(default="sqlite:///var/qmark.db", min_length=1, repr=False)
    redis_url: str = Field(default="redis://127.0.0.1:6379/0", min_length=1, repr=False)


class SmtpSettings(_Section):
    listen: Listen = "127.0.0.1:2525"
    max_message_size: Size = 25 * 1024 * 1024
    processes: Count = 2

    @property
    def host_port(self) -> tuple[str, int]:
        """``listen`` as (host, port); an IPv6 host comes without brackets."""
        return host_port(self.listen)


class ImapSettings(_Section):
    url: Annotated[
        str | None, AfterValidator(url_scheme("imaps", "imap", example='"imaps://mail.acme.test:993"'))
    ] = None
    username: str = ""
    password: SecretStr = SecretStr("")
    folder: str = Field(default="INBOX", min_length=1)
    done_folder: str | None = None
    poll_interval: Seconds = 30.0
    # imap:// upgrades with STARTTLS unless this is false (a plain connection: only on 127.0.0.1).
    starttls: bool = True
    # A CA bundle to trust instead of the system's (a private mail server's certificate).
    ca_file: str | None = None
    # How long a poller's claim on the folder lasts unrenewed: another qmark imap takes over
    # this long after the one polling dies.
    lease: Seconds = 30.0


class OutboundSettings(_Section):
    url: Annotated[
        str,
        AfterValidator(
            url_scheme(
                "smtp", "smtp+starttls", "maildir", example='"smtp://127.0.0.1:25" or "maildir:var/sent"'
            )
        ),
    ] = Field(default="maildir:var/sent", repr=False)
    from_address: Annotated[str, AfterValidator(mailbox)] = Field(
        default="qmark <escalations@acme.test>", alias="from"
    )


class AuthSettings(_Section):
    trusted_authserv_ids: tuple[str, ...] = ("mx.acme.test",)
    require_dmarc: bool = True


class HttpSettings(_Section):
    listen: Listen = "127.0.0.1:9108"
    # Where qmark's processes share their Prometheus counters (multi-process mode); emptied
    # when `qmark run` starts.
    metrics_dir: str = "var/metrics"

    @property
    def host_port(self) -> tuple[str, int]:
        """``listen`` as (host, port); an IPv6 host comes without brackets."""
        return host_port(self.listen)


class SchedulerSettings(_Section):
    tick: Seconds = 15.0
    sweep_after: Seconds = 30.0


class DigestSettings(_Section):
    # The daily digest: open and overdue escalations, breaches, what closed with its root cause,
    # and the honest statistics. Sent at `time` in `[service] timezone` to `recipients` and,
    # when `executives` is true, to every executive in people.yaml. Off when nobody would get it.
    time: Annotated[str, AfterValidator(clock_time)] = "08:00"
    recipients: tuple[Annotated[str, AfterValidator(address)], ...] = ()
    executives: bool = False


class WorkerSettings(_Section):
    processes: Count = 2
    threads: Count = 8
    poll_timeout: Seconds = 0.1
    max_attempts: Count = 5
    lease: Seconds = 120.0
    nice: int = Field(default=5, ge=0, le=19)


class RulesSettings(_Section):
    path: Path = Path("rules/examples/acme")


class Settings(BaseModel):
    """All of qmark's settings. Relative paths are relative to the working directory."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    service: ServiceSettings = Field(default_factory=ServiceSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    imap: ImapSettings = Field(default_factory=ImapSettings)
    outbound: OutboundSettings = Field(default_factory=OutboundSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    digest: DigestSettings = Field(default_factory=DigestSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    rules: RulesSettings = Field(default_factory=RulesSettings)
    _source_file: Path | None = PrivateAttr(default=None)

    @property
    def source_file(self) -> Path | None:
        """The TOML file these settings came from; None when only defaults and env applied."""
        return self._source_file

    def warnings(self) -> list[str]:
        """Start-up warnings: settings that work but are unsafe or surprising."""
        found = []
        if not self.auth.require_dmarc:
            found.append(
                "auth.require_dmarc is false: any sender claiming an executive address is trusted; "
                "use only for local demos"
            )
        elif not self.auth.trusted_authserv_ids:
            found.append("auth.trusted_authserv_ids is empty: no executive's mail can be trusted")
        imap, relay = urlsplit(self.imap.url or ""), urlsplit(self.outbound.url)
        if imap.scheme == "imap" and not self.imap.starttls and imap.hostname not in LOOPBACK:
            found.append(
                f"imap.url uses imap:// to {imap.hostname} with starttls = false: the password travels"
                " in clear; use imaps:// or starttls = true"
            )
        if relay.scheme == "smtp" and relay.password and relay.hostname not in LOOPBACK:
            found.append(
                f"outbound.url sends a password to {relay.hostname} without TLS; use smtp+starttls://"
            )
        return found


_SECTIONS = {name: cast(type[BaseModel], info.annotation) for name, info in Settings.model_fields.items()}
#: TOML key -> attribute name, per section.
_KEYS = {
    section: {info.alias or name: name for name, info in model.model_fields.items()}
    for section, model in _SECTIONS.items()
}


# Reading the file and the environment -------------------------------------------------------------


def _check_names(data: Mapping[str, Any], text: str, label: str) -> None:
    """Unknown sections and keys are errors with a suggestion."""
    for section, table in data.items():
        if section not in _KEYS:
            home = next((name for name, keys in _KEYS.items() if section in keys), None)
            close = close_match(section, _KEYS)
            fix = f"put it under [{home}]" if home else f'did you mean "[{close}]"?' if close else "remove it"
            what = (
                f'unknown section "[{section}]"'
                if isinstance(table, dict)
                else f'"{section}" is outside any section'
            )
            raise ConfigError(label, line_of(text, section), what, fix)
        if not isinstance(table, dict):
            fix = f"write [{section}] on its own line, then key = value lines"
            raise ConfigError(label, line_of(text, section), f"[{section}] must be a table", fix)
        for key in table:
            if key not in _KEYS[section]:
                close = close_match(key, _KEYS[section])
                fix = (
                    f'did you mean "{close}"?' if close else f"[{section}] takes {', '.join(_KEYS[section])}"
                )
                raise ConfigError(label, line_of(text, section, key), f'[{section}] unknown key "{key}"', fix)


def _from_env(env: Mapping[str, str]) -> dict[tuple[str, str], tuple[str, object]]:
    """(section, key) -> (variable, value) for each QMARK_<SECTION>__<KEY>; unknown ones are errors."""
    found: dict[tuple[str, str], tuple[str, object]] = {}
    for variable, value in sorted(env.items()):
        if not variable.startswith("QMARK_") or variable == "QMARK_CONFIG":
            continue
        section, sep, key = variable.removeprefix("QMARK_").lower().partition("__")
        if not sep:  # QMARK_SMTP_LISTEN is a typo; QMARK_ANYTHING_ELSE is not ours
            home = next((name for name in _KEYS if section.startswith(f"{name}_")), None)
            if home:
                fix = f"write QMARK_{home.upper()}__{section[len(home) + 1 :].upper()} (two underscores)"
                raise ConfigError(variable, None, "not a qmark setting", fix)
            continue
        if section not in _KEYS or key not in _KEYS[section]:
            choices = [f"{s}__{k}" for s in _KEYS for k in _KEYS[s]]
            close = close_match(f"{section}__{key}", choices)
            fix = (
                f"did you mean QMARK_{close.upper()}?"
                if close
                else "see deploy/qmark.example.toml for the keys"
            )
            raise ConfigError(variable, None, f"no such setting [{section}] {key}", fix)
        default = _SECTIONS[section].model_fields[_KEYS[section][key]].default
        found[(section, key)] = (variable, env_value(variable, value, default))
    return found


def _described(error: Mapping[str, Any]) -> str:
    kind, context = str(error["type"]), error.get("ctx") or {}
    words = {"bool": "is not true or false", "int": "is not a whole number", "float": "is not a number"}
    words |= {"tuple": "is not a list", "list": "is not a list", "string_type": "is not a string"}
    words |= {"path": "is not a path"}
    if "ge" in context:
        return f"is less than {context['ge']}"
    if "min_length" in context:
        return "is empty"
    return next(
        (text for prefix, text in words.items() if kind.startswith(prefix)), str(error["msg"]).lower()
    )


def _default_fix(section: str, key: str) -> str:
    default = Settings().model_dump(mode="json", by_alias=True)[section].get(key)
    if default in (None, "**********"):
        return f'write a quoted string, e.g. {key} = "..."'
    return f"write it like the default: {key} = {json.dumps(default)}"


def _problem(
    exc: _ValidationError, label: str, text: str, variables: Mapping[tuple[str, str], str]
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


def load_settings(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Settings from ``path`` (else $QMARK_CONFIG, else ./qmark.toml if present), overridden by env."""
    env = os.environ if env is None else env
    chosen = path if path is not None else env.get("QMARK_CONFIG") or None
    if chosen is None and Path("qmark.toml").is_file():
        chosen = "qmark.toml"
    data: dict[str, Any] = {}
    text, label = "", str(chosen or "defaults")
    if chosen is not None:
        data, text = read_toml(Path(chosen), label)
        _check_names(data, text, label)
    overrides = _from_env(env)
    for (section, key), (_variable, value) in overrides.items():
        data.setdefault(section, {})[key] = value
    try:
        settings = Settings.model_validate(data)
    except _ValidationError as exc:
        variables = {where: variable for where, (variable, _value) in overrides.items()}
        raise _problem(exc, label, text, variables) from None
    settings._source_file = Path(chosen) if chosen is not None else None
    return settings
