"""Wire adapters to the domain once at start-up: settings, rules, database, broker, graph."""

from __future__ import annotations

import os
import secrets
import threading
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dramatiq.brokers.redis import RedisBroker

from pipeline import log
from pipeline.config.load import load_settings
from pipeline.config.settings import Settings
from pipeline.decide.classify import Policy
from pipeline.inbound.limits import ParseLimits
from pipeline.model.mail import Address
from pipeline.outbound.compose import Identity
from pipeline.outbound.delivery import Transport
from pipeline.outbound.transport import open_transport
from pipeline.steps.services import Services
from pipeline.store.db import open_database
from rules.loader import load_rules
from rules.schema import Rules
from workers import broker as broker_module
from workers import graph as graph_module

logger = log.get(__name__)


@dataclass
class App:
    """Everything one qmark process uses, built from the configuration."""

    settings: Settings
    services: Services
    broker: RedisBroker
    graph: graph_module.Graph
    _transport: threading.local
    rules_loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def use_rules(self, rules: Rules) -> None:
        """Make ``rules`` live: one reference swap, so a job that already took ``services`` keeps
        the rules it started with and the next job (and tick) sees only the new ones."""
        self.services = replace(self.services, rules=rules)
        self.rules_loaded_at = datetime.now(UTC)

    def transport(self) -> Transport:
        """One outbound transport per thread (SMTP connections are reused, not shared)."""
        current: Transport | None = getattr(self._transport, "value", None)
        if current is None:
            current = open_transport(self.settings.outbound.url)
            self._transport.value = current
        return current

    def runtime(self) -> graph_module.Runtime:
        """What one job uses: ``services`` read once, so a rules reload never changes them mid-job."""
        return graph_module.Runtime(services=self.services, transport=self.transport)

    def pinned(self) -> App:
        """This app with today's ``services`` held fixed, for a step that reads them more than once."""
        return replace(self)


def secret_keys(settings: Settings) -> tuple[bytes, ...]:
    """The token keys, newest (signing) first: ``secret_key``, ``secret_keys``, else the generated one."""
    return settings.service.signing_keys or (secret_key(settings),)


def secret_key(settings: Settings) -> bytes:
    """The signing secret: the configured one, or one generated once and kept beside the database."""
    if settings.service.signing_keys:
        return settings.service.signing_keys[0]
    path = Path("var") / "secret.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(32))
    return path.read_text().strip().encode()


def identity(settings: Settings, secret: bytes, older_secrets: tuple[bytes, ...] = ()) -> Identity:
    from email.utils import parseaddr

    name, email = parseaddr(settings.outbound.from_address)
    intake = settings.service.intake_addresses[0].lower()
    return Identity(
        from_address=Address(email.lower(), name),
        reply_local=intake.partition("@")[0],
        domain=settings.service.domain.lower(),
        secret=secret,
        older_secrets=older_secrets,
    )


def policy(settings: Settings) -> Policy:
    """What the classify chain needs from the configuration."""
    return Policy(
        intake_addresses=frozenset(a.lower() for a in settings.service.intake_addresses),
        domain=settings.service.domain.lower(),
        trusted_authserv_ids=frozenset(a.lower() for a in settings.auth.trusted_authserv_ids),
        require_dmarc=settings.auth.require_dmarc,
    )


def build(config: str | None = None, *, settings: Settings | None = None) -> App:
    """Load and validate everything; raises ConfigError or RulesError with file and line."""
    settings = settings or load_settings(config)
    rules = load_rules(settings.rules.path)
    for warning in settings.warnings():
        logger.warning("config_warning", warning=warning)
    # Workers redo steps (see Database); a pooled connection for each job thread and the
    # heartbeat, else every transaction beyond the pool opens and closes a PostgreSQL backend.
    pool = max(settings.storage.pool_size, settings.worker.threads + 1)
    storage = settings.storage.model_copy(update={"pool_size": pool})
    db = open_database(storage, durable=False)
    newest, *older = secret_keys(settings)
    services = Services(
        db=db,
        rules=rules,
        policy=policy(settings),
        identity=identity(settings, newest, tuple(older)),
        limits=ParseLimits(),
        max_attempts=settings.worker.max_attempts,
        lease=timedelta(seconds=settings.worker.lease),
        timezone=settings.service.timezone,
    )
    broker = broker_module.build_broker(settings.storage.redis_url)
    app: App

    def runtime() -> graph_module.Runtime:  # resolved when a job runs, after ``app`` exists
        return app.runtime()

    graph = graph_module.build(broker, runtime, lease=settings.worker.lease)
    app = App(settings=settings, services=services, broker=broker, graph=graph, _transport=threading.local())
    return app
