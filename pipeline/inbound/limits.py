"""Caps on hostile input, checked by a cheap byte scan before any MIME parsing.

Header block size, single and address header sizes, MIME part count and nesting
depth (reliability-security.md §5.3). A message over a cap raises
:class:`Unparseable` with the reason in words; the raw bytes are already stored,
so the message is quarantined, never lost.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class ParseLimits:
    """Caps applied before parsing; the defaults follow reliability-security.md §5.3."""

    max_header_bytes: int = 256 * 1024
    max_single_header: int = 16 * 1024
    max_address_header: int = 8 * 1024
    max_parts: int = 1000
    max_depth: int = 20


DEFAULT_LIMITS = ParseLimits()


class Unparseable(Exception):
    """The message cannot be parsed safely; ``reason`` says why, in words for ops."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_ADDRESS_HEADERS = frozenset({b"from", b"to", b"cc", b"bcc", b"reply-to", b"sender"})
_HEADER_FIELD = re.compile(rb"^[^ \t\n][^\n]*(?:\n[ \t][^\n]*)*", re.M)
_CONTENT_TYPE = re.compile(rb"^content-type[ \t]*:[^\n]*(?:\n[ \t][^\n]*)*", re.M | re.I)
_STRUCTURE = re.compile(rb"^(?:content-type[ \t]*:[^\n]*(?:\n[ \t][^\n]*)*|--[^\n]*)", re.M | re.I)
_BOUNDARY = re.compile(rb'boundary[ \t]*=[ \t]*(?:"([^"\n]*)"|([^\s;"]+))', re.I)


def normalise_line_endings(raw: bytes) -> bytes:
    """CRLF and bare CR line endings become LF, so every scan and the parser see one convention."""
    if b"\r" not in raw:
        return raw
    return raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")


def _over(what: str, size: int, cap: int, kind: str = "") -> Unparseable:
    def shown(n: int) -> str:
        return f"{n / (1024 * 1024):.1f} MB" if n >= 1024 * 1024 else f"{-(-n // 1024)} KB"  # KB rounded up

    return Unparseable(f"{what} is {shown(size)}, over the {shown(cap)} cap{kind}")


def _check_headers(head: bytes, limits: ParseLimits) -> None:
    if len(head) > limits.max_header_bytes:
        raise _over("header block", len(head), limits.max_header_bytes)
    smallest = min(limits.max_single_header, limits.max_address_header)
    for field in _HEADER_FIELD.finditer(head):
        size = field.end() - field.start()
        if size > smallest:
            name = field.group()[: field.group().find(b":")].strip().lower()
            what = f"{name.decode('ascii', 'replace')[:40] or 'unnamed'} header"
            if name in _ADDRESS_HEADERS and size > limits.max_address_header:
                raise _over(what, size, limits.max_address_header, " for address headers")
            if size > limits.max_single_header:
                raise _over(what, size, limits.max_single_header)


def _container(header: bytes) -> bytes | None:
    """For a Content-Type header: the boundary a multipart opens (b"" for message/* or none), else None."""
    kind = header.split(b":", 1)[1].strip().lower()
    if kind.startswith(b"multipart/"):
        found = _BOUNDARY.search(header)
        return (found.group(1) or found.group(2)) if found else b""
    if kind.startswith(b"message/") and not kind.startswith(b"message/delivery-status"):
        return b""
    return None


def _check_nesting(data: bytes, limits: ParseLimits) -> None:
    """Walk Content-Type and delimiter lines in order, tracking which containers are open."""
    stack: list[bytes] = []  # boundaries of the open containers (b"" for message/*)
    delimiters = 0
    for match in _STRUCTURE.finditer(data):
        chunk = match.group()
        if chunk.startswith(b"--"):
            delimiters += _delimiter(stack, chunk[2:].rstrip())
            if delimiters > limits.max_parts:
                raise Unparseable(f"message has more than {limits.max_parts} MIME parts")
        else:
            _open(stack, chunk, limits)


def _open(stack: list[bytes], header: bytes, limits: ParseLimits) -> None:
    """Push the container a Content-Type header opens, if any; too deep a stack is Unparseable."""
    boundary = _container(header)
    if boundary is None:
        return
    stack.append(boundary)
    if len(stack) > limits.max_depth:
        raise Unparseable(f"MIME parts are nested more than {limits.max_depth} deep")


def _delimiter(stack: list[bytes], line: bytes) -> int:
    """Close the containers a delimiter line ends; 1 when it starts a part of an open multipart, else 0."""
    closing = line.endswith(b"--") and line[:-2] in stack
    name = line[:-2] if closing else line
    if not name or name not in stack:
        return 0
    while stack[-1] != name:
        stack.pop()
    if closing:
        stack.pop()
        return 0
    return 1


def _check_structure(data: bytes, limits: ParseLimits) -> None:
    heads = list(itertools.islice(_CONTENT_TYPE.finditer(data), limits.max_parts + 1))
    if len(heads) > limits.max_parts:
        raise Unparseable(f"message has more than {limits.max_parts} MIME parts")
    containers = [boundary for head in heads if (boundary := _container(head.group())) is not None]
    if len(containers) > limits.max_depth:  # only then can they nest too deep: walk them in order
        _check_nesting(data, limits)
        return
    delimiters = sum(data.count(b"\n--" + boundary) - 1 for boundary in set(containers) if boundary)
    if delimiters > limits.max_parts:
        raise Unparseable(f"message has more than {limits.max_parts} MIME parts")


def check_normalised(data: bytes, limits: ParseLimits) -> None:
    end = data.find(b"\n\n")
    head = b"" if data.startswith(b"\n") else data if end < 0 else data[: end + 1]
    _check_headers(head, limits)
    _check_structure(data, limits)


def check_limits(raw: bytes, limits: ParseLimits = DEFAULT_LIMITS) -> None:
    """Raise :class:`Unparseable` when ``raw`` exceeds ``limits``; never parses MIME."""
    check_normalised(normalise_line_endings(bytes(raw)), limits)
