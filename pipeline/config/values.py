"""The value types settings are written in: sizes, durations, listen addresses, mailboxes, URLs.

Each validator accepts what a person would write in qmark.toml ("25MB", "90s",
"127.0.0.1:2525", "imaps://host:993") and otherwise raises an error that says what
is wrong and how to write it; ``pipeline.config.load`` adds the file, the line and the key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from email.utils import parseaddr
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, Field
from pydantic_core import PydanticCustomError

from rules.durations import parse_duration
from rules.timezones import zone

_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(?:([KMG])(?:i?B)?|B)?\s*", re.IGNORECASE)
LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def invalid(value: object, what: str, fix: str) -> PydanticCustomError:
    message = f"{json.dumps(value, default=str)} {what}"
    return PydanticCustomError("qmark", "{message}", {"message": message, "fix": fix})


def parse_size(value: object) -> int:
    """Bytes from ``"25MB"``, ``"512KB"``, ``"1GB"``, ``"100"`` or an int (KB = 1024); else ValueError."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = _SIZE.fullmatch(value) if isinstance(value, str) else None
    if match and float(match.group(1)) > 0:
        return int(float(match.group(1)) * 1024 ** " KMG".index((match.group(2) or " ").upper()))
    raise invalid(value, "is not a size", 'use a number with KB, MB or GB, e.g. "25MB"')


def seconds(value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    try:
        seconds = parse_duration(value).seconds if isinstance(value, str) else None
    except ValueError:
        seconds = None
    if not seconds:
        raise invalid(value, "is not a duration", 'use a number with ms, s, m or h, e.g. "15s"')
    return seconds


def host_port(value: str) -> tuple[str, int]:
    match = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d{1,5})|([^:\[\]\s]+):(\d{1,5})", value)
    if not match or int(match.group(2) or match.group(4)) > 65535:
        raise invalid(value, "is not host:port", 'write e.g. "127.0.0.1:2525" or "[::1]:2525"')
    return match.group(1) or match.group(3), int(match.group(2) or match.group(4))


def listen(value: str) -> str:
    host_port(value)
    return value


def address(value: str) -> str:
    if value.count("@") != 1 or re.search(r"[\s<>]", value):
        raise invalid(value, "is not an email address", 'write e.g. "escalations@acme.test"')
    return value.lower()


def mailbox(value: str) -> str:
    address(parseaddr(value)[1] or value)
    return value.strip()


def iana_timezone(value: str) -> str:
    try:
        return zone(value).key
    except ValueError:
        raise invalid(value, "is not an IANA timezone", 'write e.g. "UTC" or "Europe/Berlin"') from None


def whole(value: object) -> object:
    if isinstance(value, bool):
        raise invalid(value, "is not a whole number", "write a number without quotes, e.g. 2")
    return value


def url_scheme(*schemes: str, example: str) -> Callable[[str | None], str | None]:
    """A validator accepting ``maildir:PATH`` (if listed) and ``scheme://[user:pass@]host:port``."""

    def check(value: str | None) -> str | None:
        if value is None or ("maildir" in schemes and value.startswith("maildir:") and value[8:].strip()):
            return value
        try:
            parts = urlsplit(value)
            ok = parts.scheme in schemes and bool(parts.hostname) and bool(parts.port)
        except ValueError:
            ok = False
        if not ok:
            shown = re.sub(r"//[^@/]*@", "//***@", value)  # never echo a password
            kinds = ", ".join(
                "maildir:PATH" if scheme == "maildir" else f"{scheme}://host:port" for scheme in schemes
            )
            raise invalid(shown, f"is not one of {kinds}", f"write e.g. {example}")
        return value

    return check


Size = Annotated[int, BeforeValidator(parse_size)]
Seconds = Annotated[float, BeforeValidator(seconds)]
Listen = Annotated[str, AfterValidator(listen)]
Addresses = Annotated[tuple[Annotated[str, AfterValidator(address)], ...], Field(min_length=1)]
Count = Annotated[int, BeforeValidator(whole), Field(ge=1)]


def clock_time(value: str) -> str:
    hours, colon, minutes = value.strip().partition(":")
    if not (colon and hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60):
        raise invalid(value, "is not a time of day", 'write it as "HH:MM", e.g. "08:00"')
    return f"{int(hours):02d}:{int(minutes):02d}"
