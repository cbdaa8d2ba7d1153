"""Read delivery-status reports (RFC 3464): the per-recipient blocks, their recipients and actions.

Pure functions over the raw bytes and the parsed :class:`~pipeline.model.mail.InboundMail`.
A report's per-recipient fields (``Final-Recipient``, ``Original-Recipient``, ``Action``)
are read from its message/delivery-status parts, outside any returned original
(message/rfc822); when ``raw`` has none, from report fields written in the body (not
">"-quoted). :mod:`pipeline.inbound.bounces` decides from them what kind of machine mail
it is; :func:`failed_recipients` names who failed.

Raw bytes are read up to :data:`MAX_SCAN` (1 MB): reports put what matters first, and
the work stays bounded on hostile input.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32

from pipeline.inbound.limits import DEFAULT_LIMITS, check_normalised, normalise_line_endings
from pipeline.inbound.mailer_phrases import MAX_NOTE_CHARS
from pipeline.model.mail import InboundMail

MAX_SCAN = 1024 * 1024

#: The actions of a recipient whose mail did not fail (RFC 3464 §2.3.3).
NOT_FAILED = frozenset({"delayed", "delivered", "relayed", "expanded"})

_STATUS_TYPES = frozenset({"message/delivery-status", "message/global-delivery-status"})
_FIELD = re.compile(r"^([A-Za-z][A-Za-z0-9-]*)\s*:\s*(.*)$")

Block = dict[str, str]  # one group of report fields: lower-case name -> value


def scan_window(raw: bytes) -> bytes:
    """The first :data:`MAX_SCAN` bytes of ``raw``, with LF line endings."""
    return normalise_line_endings(bytes(raw[:MAX_SCAN]))


def recipient_actions(mail: InboundMail, raw: bytes | None) -> list[str]:
    """The ``Action`` of each recipient the report names, lower case ("" when a block has none)."""
    return [_action_of(block) for block in _recipient_blocks(mail, raw)]


def failed_recipients(mail: InboundMail, raw: bytes) -> tuple[str, ...]:
    """The recipients a delivery report says failed: lower-case addresses, no repeats, () when none.

    Read from the Final-Recipient and Original-Recipient fields of ``raw``'s delivery-status
    parts (a returned original inside message/rfc822 is not read), else of report fields
    in the body; recipients whose ``Action`` is delayed, delivered, relayed or expanded did
    not fail and are left out. Exim's ``X-Failed-Recipients`` header counts too.
    """
    found: dict[str, None] = {}
    for block in _recipient_blocks(mail, raw):
        if _action_of(block) not in NOT_FAILED:
            found.update(dict.fromkeys(_recipients_of(block)))
    for value in mail.header_all("x-failed-recipients"):
        for word in value.replace(",", " ").split():
            address = word.strip("<>;").lower()
            if "@" in address:
                found.setdefault(address, None)
    return tuple(found)


# -- per-recipient blocks ------------------------------------------------------------------------


def _recipient_blocks(mail: InboundMail, raw: bytes | None) -> list[Block]:
    """Per-recipient report blocks: from delivery-status parts when ``raw`` is given, else the body."""
    named = _naming_recipients(_raw_blocks(raw)) if raw is not None else []
    return named or _naming_recipients(_text_blocks(_unquoted_note(mail)))


def _naming_recipients(blocks: list[Block]) -> list[Block]:
    return [block for block in blocks if _recipients_of(block)]


def _raw_blocks(raw: bytes) -> list[Block]:
    return [block for part in _report_parts(raw) for block in _part_blocks(part)]


def _unquoted_note(mail: InboundMail) -> list[str]:
    return [line for line in mail.note[:MAX_NOTE_CHARS].splitlines() if not line.startswith(">")]


def _recipients_of(block: Block) -> list[str]:
    """The addresses in a block's Final-Recipient and Original-Recipient fields ("rfc822; a@b")."""
    addresses = []
    for name in ("final-recipient", "original-recipient"):
        value = block.get(name, "")
        _, typed, rest = value.partition(";")
        words = (rest if typed else value).replace("<", " ").replace(">", " ").split()
        if words and "@" in words[0]:
            addresses.append(words[0].lower())
    return addresses


def _action_of(block: Block) -> str:
    words = block.get("action", "").split()
    return words[0].lower() if words else ""


# -- reading the report --------------------------------------------------------------------------


def _text_blocks(lines: Iterable[str]) -> list[Block]:
    """``Name: value`` groups separated by blank lines, as in a message/delivery-status body."""
    blocks: list[Block] = []
    current: Block = {}
    name = ""
    for line in lines:
        if not line.strip():
            if current:
                blocks.append(current)
            current, name = {}, ""
        elif line[:1] in " \t" and name:
            current[name] += " " + line.strip()
        elif match := _FIELD.match(line.strip()):
            name = match.group(1).lower()
            current.setdefault(name, match.group(2).strip())
    if current:
        blocks.append(current)
    return blocks


def _part_blocks(part: Message) -> list[Block]:
    payload = part.get_payload()
    if isinstance(payload, list):
        blocks = [
            {str(key).strip().lower(): " ".join(str(value).split()) for key, value in block.items()}
            for block in payload
            if isinstance(block, Message)
        ]
        if any(_recipients_of(block) for block in blocks):
            return blocks
    data = part.get_payload(decode=True)  # an encoded report the parser could not split into blocks
    if isinstance(data, bytes):
        return _text_blocks(data.decode("utf-8", "replace").splitlines())
    return []


def _report_parts(raw: bytes) -> list[Message]:
    """The delivery-status parts of ``raw``, outside any returned original (message/rfc822)."""
    data = scan_window(raw)
    try:
        check_normalised(data, DEFAULT_LIMITS)
        root = BytesParser(policy=compat32).parsebytes(data)
    except Exception:  # hostile or broken beyond the parser: nothing can be read from it
        return []
    found: list[Message] = []
    stack = [root]
    visited = 0
    while stack and visited <= DEFAULT_LIMITS.max_parts:
        part = stack.pop()
        visited += 1
        kind = part.get_content_type()
        if kind in _STATUS_TYPES:
            found.append(part)
        elif kind != "message/rfc822" and part.is_multipart():
            children = part.get_payload()
            if isinstance(children, list):
                stack.extend(child for child in reversed(children) if isinstance(child, Message))
    return found
