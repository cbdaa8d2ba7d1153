"""Find the forwarded original in an executive's mail and split it from their note.

Two ways a complaint arrives: inline, below a marker the mail client wrote
(Gmail, Outlook, Apple Mail, Thunderbird and their localized variants), or
attached as a message/rfc822 part. :func:`split_inline` reads the text body,
:func:`from_attached` wraps an already parsed attached message. Nothing here
touches the ``email`` package; :mod:`pipeline.inbound.parse` feeds it decoded text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pipeline.model.mail import Address, InboundMail, Original

# How far into a body we look for a marker: the note sits above the forward and is short.
SCAN_LINES = 2000
# A forwarded header block is a handful of lines; a longer run of field-like lines is not one.
MAX_BLOCK_LINES = 30
# Longer marker lines or field values are cut: they are hostile or useless, and regexes stay linear.
MAX_MARKER = 200
MAX_VALUE = 1000

# Header-field labels clients write above a forwarded message, by meaning.
_FIELDS: dict[str, str] = {
    "from": "from", "von": "from", "de": "from", "da": "from", "van": "from", "från": "from",
    "fra": "from", "od": "from", "от": "from", "от кого": "from",
    "to": "to", "an": "to", "à": "to", "a": "to", "para": "to", "aan": "to", "till": "to",
    "til": "to", "do": "to", "кому": "to",
    "cc": "cc", "kopie": "cc", "copie à": "cc", "копия": "cc",
    "bcc": "bcc", "reply-to": "reply-to", "antwort an": "reply-to", "répondre à": "reply-to",
    "date": "date", "sent": "date", "datum": "date", "gesendet": "date", "envoyé": "date",
    "envoyé le": "date", "fecha": "date", "enviado": "date", "data": "date", "inviato": "date",
    "verzonden": "date", "skickat": "date", "sendt": "date", "дата": "date", "отправлено": "date",
    "subject": "subject", "betreff": "subject", "objet": "subject", "asunto": "subject",
    "oggetto": "subject", "onderwerp": "subject", "assunto": "subject", "ämne": "subject",
    "emne": "subject", "temat": "subject", "sujet": "subject", "тема": "subject",
    "importance": "importance", "wichtigkeit": "importance", "priorität": "importance",
    "attachments": "attachments", "anlagen": "attachments", "pièces jointes": "attachments",
    "organization": "organization", "message-id": "message-id",
}  # fmt: skip
_ENGLISH = frozenset(
    {"from", "to", "cc", "bcc", "reply-to", "date", "sent", "subject", "importance", "attachments",
     "organization", "message-id"}
)  # fmt: skip

# "---- label ----" separators: label -> shape ("" = decided by dash count, see _dashed_shape).
_DASHED: dict[str, str] = {
    "forwarded message": "",
    "original message": "",
    "weitergeleitete nachricht": "inline", "ursprüngliche nachricht": "inline",
    "original-nachricht": "inline",
    "message transféré": "inline", "message d'origine": "inline", "message d’origine": "inline",
    "mensaje reenviado": "inline", "mensaje original": "inline",
    "messaggio inoltrato": "inline", "messaggio originale": "inline",
    "doorgestuurd bericht": "inline", "oorspronkelijk bericht": "inline",
    "mensagem encaminhada": "inline", "mensagem original": "inline",
    "vidarebefordrat meddelande": "inline", "videresendt meddelelse": "inline",
    "пересылаемое сообщение": "inline", "перенаправленное сообщение": "inline",
    "исходное сообщение": "inline",
}  # fmt: skip
_BEGIN: dict[str, str] = {
    "begin forwarded message": "apple",
    "anfang der weitergeleiteten nachricht": "inline",
    "début du message réexpédié": "inline",
    "inicio del mensaje reenviado": "inline",
    "inizio messaggio inoltrato": "inline",
    "begin doorgestuurd bericht": "inline",
}

_ADDRESS_FIELDS = frozenset({"to", "cc", "from", "bcc"})  # their values may wrap onto the next line
_ODD_SPACE = re.compile(r"[\u00a0\u2000-\u200b\u202f\u205f\u3000\ufeff\t]")
_QUOTE = re.compile(r"^((?:>[ ]?)+)")
_DASH_LINE = re.compile(r"^(-{3,})\s*([^-].*?)\s*(-{3,})$")
_RULE_LINE = re.compile(r"^(?:_{8,}|-{8,}|={8,})$")
_FIELD_LINE = re.compile(r"^\*{0,2}([^\W\d_][^:：*]{0,24}?)\*{0,2}\s*[:：]\*{0,2}\s*(.*)$")
_EMAIL = re.compile(r"[^\s<>\[\]():;,\"'@]+@[^\s<>\[\]():;,\"'@]+\.[^\s<>\[\]():;,\"'@]+")
_BRACKETED = re.compile(r"[<\[]\s*(?:mailto:\s*)?([^\s<>\[\]:@]+@[^\s<>\[\]@]+?)\s*[>\]]", re.I)


@dataclass(frozen=True)
class _Line:
    """One body line: ``text`` has quote marks and odd spaces removed; ``depth`` counts the quote marks."""

    text: str
    depth: int


def _clean(line: str) -> _Line:
    text = _ODD_SPACE.sub(" ", line).strip()
    quoted = _QUOTE.match(text)
    if not quoted:
        return _Line(text, 0)
    return _Line(text[quoted.end() :].strip(), quoted.group(1).count(">"))


def _field(text: str) -> tuple[str, str, str] | None:
    """(meaning, label as written, value) when ``text`` is a forwarded-header line."""
    match = _FIELD_LINE.match(text)
    if not match:
        return None
    label = " ".join(match.group(1).lower().split())
    meaning = _FIELDS.get(label)
    return (meaning, label, match.group(2).strip()[:MAX_VALUE]) if meaning else None


def _dashed_shape(text: str) -> str | None:
    match = _DASH_LINE.match(text)
    if not match:
        return None
    label = " ".join(match.group(2).lower().split())
    shape = _DASHED.get(label)
    if shape is None or shape:
        return shape
    if (
        label == "original message"
    ):  # "-----Original Message-----" is Outlook's; spaced dashes are Thunderbird's
        return "outlook" if match.group(2) == text.strip("-") else "thunderbird"
    return "gmail" if len(match.group(1)) >= 9 else "thunderbird"


def _marker_shape(text: str) -> str | None:
    """The shape named by a separator line such as "Begin forwarded message:", else None."""
    if len(text) > MAX_MARKER:
        return None
    if text.startswith("-"):
        return _dashed_shape(text)
    if text.endswith(":"):
        return _BEGIN.get(" ".join(text[:-1].lower().split()))
    return None


@dataclass(frozen=True)
class _Block:
    """The forwarded header block: fields by meaning, and the index of the first body line."""

    fields: dict[str, str]
    labels: tuple[str, ...]
    end: int


def _read_block(lines: list[_Line], start: int, limit: int = 3) -> _Block:
    """Read header-field lines from ``start``, after at most ``limit`` blank lines."""
    index = start
    while index < len(lines) and not lines[index].text and index - start < limit:
        index += 1
    reading = _Reading()
    end = min(len(lines), index + MAX_BLOCK_LINES)
    while index < end and reading.take(lines[index].text):
        index += 1
    return _Block(reading.fields, tuple(reading.labels), index)


@dataclass
class _Reading:
    """A header block being read: fields by meaning, labels as written, the meaning read last."""

    fields: dict[str, str] = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)
    last: str = ""

    def take(self, text: str) -> bool:
        """Add one line to the block; False when the line ends it."""
        found = _field(text) if text else None
        return self._add(*found) if found is not None else self._wrapped(text)

    def _add(self, meaning: str, label: str, value: str) -> bool:
        """A field line; a meaning read before ends the block."""
        if meaning in self.fields:
            return False
        self.last = meaning
        self.fields[meaning] = value
        self.labels.append(label)
        return True

    def _wrapped(self, text: str) -> bool:
        """The wrapped rest of an address list continues the block; any other line ends it."""
        if not text or self.last not in _ADDRESS_FIELDS or "@" not in text:
            return False
        self.fields[self.last] = f"{self.fields[self.last]} {text}"[:MAX_VALUE]
        return True


def _is_bare_block(block: _Block) -> bool:
    """A header block with no separator counts when it names the sender and a subject or send date."""
    fields = block.fields
    return len(fields) >= 3 and "from" in fields and ("subject" in fields or "date" in fields)


def _sender(value: str) -> Address | None:
    match = _BRACKETED.search(value) or _EMAIL.search(value)
    if not match:
        return None
    email = (match.group(1) if match.re is _BRACKETED else match.group(0)).strip(".").lower()
    name = (value[: match.start()] + value[match.end() :]).strip(" \t\"'<>,")
    name = name.replace('\\"', '"').strip()
    return Address(email=email, name="" if name.lower() == email else name)


def _body(lines: list[str], start: int, depth: int) -> str:
    body = lines[start:]
    if depth:
        strip_quote = re.compile(r"^\s*" + r"(?:>[ ]?)" * depth)
        body = [strip_quote.sub("", line, count=1) for line in body]
    return "\n".join(body).strip()


def _find(cleaned: list[_Line]) -> tuple[int, str, _Block] | None:
    """(index of the marker line, shape, header block) for the first forward in ``cleaned``."""
    for index, line in enumerate(cleaned):
        found = _forward_at(cleaned, index) if line.text else None
        if found is not None:
            return found
    return None


def _forward_at(cleaned: list[_Line], index: int) -> tuple[int, str, _Block] | None:
    """The forward that starts at a non-blank line: a marker, a rule over a block, or a bare block."""
    text = cleaned[index].text
    shape = _marker_shape(text)
    if shape:
        return index, shape, _read_block(cleaned, index + 1)
    if _RULE_LINE.match(text):
        block = _read_block(cleaned, index + 1)
        return (index, _client(block), block) if "from" in block.fields else None
    if _field(text):
        block = _read_block(cleaned, index, limit=0)
        return (_separator_above(cleaned, index), _client(block), block) if _is_bare_block(block) else None
    return None


def _client(block: _Block) -> str:
    """The shape of a header block with no marker: English labels are Outlook's, others "inline"."""
    return "outlook" if all(label in _ENGLISH for label in block.labels) else "inline"


def _separator_above(cleaned: list[_Line], index: int) -> int:
    """The index of a separator line we did not recognise just above a header block, else ``index``."""
    above = index - 1
    while above >= 0 and not cleaned[above].text:
        above -= 1
    text = cleaned[above].text if above >= 0 else ""
    if len(text) <= MAX_MARKER and (_DASH_LINE.match(text) or _RULE_LINE.match(text)):
        return above
    return index


def split_inline(text: str) -> tuple[str, Original | None]:
    """Split ``text`` into the sender's note and the inline-forwarded original (None when there is none).

    The note is everything above the forward marker, stripped; with no forward it is
    the whole text, stripped.
    """
    lines = text.split("\n")
    cleaned = [_clean(line) for line in lines[:SCAN_LINES]]
    found = _find(cleaned)
    if found is None:
        return text.strip(), None
    start, shape, block = found
    fields = block.fields
    sender = _sender(fields.get("from", ""))
    depth = cleaned[block.end - 1].depth if block.end > start else cleaned[start].depth
    original = Original(
        shape=shape,
        sender=sender,
        date=fields.get("date", ""),
        subject=fields.get("subject", ""),
        body=_body(lines, block.end, depth),
    )
    return "\n".join(lines[:start]).strip(), original


def from_attached(inner: InboundMail, raw: bytes) -> Original:
    """The original carried as a message/rfc822 part, already parsed into ``inner``."""
    return Original(
        shape="attached",
        sender=inner.from_,
        date=inner.header("date"),
        subject=inner.subject,
        body=inner.text.strip(),
        raw=raw,
    )
