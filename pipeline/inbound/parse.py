"""Turn the raw bytes of one inbound message into an :class:`~pipeline.model.mail.InboundMail`.

Hostile input is capped by :func:`check_limits`, a cheap byte scan that runs before
the ``email`` package sees anything. Parsing uses the stdlib parser with a compat32
policy that hands back header values untouched; decoding (RFC 2047 words, 8-bit
headers, body charsets) is done here with fallbacks, so an unknown charset costs
accuracy, never the message. Whatever still goes wrong becomes :class:`Unparseable`.
"""

from __future__ import annotations

import binascii
import codecs
import functools
import quopri
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from email.parser import BytesParser
from email.policy import Compat32
from email.utils import getaddresses, parsedate_to_datetime

from pipeline.inbound.forwards import from_attached, split_inline
from pipeline.inbound.html import html_to_text
from pipeline.inbound.limits import (
    DEFAULT_LIMITS,
    ParseLimits,
    Unparseable,
    check_normalised,
    normalise_line_endings,
)
from pipeline.model.mail import Address, InboundMail, Original


class _RawPolicy(Compat32):
    """compat32, but header values come back, and are written out, exactly as they were parsed."""

    def header_fetch_parse(self, name: str, value: str) -> str:
        return value

    def fold_binary(self, name: str, value: str) -> bytes:
        return f"{name}: {value}{self.linesep}".encode("utf-8", "surrogateescape")


_POLICY = _RawPolicy()

# -- decoding helpers --------------------------------------------------------------------------

_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_ANGLE_ID = re.compile(r"<([^<>\s]+)>")
_VERBATIM = frozenset({"authentication-results", "arc-authentication-results", "dkim-signature", "received"})


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


def _decode_bytes(data: bytes, charset: str | None) -> str:
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
    return _decode_bytes(raw, None)


def _unfold(value: str) -> str:
    return value.replace("\n", "").strip()


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
    return _decode_bytes(data, charset)


def _decode_header(value: str) -> str:
    """Unfold a raw header value and decode its RFC 2047 encoded words."""
    text = _unfold(_as_text(value))
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


_ATOM = r'[^\s<>()\[\]\\,;:@"]+'
_SIMPLE_ADDRESS = re.compile(rf'"?([^<>()\[\]\\,;:@"]*)(?:"\s*)?<({_ATOM}@{_ATOM})>|({_ATOM}@{_ATOM})')
_PLAUSIBLE = re.compile(r'[^\s<>()\[\],;:@]+@[^\s<>()\[\],;:@"]+')  # what we accept as an address
_LIST_ENTRY = re.compile(r'(?:"[^"]*"|[^,;"])+')  # one entry of an address list: commas inside quotes stay


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


def _addresses(values: list[str]) -> tuple[Address, ...]:
    found: list[Address] = []
    for value in values:
        text = _unfold(_as_text(value))
        pairs = _getaddresses(text)
        if pairs is None:  # one bad entry (or a trailing comma) fails the whole list: take entries one by one
            pairs = [pair for chunk in _LIST_ENTRY.findall(text) for pair in _getaddresses(chunk) or []]
        found.extend(
            Address(email=email.lower(), name=_decode_header(name))
            for name, email in pairs
            if _PLAUSIBLE.fullmatch(email)
        )
    return tuple(found)


def _date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _first_id(value: str) -> str:
    text = _unfold(_as_text(value))
    ids = _ANGLE_ID.findall(text)
    return str(ids[0]) if ids else text.strip("<> \t")


# -- bodies ------------------------------------------------------------------------------------


def _cte(part: Message) -> str:
    return str(part.get("content-transfer-encoding", "")).strip().lower()


def _unbase64(data: bytes) -> bytes:
    clean = re.sub(rb"[^A-Za-z0-9+/]", b"", data)
    clean = clean[:-1] if len(clean) % 4 == 1 else clean
    return binascii.a2b_base64(clean + b"=" * (-len(clean) % 4))


def _payload_bytes(part: Message) -> bytes:
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return b""
    cte = _cte(part)
    if cte != str(part.get("content-transfer-encoding", "")).lower():  # padded or odd case: stdlib skipped it
        if cte == "base64":
            return _unbase64(data)
        if cte == "quoted-printable":
            return quopri.decodestring(data)
    return data


def _part_text(part: Message) -> str:
    text = _decode_bytes(_payload_bytes(part), part.get_content_charset())
    return text.replace("\r\n", "\n").replace("\r", "\n")


@dataclass
class _Parts:
    """What a walk over the top-level MIME tree found (attached messages are not entered)."""

    plain: list[Message]
    html: list[Message]
    attached: Message | None
    defects: list[str]


def _is_attachment(part: Message) -> bool:
    disposition = part.get_content_disposition()
    return disposition == "attachment" or (disposition != "inline" and bool(part.get_filename()))


def _walk(msg: Message) -> _Parts:
    found = _Parts([], [], None, [])
    stack = [msg]
    while stack:
        part = stack.pop()
        found.defects.extend(type(defect).__name__ for defect in part.defects)
        if part.is_multipart():
            if part.get_content_maintype() == "message":
                found.attached = found.attached or part
            elif isinstance(children := part.get_payload(), list):
                stack.extend(child for child in reversed(children) if isinstance(child, Message))
            continue
        kind = part.get_content_type()
        if _is_attachment(part):
            if (part.get_filename() or "").lower().endswith(".eml") and not kind.startswith("image/"):
                found.attached = found.attached or part
        elif kind == "text/plain":
            found.plain.append(part)
        elif kind == "text/html":
            found.html.append(part)
    return found


def _body_text(parts: _Parts) -> str:
    if parts.plain:
        return "\n".join(_part_text(part) for part in parts.plain)
    return "\n".join(html_to_text(_part_text(part)) for part in parts.html)


def _attached(part: Message, limits: ParseLimits) -> tuple[Message, bytes] | None:
    """The attached message and its bytes as a standalone CRLF message, or None when it is empty."""
    if part.is_multipart():
        inner = next((child for child in part.get_payload() if isinstance(child, Message)), None)
        if inner is None:
            return None
        cte = _cte(part)
        if cte not in ("base64", "quoted-printable"):
            return inner, inner.as_bytes(policy=_POLICY).replace(b"\n", b"\r\n")
        encoded = inner.as_bytes(policy=_POLICY)  # a wrongly encoded rfc822 part: decode, then parse
        data = _unbase64(encoded) if cte == "base64" else quopri.decodestring(encoded)
    else:
        data = _payload_bytes(part)
    data = normalise_line_endings(data)
    try:
        check_normalised(data, limits)
    except Unparseable as exc:
        raise Unparseable(f"attached message: {exc.reason}") from None
    return BytesParser(policy=_POLICY).parsebytes(data), data.replace(b"\n", b"\r\n")


# -- assembly ----------------------------------------------------------------------------------


def _assemble(
    fields: list[tuple[str, str]],
    text: str,
    note: str,
    forwarded: Original | None,
    kind: str,
    defects: list[str],
) -> InboundMail:
    """The InboundMail for raw (lower-case name, compat32 value) header pairs and the decoded body."""

    def every(name: str) -> list[str]:
        return [value for key, value in fields if key == name]

    first = {key: value for key, value in reversed(fields)}.get
    senders = _addresses(every("from"))
    return InboundMail(
        message_id=_first_id(first("message-id", "")),
        from_=senders[0] if senders else None,
        to=_addresses(every("to")),
        cc=_addresses(every("cc")),
        subject=_decode_header(first("subject", "")),
        date=_date(_unfold(_as_text(first("date", "")))),
        in_reply_to=_first_id(first("in-reply-to", "")),
        references=tuple(_ANGLE_ID.findall(_unfold(_as_text(first("references", ""))))),
        headers=tuple(
            (name, _unfold(_as_text(value)) if name in _VERBATIM else _decode_header(value))
            for name, value in fields
        ),
        text=text,
        note=note,
        forwarded=forwarded,
        content_type=kind,
        defects=tuple(dict.fromkeys(defects)),
    )


def _build(msg: Message, limits: ParseLimits, *, top: bool) -> InboundMail:
    parts = _walk(msg)
    text = _body_text(parts)
    note, forwarded = split_inline(text) if top else (text.strip(), None)
    if top and forwarded is None and parts.attached is not None:
        attached = _attached(parts.attached, limits)
        if attached is not None:
            forwarded = from_attached(_build(attached[0], limits, top=False), attached[1])
    fields = [(name.strip().lower(), value) for name, value in msg.items()]
    return _assemble(fields, text, note, forwarded, msg.get_content_type(), parts.defects)


def _fallback(data: bytes, error: Exception) -> InboundMail:
    """Parse with mail-parser, which tolerates what broke the stdlib path; Unparseable if it fails too."""
    import mailparser

    try:
        parsed = mailparser.parse_from_bytes(data)
        text = "\n".join(parsed.text_plain) or "\n".join(html_to_text(html) for html in parsed.text_html)
        fields = [(str(name).strip().lower(), str(value)) for name, value in parsed.message.items()]
        kind = parsed.message.get_content_type()
        return _assemble(fields, text, *split_inline(text), kind, sorted(parsed.defects_categories))
    except Exception as exc:
        failed = f"{type(error).__name__}: {error}"
        raise Unparseable(
            f"the parser failed ({failed}) and so did the fallback ({type(exc).__name__})"
        ) from exc


def parse_mail(raw: bytes, limits: ParseLimits = DEFAULT_LIMITS) -> InboundMail:
    """Parse one raw message; the only exception this raises is :class:`Unparseable`."""
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise Unparseable(f"expected the message as bytes, got {type(raw).__name__}")
    data = normalise_line_endings(bytes(raw))
    check_normalised(data, limits)
    try:
        return _build(BytesParser(policy=_POLICY).parsebytes(data), limits, top=True)
    except Unparseable:
        raise
    except Exception as exc:
        return _fallback(data, exc)
