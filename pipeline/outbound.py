"""Render the two mails that open an escalation: the owner's forward and the executive's acknowledgement.

Pure functions from facts to :class:`~pipeline.mail.OutgoingMail`; handing the
result to a relay is ``pipeline.transport``'s job. Every mail carries the
DESIGN §4.4 markers: ``[Q-<n>]`` in the subject, ``X-Qmark-Escalation``,
``Auto-Submitted``, a Message-ID :func:`parse_message_id` recognises, and a
``Reply-To`` signed for this escalation and this recipient. Bodies come from one
``string.Template`` per kind in ``pipeline/templates``; all logic stays here.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesHeaderParser
from email.utils import format_datetime, parsedate_to_datetime
from functools import cache
from importlib import resources
from string import Template
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pipeline.headers import MAX_LINE_OCTETS, HeaderBlock, check_generated, clean_address, clean_text
from pipeline.mail import Address, Original, OutgoingMail
from pipeline.tokens import reply_address

OWNER_FORWARD = "owner_forward"
EXECUTIVE_ACK = "executive_ack"
_LOCAL_PART = re.compile(r"[a-z0-9](?:[a-z0-9._-]{0,30}[a-z0-9])?")
_DOMAIN = re.compile(r"(?=.{1,200}$)[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*")
_OWN_MESSAGE_ID = re.compile(r"<?qmark\.q([1-9][0-9]{0,11})\.([a-z_]{1,40})\.([0-9a-f]{8,64})@([^<>\s]+?)>?")
_FOREIGN_MESSAGE_ID = re.compile(r"<[\x21-\x3b\x3d\x3f-\x7e]{1,240}@[\x21-\x3b\x3d\x3f-\x7e]{1,240}>")
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_TEXT_PLAIN = 'text/plain; charset="utf-8"'
_ATTACHMENT = 'attachment; filename="complaint.eml"'


@dataclass(frozen=True)
class Identity:
    """Who qmark is on the wire: the From address, the intake local part, the domain and the token key."""

    from_address: Address
    reply_local: str
    domain: str
    secret: bytes

    def __post_init__(self) -> None:
        clean_address(self.from_address)
        if not _LOCAL_PART.fullmatch(self.reply_local):
            raise ValueError(
                f"reply_local {self.reply_local!r}: use lower-case letters, digits, '.', '_', '-'"
            )
        if not _DOMAIN.fullmatch(self.domain):
            raise ValueError(f"domain {self.domain!r} is not a lower-case host name")
        if not self.secret:
            raise ValueError("the token secret must not be empty")


@dataclass(frozen=True)
class EscalationFacts:
    """Everything the two opening mails say about one escalation."""

    ref: str
    number: int
    executive: Address
    owner: Address
    owner_timezone: str
    deadline: datetime
    opened_at: datetime
    executive_note: str
    complaint: Original
    route: str
    route_reasons: tuple[str, ...]
    rca_sections: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.ref != f"Q-{self.number}":
            raise ValueError(f"ref {self.ref!r} does not name escalation number {self.number}")
        if self.deadline.utcoffset() is None or self.opened_at.utcoffset() is None:
            raise ValueError("deadline and opened_at must be timezone-aware")
        _zone(self.owner_timezone)


def render_owner_forward(facts: EscalationFacts, identity: Identity) -> OutgoingMail:
    """The complaint forwarded to its owner: note, deadline, how to answer, why them, writeup template."""
    owner = clean_address(facts.owner)
    body = _template("owner_forward.txt").substitute(
        ref=facts.ref,
        executive=_display(facts.executive),
        executive_name=_name(facts.executive),
        note=_indented(facts.executive_note),
        deadline=f"{_when(facts.deadline, facts.owner_timezone)} ({facts.owner_timezone})",
        lead_time=_lead_time(facts.deadline - facts.opened_at),
        route=_route(facts.route),
        reasons=_bullets(facts.route_reasons),
        complaint_from=_sender(facts.complaint),
        complaint_date=clean_text(facts.complaint.date) or "(no date)",
        complaint_subject=_complaint_subject(facts.complaint),
        complaint_body=_plain(facts.complaint.body),
        rca_template="".join(f"## {clean_text(title)}\n\n" for title in facts.rca_sections),
    )
    subject = f"[{facts.ref}] ? {_complaint_subject(facts.complaint)}"
    return _compose(
        facts,
        identity,
        kind=OWNER_FORWARD,
        recipient=owner,
        subject=subject,
        body=body,
        attachment=_original_bytes(facts.complaint),
    )


def render_executive_ack(facts: EscalationFacts, identity: Identity) -> OutgoingMail:
    """The acknowledgement to the executive: who owns it, by when, and why them."""
    executive = clean_address(facts.executive)
    body = _template("executive_ack.txt").substitute(
        ref=facts.ref,
        owner=_display(facts.owner),
        owner_name=_name(facts.owner),
        due_utc=_when(facts.deadline, "UTC"),
        due_owner=_when(facts.deadline, facts.owner_timezone),
        owner_timezone=facts.owner_timezone,
        route=_route(facts.route),
        reasons=_bullets(facts.route_reasons),
        note=_indented(facts.executive_note),
        complaint_subject=_complaint_subject(facts.complaint),
        complaint_from=_sender(facts.complaint),
    )
    subject = f"[{facts.ref}] Escalated to {_name(facts.owner)}: {_complaint_subject(facts.complaint)}"
    return _compose(
        facts, identity, kind=EXECUTIVE_ACK, recipient=executive, subject=subject, body=body, attachment=None
    )


def make_message_id(number: int, kind: str, *, domain: str) -> str:
    """A fresh Message-ID ``<qmark.q<n>.<kind>.<random hex>@<domain>>``."""
    return f"<qmark.q{number}.{kind}.{secrets.token_hex(8)}@{domain}>"


def parse_message_id(mid: str, *, domain: str) -> int | None:
    """The escalation number in one of qmark's own Message-IDs for ``domain``, else None."""
    match = _OWN_MESSAGE_ID.fullmatch(mid.strip().lower())
    if match is None or match.group(4) != domain.lower():
        return None
    return int(match.group(1))


def _compose(
    facts: EscalationFacts,
    identity: Identity,
    *,
    kind: str,
    recipient: Address,
    subject: str,
    body: str,
    attachment: bytes | None,
) -> OutgoingMail:
    """The finished bytes, written directly: headers from :class:`HeaderBlock`, MIME structure by hand."""
    sender = clean_address(identity.from_address)
    signed = reply_address(
        identity.secret, facts.number, recipient.email, local=identity.reply_local, domain=identity.domain
    )
    message_id = make_message_id(facts.number, kind, domain=identity.domain)
    head = HeaderBlock()
    head.address("From", sender)
    head.address("To", recipient)
    head.text("Subject", subject)
    head.token("Date", format_datetime(datetime.now(UTC)))
    head.token("Message-ID", message_id)
    head.address("Reply-To", Address(email=signed, name=sender.name))
    references = _foreign_message_id(facts.complaint)
    if references:
        head.token("References", references)
    head.text("X-Qmark-Escalation", facts.ref)
    head.token("Auto-Submitted", "auto-generated")
    head.token("X-Auto-Response-Suppress", "All")
    head.token("MIME-Version", "1.0")
    text_headers, text = _text_part(body)
    if attachment is None:
        _content_headers(head, text_headers)
        raw = head.as_bytes() + b"\r\n" + text
    else:
        part_headers, data = _attachment_part(attachment)
        boundary = _boundary(text, data)
        head.token("Content-Type", f'multipart/mixed; boundary="{boundary}"')
        delimiter = b"--" + boundary.encode("ascii")
        raw = b"".join(
            (
                head.as_bytes(),
                b"\r\n",
                delimiter,
                b"\r\n",
                _part_head(text_headers),
                text,
                b"\r\n",
                delimiter,
                b"\r\n",
                _part_head(part_headers),
                data,
                b"\r\n",
                delimiter,
                b"--\r\n",
            )
        )
    check_generated(raw, head.names)
    return OutgoingMail(
        kind=kind, recipient=recipient.email, message_id=message_id, raw=raw, envelope_from=signed
    )


# --- MIME by hand ----------------------------------------------------------------------------------


def _text_part(text: str) -> tuple[list[tuple[str, str]], bytes]:
    """Content headers and CRLF body for UTF-8 ``text``: 7bit when it can be, else quoted-printable."""
    lines = text.encode("utf-8").splitlines()
    data = b"\r\n".join(lines) + b"\r\n"
    if data.isascii() and all(len(line) <= MAX_LINE_OCTETS for line in lines):
        cte = "7bit"
    else:
        cte = "quoted-printable"
        data = binascii.b2a_qp(data, istext=True)
    return [("Content-Type", _TEXT_PLAIN), ("Content-Transfer-Encoding", cte)], data


def _attachment_part(raw: bytes) -> tuple[list[tuple[str, str]], bytes]:
    """``raw`` as a message/rfc822 part written verbatim (CRLF line endings), or as complaint.eml.

    Originals that are not valid RFC 5322 (a line over 998 octets, NUL) go as a
    base64 application/octet-stream ``complaint.eml`` instead.
    """
    lines = raw.splitlines()
    if b"\x00" in raw or any(len(line) > MAX_LINE_OCTETS for line in lines):
        encoded = base64.encodebytes(raw).replace(b"\n", b"\r\n")
        headers = [
            ("Content-Type", "application/octet-stream"),
            ("Content-Disposition", _ATTACHMENT),
            ("Content-Transfer-Encoding", "base64"),
        ]
        return headers, encoded
    data = b"\r\n".join(lines) + b"\r\n"
    headers = [
        ("Content-Type", "message/rfc822"),
        ("Content-Disposition", _ATTACHMENT),
        ("Content-Transfer-Encoding", "7bit" if data.isascii() else "8bit"),
    ]
    return headers, data


def _boundary(*contents: bytes) -> str:
    """A random multipart boundary that occurs in none of ``contents``."""
    while True:
        boundary = f"qmark-{secrets.token_hex(16)}"
        delimiter = f"--{boundary}".encode("ascii")
        if not any(delimiter in content for content in contents):
            return boundary


def _content_headers(head: HeaderBlock, fields: Iterable[tuple[str, str]]) -> None:
    for name, value in fields:
        head.token(name, value)


def _part_head(fields: Iterable[tuple[str, str]]) -> bytes:
    part = HeaderBlock()
    _content_headers(part, fields)
    return part.as_bytes() + b"\r\n"


# --- the attached original -------------------------------------------------------------------------


def _original_bytes(complaint: Original) -> bytes:
    """complaint.raw, or for inline forwards a minimal RFC 5322 message rebuilt from what survived."""
    if complaint.raw is not None:
        return complaint.raw
    head = HeaderBlock()
    if complaint.sender is not None:
        try:
            head.address("From", complaint.sender)
        except ValueError:
            head.text("X-Qmark-Original-From", str(complaint.sender), max_len=300)
    date = _rfc5322_date(complaint.date)
    if date:
        head.token("Date", date)
    elif complaint.date.strip():
        head.text("X-Qmark-Original-Date", complaint.date, max_len=200)
    head.text("Subject", complaint.subject)
    head.text("X-Qmark-Reconstructed", f"from an inline forward ({complaint.shape})")
    head.token("MIME-Version", "1.0")
    fields, text = _text_part(_plain(complaint.body) + "\n")
    _content_headers(head, fields)
    return head.as_bytes() + b"\r\n" + text


def _foreign_message_id(complaint: Original) -> str | None:
    """The complaint's own Message-ID, read from the first 64 KB of its header block, if well-formed."""
    if complaint.raw is None:
        return None
    head = re.split(rb"\r?\n\r?\n", complaint.raw[:65536], maxsplit=1)[0]
    value = BytesHeaderParser(policy=policy.compat32).parsebytes(head).get("Message-ID")
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value if _FOREIGN_MESSAGE_ID.fullmatch(value) else None


def _rfc5322_date(text: str) -> str | None:
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return format_datetime(parsed) if parsed.utcoffset() is not None else None


# --- small text helpers ----------------------------------------------------------------------------


@cache
def _template(name: str) -> Template:
    return Template(resources.files("pipeline").joinpath("templates", name).read_text(encoding="utf-8"))


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA timezone {name!r}") from exc


def _when(moment: datetime, zone: str) -> str:
    """``Tue 24 Nov 2026 14:30 CET``: English names whatever the locale, zone abbreviation last."""
    local = moment.astimezone(_zone(zone))
    stamp = f"{_DAYS[local.weekday()]} {local.day} {_MONTHS[local.month - 1]} {local.year} {local:%H:%M}"
    return f"{stamp} {local.tzname()}"


def _lead_time(span: timedelta) -> str:
    """``4 hours after it reached you``, ``1 day 2 hours 30 minutes after ...``."""
    minutes = round(span.total_seconds() / 60)
    if minutes <= 0:
        return "already due when it reached you"
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [(days, "day"), (hours, "hour"), (minutes, "minute")]
    return " ".join(f"{n} {unit}{'s' if n != 1 else ''}" for n, unit in parts if n) + " after it reached you"


def _name(addr: Address) -> str:
    return clean_text(addr.name, max_len=200) or clean_text(addr.email, max_len=254)


def _display(addr: Address) -> str:
    name, email = clean_text(addr.name, max_len=200), clean_text(addr.email, max_len=254)
    return f"{name} <{email}>" if name else email


def _sender(complaint: Original) -> str:
    return _display(complaint.sender) if complaint.sender is not None else "(unknown sender)"


def _complaint_subject(complaint: Original) -> str:
    return clean_text(complaint.subject, max_len=200) or "(no subject)"


def _route(route: str) -> str:
    return clean_text(route, max_len=200) or "default"


def _bullets(items: Iterable[str]) -> str:
    lines = [f"- {clean_text(item, max_len=500)}" for item in items if clean_text(item)]
    return "\n".join(lines) or "- (no reason recorded)"


_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # Unicode category Cc, less tab and LF


def _plain(text: str) -> str:
    """Body text with every line break as \\n, no other control characters but tab, no outer blank lines."""
    lines = (_CONTROL.sub("", line) for line in text.splitlines())
    return "\n".join(line.rstrip() for line in lines).strip("\n")


def _indented(text: str) -> str:
    plain = _plain(text) or "(empty)"
    return "\n".join(f"    {line}" if line else "" for line in plain.split("\n"))
