"""The names qmark gives things: ``Q-<n>`` and ``A-<n>``, and the Message-IDs of its own mail.

A mail about escalation ``n`` has the Message-ID ``<qmark.q<n>.<kind>.<hex>@<domain>>``,
so a reply's In-Reply-To or a bounce that quotes it can be tied back to ``n``; the
daily digest's ``<qmark.digest.<day>.<hex>@<domain>>`` is about no escalation.
"""

from __future__ import annotations

import re
import secrets

_OWN_MESSAGE_ID = re.compile(r"<?qmark\.q([1-9][0-9]{0,11})\.([a-z_]{1,40})\.([0-9a-f]{8,64})@([^<>\s]+?)>?")
_FOREIGN_MESSAGE_ID = re.compile(r"<[\x21-\x3b\x3d\x3f-\x7e]{1,240}@[\x21-\x3b\x3d\x3f-\x7e]{1,240}>")


def ref(number: int) -> str:
    """The public id of escalation ``number``: ``Q-<n>``."""
    return f"Q-{number}"


def parse_ref(text: str) -> int | None:
    """``Q-12`` (any case, optional brackets) -> 12; anything else -> None."""
    cleaned = text.strip().strip("[]").upper()
    if cleaned.startswith("Q-") and cleaned[2:].isdigit():
        return int(cleaned[2:])
    return None


def action_ref(number: int) -> str:
    """The public id of action ``number``: ``A-<n>``."""
    return f"A-{number}"


def parse_action_ref(text: str) -> int | None:
    """``A-7`` (any case, optional brackets) -> 7; anything else -> None."""
    cleaned = text.strip().strip("[]").upper()
    if cleaned.startswith("A-") and cleaned[2:].isdigit():
        return int(cleaned[2:])
    return None


def make_message_id(number: int, kind: str, *, domain: str) -> str:
    """A fresh Message-ID ``<qmark.q<n>.<kind>.<random hex>@<domain>>``."""
    return f"<qmark.q{number}.{kind}.{secrets.token_hex(8)}@{domain}>"


def parse_message_id(mid: str, *, domain: str) -> int | None:
    """The escalation number in one of qmark's own Message-IDs for ``domain``, else None."""
    match = _OWN_MESSAGE_ID.fullmatch(mid.strip().lower())
    if match is None or match.group(4) != domain.lower():
        return None
    return int(match.group(1))


def well_formed_message_id(value: str) -> str | None:
    """``value`` without surrounding space if it is a ``<left@right>`` id safe to write in a header."""
    value = value.strip()
    return value if _FOREIGN_MESSAGE_ID.fullmatch(value) else None


def make_digest_message_id(day: str, *, domain: str) -> str:
    """A fresh Message-ID ``<qmark.digest.<day>.<random hex>@<domain>>``."""
    return f"<qmark.digest.{day}.{secrets.token_hex(8)}@{domain}>"
