"""Turn the raw bytes of one inbound message into an :class:`~pipeline.model.mail.InboundMail`.

Hostile input is capped by :mod:`pipeline.inbound.limits`, a cheap byte scan that runs before
the ``email`` package sees anything. Parsing uses the stdlib parser with a compat32
policy that hands back header values untouched; this module walks the MIME tree (text
parts, HTML parts, an attached message), undoes transfer encodings and assembles the
mail; :mod:`pipeline.inbound.decode` decodes header values and charsets with fallbacks,
so an unknown charset costs accuracy, never the message. Whatever still goes wrong
becomes :class:`Unparseable`.
"""

from __future__ import annotations

import binascii
import quopri
import re
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesParser
from email.policy import Compat32

from pipeline.inbound.decode import (
    addresses,
    decode_bytes,
    decode_header,
    first_id,
    header_date,
    message_ids,
    unfolded,
)
from pipeline.inbound.forwards import from_attached, split_inline
from pipeline.inbound.html import html_to_text
from pipeline.inbound.limits import (
    DEFAULT_LIMITS,
    ParseLimits,
    Unparseable,
    check_normalised,
    normalise_line_endings,
)
from pipeline.model.mail import InboundMail, Original


class _RawPolicy(Compat32):
    """compat32, but header values come back, and are written out, exactly as they were parsed."""

    def header_fetch_parse(self, name: str, value: str) -> str:
        return value

    def fold_binary(self, name: str, value: str) -> bytes:
        return f"{name}: {value}{self.linesep}".encode("utf-8", "surrogateescape")


_POLICY = _RawPolicy()

_VERBATIM = frozenset({"authentication-results", "arc-authentication-results", "dkim-signature", "received"})

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
    text = decode_bytes(_payload_bytes(part), part.get_content_charset())
    return text.replace("\r\n", "\n").replace("\r", "\n")


@dataclass
class _Parts:
    """What a walk over the top-level MIME tree found (attached messages are not entered)."""

    plain: list[Message]
    html: list[Message]
    attached: Message | None
    defects: list[str]

    def keep_attached(self, part: Message) -> None:
        """Remember ``part`` as the attached message unless one was found before."""
        self.attached = self.attached or part

    def add_leaf(self, part: Message) -> None:
        """A part with no children: a text or HTML body, an attached .eml, or something not read."""
        kind = part.get_content_type()
        if _is_attachment(part):
            if _is_attached_mail(part, kind):
                self.keep_attached(part)
        elif kind == "text/plain":
            self.plain.append(part)
        elif kind == "text/html":
            self.html.append(part)


def _is_attachment(part: Message) -> bool:
    disposition = part.get_content_disposition()
    return disposition == "attachment" or (disposition != "inline" and bool(part.get_filename()))


def _is_attached_mail(part: Message, kind: str) -> bool:
    """An attachment named *.eml that is no image: a forwarded message sent as a file."""
    return (part.get_filename() or "").lower().endswith(".eml") and not kind.startswith("image/")


def _walk(msg: Message) -> _Parts:
    found = _Parts([], [], None, [])
    stack = [msg]
    while stack:
        part = stack.pop()
        found.defects.extend(type(defect).__name__ for defect in part.defects)
        if not part.is_multipart():
            found.add_leaf(part)
        elif part.get_content_maintype() == "message":
            found.keep_attached(part)
        else:
            stack.extend(_children(part))
    return found


def _children(part: Message) -> list[Message]:
    """The child parts of a multipart, last first (so that a stack pops them in order)."""
    children = part.get_payload()
    if not isinstance(children, list):
        return []
    return [child for child in reversed(children) if isinstance(child, Message)]


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
    senders = addresses(every("from"))
    return InboundMail(
        message_id=first_id(first("message-id", "")),
        from_=senders[0] if senders else None,
        to=addresses(every("to")),
        cc=addresses(every("cc")),
        subject=decode_header(first("subject", "")),
        date=header_date(first("date", "")),
        in_reply_to=first_id(first("in-reply-to", "")),
        references=message_ids(first("references", "")),
        headers=tuple(
            (name, unfolded(value) if name in _VERBATIM else decode_header(value)) for name, value in fields
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
