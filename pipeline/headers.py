"""Header-injection-proof values: every text or address qmark puts in a header passes here.

Three layers keep outgoing headers to the set we intend (reliability-security F24):
``clean_text`` and ``clean_address`` remove what could start a new line or smuggle
one in, the stdlib generator (``policy.SMTP``) folds and RFC 2047-encodes, and
``check_generated`` re-parses the finished bytes and fails closed if the header
set differs from the plan.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from email import policy
from email.parser import BytesHeaderParser
from email.utils import formataddr

from pipeline.mail import Address

MAX_LINE_OCTETS = 998
_CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
# An RFC 2047 encoded-word opener ("=?charset?Q?"). The stdlib parser decodes such
# words even where we meant literal text, which turns "=0D=0A" back into CR LF.
_ENCODED_WORD_OPENER = re.compile(r"=\?(?=[^?\s]*\?[bq]\?)", re.IGNORECASE)
_ADDRESS_FORBIDDEN = frozenset('<>()[],;:"\\')


class HeaderInjectionError(ValueError):
    """The generated message's headers are not the ones we meant to write."""


def clean_text(value: str, *, max_len: int = 998) -> str:
    """One safe header line: no control or line-breaking characters, single spaces, <= max_len chars."""
    if max_len < 1:
        raise ValueError("max_len must be at least 1")
    chars = (" " if unicodedata.category(ch) in _CONTROL_CATEGORIES else ch for ch in value)
    text = _ENCODED_WORD_OPENER.sub("= ?", "".join(chars))
    text = " ".join(text.split())
    if len(text) > max_len:
        text = text[: max_len - 1].rstrip() + "…"
    return text


def clean_address(addr: Address) -> Address:
    """``addr`` with a validated, lower-cased email and a cleaned display name; ValueError if unsafe."""
    email = addr.email.strip().lower()
    local, _, domain = email.partition("@")
    problem = _address_problem(email, local, domain)
    if problem:
        raise ValueError(f"unsafe email address {email[:80]!r}: {problem}")
    return Address(email=email, name=clean_text(addr.name, max_len=200))


def format_address(addr: Address) -> str:
    """A header value for ``addr``: ``Name <email>``, the name quoted or RFC 2047-encoded as needed."""
    safe = clean_address(addr)
    return formataddr((safe.name, safe.email), charset="utf-8")


def check_generated(raw: bytes, expected: Iterable[str]) -> None:
    """Fail closed unless ``raw``'s top-level headers are exactly ``expected`` (any order, any case).

    Also rejects lines over 998 octets, bare CR or LF, and decoded header values
    that still hold a control character.
    """
    head = raw.split(b"\r\n\r\n", 1)[0]
    if b"\n" in head.replace(b"\r\n", b"") or b"\r" in head.replace(b"\r\n", b""):
        raise HeaderInjectionError("bare CR or LF in the header block")
    long_lines = [n for n, line in enumerate(raw.split(b"\r\n"), 1) if len(line) > MAX_LINE_OCTETS]
    if long_lines:
        raise HeaderInjectionError(f"lines over {MAX_LINE_OCTETS} octets: {long_lines[:5]}")
    parsed = BytesHeaderParser(policy=policy.default).parsebytes(raw)
    found = sorted(name.lower() for name in parsed)
    wanted = sorted(name.lower() for name in expected)
    if found != wanted:
        raise HeaderInjectionError(f"header set {found} differs from the intended {wanted}")
    for name in parsed:
        try:
            value = str(parsed[name])
        except ValueError as exc:  # the stdlib refuses e.g. CR/LF inside an address
            raise HeaderInjectionError(f"{name} does not re-parse: {exc}") from exc
        if any(unicodedata.category(ch) in _CONTROL_CATEGORIES for ch in value):
            raise HeaderInjectionError(f"{name} decodes to a control character")


def _address_problem(email: str, local: str, domain: str) -> str:
    if email.count("@") != 1 or not local or not domain:
        return "needs exactly one @ between a local part and a domain"
    if len(email) > 254:
        return "longer than 254 characters"
    if not email.isascii():
        return "non-ASCII addresses are not supported"
    if any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in email):
        return "contains whitespace or a control character"
    if any(ch in _ADDRESS_FORBIDDEN for ch in email):
        return "contains an angle bracket, comma, quote, semicolon or other special"
    if ".." in domain or domain.startswith(".") or domain.endswith("."):
        return "domain is malformed"
    return ""
