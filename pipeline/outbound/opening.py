"""Render the two mails that open an escalation: the owner's forward and the executive's acknowledgement.

Pure functions from facts to :class:`~pipeline.model.mail.OutgoingMail`; handing the
result to a relay is ``pipeline.outbound.transport``'s job. The headers every mail
carries (DESIGN §4.4) and its MIME structure are :func:`pipeline.outbound.compose.compose`'s;
the mails that follow the opening are :mod:`pipeline.outbound.followups`'. Bodies come
from one ``string.Template`` per kind in ``pipeline/templates``; all logic stays here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import policy
from email.parser import BytesHeaderParser
from email.utils import format_datetime, parsedate_to_datetime

from pipeline.model.ids import well_formed_message_id
from pipeline.model.mail import Address, Original, OutgoingMail
from pipeline.model.related import SeenBefore
from pipeline.outbound import mailtext
from pipeline.outbound.compose import Identity, compose, text_message
from pipeline.outbound.headers import HeaderBlock, clean_text
from pipeline.outbound.related import seen_before
from rules.timezones import zone

OWNER_FORWARD = "owner_forward"
EXECUTIVE_ACK = "executive_ack"


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
    seen_before: tuple[SeenBefore, ...] = ()  # earlier escalations it repeats, best first

    def __post_init__(self) -> None:
        if self.ref != f"Q-{self.number}":
            raise ValueError(f"ref {self.ref!r} does not name escalation number {self.number}")
        if self.deadline.utcoffset() is None or self.opened_at.utcoffset() is None:
            raise ValueError("deadline and opened_at must be timezone-aware")
        zone(self.owner_timezone)


def render_owner_forward(facts: EscalationFacts, identity: Identity) -> OutgoingMail:
    """The complaint forwarded to its owner: note, deadline, what was seen before, how to answer, why them,
    writeup template."""
    body = mailtext.template("owner_forward.txt").substitute(
        ref=facts.ref,
        executive=mailtext.display(facts.executive),
        executive_name=mailtext.name_of(facts.executive),
        note=mailtext.indented(facts.executive_note),
        deadline=f"{mailtext.when(facts.deadline, facts.owner_timezone)} ({facts.owner_timezone})",
        lead_time=_lead_time(facts.deadline - facts.opened_at),
        seen_before=seen_before(facts.seen_before),
        route=_route(facts.route),
        reasons=_bullets(facts.route_reasons),
        complaint_from=_sender(facts.complaint),
        complaint_date=clean_text(facts.complaint.date) or "(no date)",
        complaint_subject=_complaint_subject(facts.complaint),
        complaint_body=mailtext.plain(facts.complaint.body),
        rca_template="".join(f"## {clean_text(title)}\n\n" for title in facts.rca_sections),
    )
    subject = f"[{facts.ref}] ? {_complaint_subject(facts.complaint)}"
    complaint_id = _foreign_message_id(facts.complaint)
    return compose(
        identity,
        number=facts.number,
        ref=facts.ref,
        kind=OWNER_FORWARD,
        recipient=facts.owner,
        subject=subject,
        body=body,
        attachment=_original_bytes(facts.complaint),
        references=(complaint_id,) if complaint_id else (),
    )


def render_executive_ack(facts: EscalationFacts, identity: Identity) -> OutgoingMail:
    """The acknowledgement to the executive: who owns it, by when, what was seen before, and why them."""
    owner_name = mailtext.name_of(facts.owner)
    body = mailtext.template("executive_ack.txt").substitute(
        ref=facts.ref,
        owner=mailtext.display(facts.owner),
        owner_name=owner_name,
        due_utc=mailtext.when(facts.deadline, "UTC"),
        due_owner=mailtext.when(facts.deadline, facts.owner_timezone),
        owner_timezone=facts.owner_timezone,
        seen_before=seen_before(facts.seen_before),
        route=_route(facts.route),
        reasons=_bullets(facts.route_reasons),
        note=mailtext.indented(facts.executive_note),
        complaint_subject=_complaint_subject(facts.complaint),
        complaint_from=_sender(facts.complaint),
    )
    subject = f"[{facts.ref}] Escalated to {owner_name}: {_complaint_subject(facts.complaint)}"
    return compose(
        identity,
        number=facts.number,
        ref=facts.ref,
        kind=EXECUTIVE_ACK,
        recipient=facts.executive,
        subject=subject,
        body=body,
    )


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
    return text_message(head, mailtext.plain(complaint.body) + "\n")


def _foreign_message_id(complaint: Original) -> str | None:
    """The complaint's own Message-ID, read from the first 64 KB of its header block, if well-formed."""
    if complaint.raw is None:
        return None
    head = re.split(rb"\r?\n\r?\n", complaint.raw[:65536], maxsplit=1)[0]
    value = BytesHeaderParser(policy=policy.compat32).parsebytes(head).get("Message-ID")
    return well_formed_message_id(value) if isinstance(value, str) else None


def _rfc5322_date(text: str) -> str | None:
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return format_datetime(parsed) if parsed.utcoffset() is not None else None


# --- small text helpers ----------------------------------------------------------------------------


def _lead_time(span: timedelta) -> str:
    """``4 hours after it reached you``, ``1 day 2 hours 30 minutes after ...``."""
    minutes = round(span.total_seconds() / 60)
    if minutes <= 0:
        return "already due when it reached you"
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [(days, "day"), (hours, "hour"), (minutes, "minute")]
    return " ".join(f"{n} {unit}{'s' if n != 1 else ''}" for n, unit in parts if n) + " after it reached you"


def _sender(complaint: Original) -> str:
    return mailtext.display(complaint.sender) if complaint.sender is not None else "(unknown sender)"


def _complaint_subject(complaint: Original) -> str:
    return mailtext.subject(complaint.subject)


def _route(route: str) -> str:
    return clean_text(route, max_len=200) or "default"


def _bullets(items: Iterable[str]) -> str:
    lines = [f"- {clean_text(item, max_len=500)}" for item in items if clean_text(item)]
    return "\n".join(lines) or "- (no reason recorded)"
