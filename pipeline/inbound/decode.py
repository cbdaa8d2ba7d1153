"""Decode what a raw header value or a body part says: charsets, RFC 2047 words, addresses, dates, ids.

Pure, no I/O; :mod:`pipeline.inbound.parse` hands over compat32 header values exactly as
they were parsed (8-bit bytes kept as surrogates, folds kept). Decoding falls back instead
of failing: an unknown or wrong charset is read as UTF-8, then cp1252; a broken encoded
word is kept as written; an unreadable date is None. So bad input costs accuracy, never
the message. Only an address list nested too deeply to read raises :class:`Unparseable`.
"""

from __future__ import annotations

import binascii
import codecs
import functools
import re
from datetime import UTC, datetime
from email.utils import getaddresses, parsedate_to_datetime

from pipeline.inbound.limits import Unparseable
from pipeline.model.mail import Address

_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_ANGLE_ID = re.compile(r"<([^<>\s]+)>")
_ATOM = r'[^\s<>()\[\]\\,;:@"]+'
_SIMPLE_ADDRESS = re.compile(rf'"?([^<>()\[\]\\,;:@"]*)(?:"\s*)?<({_ATOM}@{_ATOM})>|({_ATOM}@{_ATOM})')
_PLAUSIBLE = re.compile(r'[^\s<>()\[\],;:@]+@[^\s<>()\[\],;:@"]+')  # what we accept as an address
_LIST_ENTRY = re.compile(r'(?:"[^"]*"|[^,;"])+')  # one entry of an address list: commas inside quotes stay


# -- charsets ----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=128)
def _codec(charset: str | None) -> str | None:
    """A Python text codec for a MIME charset name, or None when there is none."""
    if not charset:
        return None
    name = charset.strip().strip("\"'").lower().split("*", 1)[0]
    name = re.sub(r"^windows-(\d+)$", r"cp\1", name)
    name = re.sub(r"^(iso-8859-\d+)-[ie]$", r"\1", name)
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return None
    return info.name if info._is_text_encoding else None


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Decode ``data`` declared as ``charset``; a wrong or unknown charset falls back to UTF-8, cp1252."""
    codec = _codec(charset)
    for attempt in (codec, "utf-8"):
        if attempt:
            try:
                return data.decode(attempt)
            except UnicodeError:
                pass
    return data.decode(codec or "cp1252", "replace")


def _as_text(value: str) -> str:
    """A compat32 header value as text: 8-bit bytes (kept as surrogates) decoded as UTF-8 or cp1252."""
    if value.isascii():
        return value
    try:
        raw = value.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        return value
    return decode_bytes(raw, None)


def _unfold(value: str) -> str:
    return value.replace("\n", "").strip()


# -- header values -----------------------------------------------------------------------------


def unfolded(value: str) -> str:
    """A raw header value as text on one line, its encoded words left as written (for trace headers)."""
    return _unfold(_as_text(value))


def _decode_word(match: re.Match[str]) -> str:
    charset, kind, text = match.groups()
    try:
        if kind in "bB":
            clean = text.rstrip("=")
            clean = clean[:-1] if len(clean) % 4 == 1 else clean
            data = binascii.a2b_base64(clean + "=" * (-len(clean) % 4), strict_mode=True)
        else:
            data = binascii.a2b_qp(text.encode("ascii", "replace"), header=True)
    except (binascii.Error, ValueError):
        return match.group()
    return decode_bytes(data, charset)


def decode_header(value: str) -> str:
    """Unfold a raw header value and decode its RFC 2047 encoded words."""
    text = unfolded(value)
    if "=?" not in text:
        return text
    out: list[str] = []
    position = 0
    for match in _ENCODED_WORD.finditer(text):
        gap = text[position : match.start()]
        if not (out and position and gap.isspace()):  # whitespace between two encoded words is dropped
            out.append(gap)
        out.append(_decode_word(match))
        position = match.end()
    out.append(text[position:])
    return "".join(out)


def header_date(value: str) -> datetime | None:
    """The date in a raw Date value, UTC when it names no zone; None when it is missing or unreadable."""
    text = unfolded(value)
    if not text:
        return None
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def first_id(value: str) -> str:
    """The first ``<id>`` in a raw Message-ID or In-Reply-To value, without brackets, else the bare text."""
    text = unfolded(value)
    ids = _ANGLE_ID.findall(text)
    return str(ids[0]) if ids else text.strip("<> \t")


def message_ids(value: str) -> tuple[str, ...]:
    """Every ``<id>`` in a raw References value, without brackets, in order."""
    return tuple(_ANGLE_ID.findall(unfolded(value)))


# -- addresses ---------------------------------------------------------------------------------


def _getaddresses(text: str) -> list[tuple[str, str]] | None:
    text = text.strip()
    simple = _SIMPLE_ADDRESS.fullmatch(text)
    if simple:  # "Name <addr>" or a bare addr with no specials: skip the (slow) full parser
        return [((simple.group(1) or "").strip(), simple.group(2) or simple.group(3))]
    try:
        pairs = getaddresses([text], strict=True)
    except TypeError:  # a Python without the CVE-2023-27043 fix has no strict mode
        pairs = getaddresses([text])
    except RecursionError:  # the address parser recurses once per nested comment
        raise Unparseable("an address header is nested too deeply to read (comments or groups)") from None
    return None if pairs == [("", "")] else pairs


def addresses(values: list[str]) -> tuple[Address, ...]:
    """The plausible addresses in raw address-list values (From, To, Cc), lower case, names decoded."""
    found: list[Address] = []
    for value in values:
        text = unfolded(value)
        pairs = _getaddresses(text)
        if pairs is None:  # one bad entry (or a trailing comma) fails the whole list: take entries one by one
            pairs = [pair for chunk in _LIST_ENTRY.findall(text) for pair in _getaddresses(chunk) or []]
        found.extend(
            Address(email=email.lower(), name=decode_header(name))
            for name, email in pairs
            if _PLAUSIBLE.fullmatch(email)
        )
    return tuple(found)
