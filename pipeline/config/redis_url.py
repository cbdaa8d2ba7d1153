"""``[storage] redis_url``: a plain Redis URL or a Redis Sentinel one, read into a :class:`RedisTarget`.

Accepted forms::

    redis://[[user]:password@]host[:port][/db]      rediss://… (TLS)      unix:///path/redis.sock
    redis+sentinel://[:password@]host:port[,host:port…]/<service>[/<db>]

With Sentinel, qmark asks the sentinels which server is the master of ``<service>`` and
asks again after a failover, so a promoted replica needs no config change. The password
(if any) is the master's; the sentinels are asked without one. Nothing here connects:
``workers.redis_client`` builds the clients from the target.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from pipeline.config.values import invalid

SENTINEL_SCHEME = "redis+sentinel"
_PLAIN_SCHEMES = ("redis", "rediss", "unix")
_HOST_PORT = re.compile(r"\[([0-9A-Fa-f:.]+)\]:(\d{1,5})|([^:\[\]\s/,@]+):(\d{1,5})")
_EXAMPLE = '"redis://127.0.0.1:6379/0" or "redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/qmark/0"'


@dataclass(frozen=True)
class RedisTarget:
    """Where Redis is: ``url`` for a plain server, else the sentinels and the master's service name."""

    url: str | None = None
    sentinels: tuple[tuple[str, int], ...] = ()
    service: str = ""
    db: int = 0
    password: str | None = None

    @property
    def uses_sentinel(self) -> bool:
        return bool(self.sentinels)


def parse_redis_url(value: str) -> RedisTarget:
    """The target ``value`` names; a PydanticCustomError with the fix when it names none."""
    scheme = value.partition("://")[0].lower()
    if scheme == SENTINEL_SCHEME:
        return _sentinel(value)
    if scheme in _PLAIN_SCHEMES and _plain_ok(value, scheme):
        return RedisTarget(url=value)
    raise invalid(
        _hidden(value),
        "is not redis://host:port/db, rediss://host:port/db or redis+sentinel://host:port,…/service/db",
        f"write e.g. {_EXAMPLE}",
    )


def valid_redis_url(value: str) -> str:
    """A pydantic validator: ``value`` unchanged when :func:`parse_redis_url` reads it."""
    parse_redis_url(value)
    return value


def _plain_ok(value: str, scheme: str) -> bool:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        return False
    if scheme == "unix":
        return bool(parts.path)
    database = parts.path.strip("/")
    return bool(parts.hostname) and (database == "" or database.isdigit())


def _sentinel(value: str) -> RedisTarget:
    rest = value.split("://", 1)[1]
    netloc, _, path = rest.partition("/")
    credentials, at, hosts = netloc.rpartition("@")
    password = unquote(credentials.partition(":")[2]) if at else None
    sentinels = [_sentinel_address(value, item.strip()) for item in hosts.split(",")]
    service, _, database = path.strip("/").partition("/")
    if not service or "/" in database or (database and not database.isdigit()):
        raise _bad_sentinel(value, "it needs /<service> (the master's name in sentinel.conf), then /<db>")
    return RedisTarget(
        sentinels=tuple(sentinels), service=service, db=int(database or 0), password=password or None
    )


def _sentinel_address(value: str, item: str) -> tuple[str, int]:
    match = _HOST_PORT.fullmatch(item)
    if not match or int(match.group(2) or match.group(4)) > 65535:
        raise _bad_sentinel(value, f"{item!r} is not host:port")
    return match.group(1) or match.group(3), int(match.group(2) or match.group(4))


def _bad_sentinel(value: str, why: str) -> Exception:
    return invalid(
        _hidden(value),
        f"is not a Redis Sentinel URL: {why}",
        "write redis+sentinel://[:password@]host:port[,host:port…]/<service>[/<db>], "
        'e.g. "redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/qmark/0"',
    )


def _hidden(value: str) -> str:
    """``value`` with any password replaced by ``***`` (errors never echo it)."""
    return re.sub(r"//[^@/]*@", "//***@", value)
