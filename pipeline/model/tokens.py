"""Signed reply addresses: issue and check the token in ``<local>+<token>@<domain>``.

A token looks like ``q12-<24 base32 chars>``. The first 16 characters are an
HMAC-SHA256 over the escalation number alone (80 bits), so a forgery is rejected
without touching the database. The last 8 characters are an HMAC over the number
and the recipient's lower-cased address (40 bits), so a genuine token replayed by
somebody else is noticed given the claimed sender. Base32 is lower-case and
unpadded, which survives MTAs that fold the local part's case.

Key rotation: :func:`check_token_with_keys` tries each key, newest first, so
addresses signed with a key that is still listed keep verifying.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass

_NUMBER_MAC_BYTES = 10  # 16 base32 chars
_RECIPIENT_MAC_BYTES = 5  # 8 base32 chars
_MAX_DIGITS = 12
_TOKEN = re.compile(rf"q([1-9][0-9]{{0,{_MAX_DIGITS - 1}}})-([a-z2-7]{{16}})([a-z2-7]{{8}})")


@dataclass(frozen=True)
class TokenCheck:
    """The verdict on one token: ``number`` is set only when the token is genuine."""

    number: int | None
    genuine: bool
    recipient_ok: bool
    reason: str


def make_token(secret: bytes, number: int, recipient: str) -> str:
    """The token binding escalation ``number`` to ``recipient`` (case-insensitive)."""
    _require_secret(secret)
    if isinstance(number, bool) or not 0 < number < 10**_MAX_DIGITS:
        raise ValueError(f"escalation number must be between 1 and {10**_MAX_DIGITS - 1}")
    return f"q{number}-{_number_mac(secret, number)}{_recipient_mac(secret, number, recipient)}"


def reply_address(secret: bytes, number: int, recipient: str, *, local: str, domain: str) -> str:
    """The signed address ``<local>+<token>@<domain>`` for replies from ``recipient``."""
    return f"{local.lower()}+{make_token(secret, number, recipient)}@{domain.lower()}"


def check_token(secret: bytes, token: str, sender: str) -> TokenCheck:
    """Verify ``token`` and whether it was issued to ``sender``; never raises on bad input."""
    _require_secret(secret)
    match = _TOKEN.fullmatch(token.strip().lower())
    if match is None:
        return TokenCheck(None, genuine=False, recipient_ok=False, reason="malformed token")
    number = int(match.group(1))
    if not hmac.compare_digest(match.group(2), _number_mac(secret, number)):
        return TokenCheck(None, genuine=False, recipient_ok=False, reason="signature does not verify")
    if not hmac.compare_digest(match.group(3), _recipient_mac(secret, number, sender)):
        return TokenCheck(
            number, genuine=True, recipient_ok=False, reason="token was issued to a different recipient"
        )
    return TokenCheck(number, genuine=True, recipient_ok=True, reason="ok")


def check_token_with_keys(secrets: Sequence[bytes], token: str, sender: str) -> TokenCheck:
    """:func:`check_token` under the first of ``secrets`` (newest first) that signed ``token``."""
    if not secrets:
        raise ValueError("at least one token secret is needed")
    first = check_token(secrets[0], token, sender)
    if first.genuine or first.reason == "malformed token":
        return first
    for older in secrets[1:]:
        check = check_token(older, token, sender)
        if check.genuine:
            return check
    return first


def token_from_address(address: str, *, local: str, domain: str) -> str | None:
    """The token in a ``local+token@domain`` address (any case, optional <>), else None."""
    addr = address.strip()
    if addr.startswith("<") and addr.endswith(">"):
        addr = addr[1:-1]
    mailbox, at, addr_domain = addr.lower().rpartition("@")
    if not at or addr_domain != domain.lower():
        return None
    prefix = local.lower() + "+"
    if not mailbox.startswith(prefix) or len(mailbox) == len(prefix):
        return None
    return mailbox[len(prefix) :]


def _number_mac(secret: bytes, number: int) -> str:
    return _mac(secret, f"qmark-escalation\x00{number}", _NUMBER_MAC_BYTES)


def _recipient_mac(secret: bytes, number: int, recipient: str) -> str:
    return _mac(secret, f"qmark-recipient\x00{number}\x00{recipient.strip().lower()}", _RECIPIENT_MAC_BYTES)


def _mac(secret: bytes, message: str, size: int) -> str:
    digest = hmac.new(secret, message.encode("utf-8"), hashlib.sha256).digest()[:size]
    return base64.b32encode(digest).decode("ascii").lower().rstrip("=")


def _require_secret(secret: bytes) -> None:
    if not secret:
        raise ValueError("the token secret must not be empty")
