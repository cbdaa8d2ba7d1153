"""The one typed Settings object: a frozen model per qmark.toml section, each key with its default.

Every key has an embedded default, so qmark starts without any file. Reading the
file and the QMARK_* environment into these models is
:func:`pipeline.config.load.load_settings`'s job.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, cast
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from pipeline.config.redis_url import valid_redis_url
from pipeline.config.tls import pair_problem
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
    invalid,
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
    # For key rotation, newest first: the first signs, every listed key verifies. Not with secret_key.
    secret_keys: tuple[SecretStr, ...] = ()
    timezone: Annotated[str, AfterValidator(iana_timezone)] = "UTC"
    # `qmark run` writes its pid here; `qmark rules reload` signals the process it names.
    pid_file: str = Field(default="var/qmark.pid", min_length=1)

    @field_validator("secret_keys")
    @classmethod
    def _one_way_to_set_keys(cls, keys: tuple[SecretStr, ...], info: ValidationInfo) -> tuple[SecretStr, ...]:
        if any(not key.get_secret_value() for key in keys):
            raise invalid("[...]", "holds an empty key", "give every key in secret_keys a long random value")
        if keys and info.data.get("secret_key") is not None:
            raise invalid(
                "[...]",
                "is set together with secret_key",
                "set one of them: move the secret_key value into secret_keys (as its last item"
                " while it still has to verify) and remove secret_key",
            )
        return keys

    @property
    def signing_keys(self) -> tuple[bytes, ...]:
        """The configured keys as bytes, newest (the signing one) first; empty when none is set."""
        if self.secret_key is not None:
            return (self.secret_key.get_secret_value().encode(),)
        return tuple(key.get_secret_value().encode() for key in self.secret_keys)


class StorageSettings(_Section):
    database_url: str = Field(default="sqlite:///var/qmark.db", min_length=1, repr=False)
    # redis://, rediss://, unix:// or redis+sentinel://host:port,…/service/db (see redis_url.py).
    redis_url: Annotated[str, AfterValidator(valid_redis_url)] = Field(
        default="redis://127.0.0.1:6379/0", min_length=1, repr=False
    )
    # PostgreSQL only (SQLite ignores them): connections each process keeps and may add in a
    # burst, how long a step waits for one, and the server-side timeouts that end a stuck
    # statement, lock wait or abandoned transaction (rolled back; the job is redone).
    pool_size: Count = 5
    pool_overflow: int = Field(default=5, ge=0)
    pool_timeout: Seconds = 10.0
    connect_timeout: Seconds = 5.0
    statement_timeout: Seconds = 30.0
    lock_timeout: Seconds = 10.0
    idle_in_transaction_timeout: Seconds = 60.0


class SmtpSettings(_Section):
    listen: Listen = "127.0.0.1:2525"
    max_message_size: Size = 25 * 1024 * 1024
    processes: Count = 2
    # STARTTLS: a PEM certificate (chain) and its key, both or neither; require_tls refuses MAIL
    # before STARTTLS (530). Checked at start-up: a missing or mismatched file stops qmark.
    tls_cert: str | None = None
    tls_key: str | None = Field(default=None, validate_default=True)
    require_tls: bool = Field(default=False, validate_default=True)
    # RCPT beyond this many in one transaction get 452 4.5.3 (the sender retries them later).
    max_recipients: Count = 100
    # A connection silent this long between commands gets 421 4.4.2 and is closed.
    idle_timeout: Seconds = 60.0
    # A connection open this long in all gets 421 4.4.2 and is closed (a slow-drip client).
    session_timeout: Seconds = 600.0
    # Connections per process, and per peer address, beyond which a new one gets 421 4.3.2.
    max_connections: Count = 500
    max_connections_per_peer: Count = 20
    # Commands per peer address and process: a burst up to this many, then this many a minute;
    # beyond it 421 4.7.0 and the connection is closed. 0 = no limit. Far above what one relay
    # sends at the edge's own top speed (about 800 messages/s, 5 commands each), so only a
    # client flooding commands (NOOP, RSET, bad syntax...) meets it.
    max_commands_per_minute: int = Field(default=300_000, ge=0)

    @field_validator("tls_key")
    @classmethod
    def _tls_pair(cls, key: str | None, info: ValidationInfo) -> str | None:
        cert = info.data.get("tls_cert")
        both = "set both tls_cert and tls_key, or neither"
        if cert is not None and key is None:  # reported as the missing key (tls_cert = ... is set)
            raise PydanticCustomError(
                "qmark", "{message}", {"message": "is unset but tls_cert is set", "fix": both}
            )
        if key is not None and cert is None:
            raise invalid(key, "is set without tls_cert", both)
        if cert is not None and key is not None and (problem := pair_problem(cert, key)):
            raise invalid(
                key,
                f"cannot be used: {problem}",
                "point tls_cert and tls_key at a readable PEM certificate and its key",
            )
        return key

    @field_validator("require_tls")
    @classmethod
    def _tls_to_require(cls, require: bool, info: ValidationInfo) -> bool:
        if require and info.data.get("tls_cert") is None:
            raise invalid(require, "needs a certificate", "set tls_cert and tls_key, or require_tls = false")
        return require

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
    # When set, /readyz and /metrics want "Authorization: Bearer <token>"; /healthz stays open.
    token: SecretStr | None = None

    @field_validator("token")
    @classmethod
    def _token_not_empty(cls, token: SecretStr | None) -> SecretStr | None:
        if token is not None and not token.get_secret_value().strip():
            raise invalid(
                "", "is empty", "remove token to leave /readyz and /metrics open, or set a long random value"
            )
        return token

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

    @classmethod
    def validated(cls, data: Mapping[str, Any], source_file: Path | None) -> Settings:
        """Settings from ``data`` (read from ``source_file``); pydantic's ValidationError if it is wrong."""
        settings = cls.model_validate(data)
        settings._source_file = source_file
        return settings

    @property
    def source_file(self) -> Path | None:
        """The TOML file these settings came from; None when only defaults and env applied."""
        return self._source_file

    def warnings(self) -> list[str]:
        """Start-up warnings: settings that work but are unsafe or surprising."""
        found = self._trust_warnings()
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

    def _trust_warnings(self) -> list[str]:
        """Who is trusted: executives without DMARC, and hosts that would not trust each other."""
        found = []
        if not self.auth.require_dmarc:
            found.append(
                "auth.require_dmarc is false: any sender claiming an executive address is trusted; "
                "use only for local demos"
            )
        elif not self.auth.trusted_authserv_ids:
            found.append("auth.trusted_authserv_ids is empty: no executive's mail can be trusted")
        if not self.service.signing_keys and not self.storage.database_url.startswith("sqlite"):
            found.append(
                "service.secret_key is unset with a shared database: each host generates its own "
                "var/secret.key and rejects the reply addresses of the others; set one secret_key (or "
                "secret_keys) for all"
            )
        return found


#: Section name -> its model.
SECTIONS = {name: cast(type[BaseModel], info.annotation) for name, info in Settings.model_fields.items()}
#: TOML key -> attribute name, per section.
KEYS = {
    section: {info.alias or name: name for name, info in model.model_fields.items()}
    for section, model in SECTIONS.items()
}
