"""Timezones by IANA name: the one place a name becomes a ``ZoneInfo`` or a clear error."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def zone(name: str) -> ZoneInfo:
    """The IANA timezone called ``name``; ValueError (saying so, with examples) when there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f'unknown IANA timezone "{name}"; use a name such as "Europe/Berlin" or "UTC"'
        ) from None
