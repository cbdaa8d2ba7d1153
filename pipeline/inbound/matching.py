"""Which escalation a reply belongs to: the signed token first, then threading, then the subject tag.

One job: :func:`match_reply` reads an inbound mail and names the escalation it
answers and how sure that is. A token that does not verify is reported as
forged before any database lookup (the HMAC needs none). Whether the sender may
act on the escalation is decided afterwards, with the escalation's participants
at hand (:func:`role_of`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from pipeline.model.ids import parse_message_id
from pipeline.model.mail import Envelope, InboundMail
from pipeline.model.tokens import check_token_with_keys, token_from_address

_SUBJECT_TAG = re.compile(r"\[Q-([1-9][0-9]{0,11})\]", re.I)


@dataclass(frozen=True)
class ReplyMatch:
    """How a reply was tied to an escalation.

    ``number`` is None when nothing matched or the token is ``forged`` (then the
    reason is in ``forged``). ``token_sender`` is True when a genuine token was
    issued to the sender of this very mail.
    """

    number: int | None
    via: str = ""
    token_sender: bool = False
    forged: str | None = None

    @property
    def reason(self) -> str:
        if self.forged:
            return f"the reply token is not genuine ({self.forged})"
        return {
            "token": "its signed reply address",
            "in-reply-to": "it answers a mail qmark sent",
            "subject": "the [Q-n] tag in its subject",
        }.get(self.via, "nothing ties it to an escalation")


class Role(StrEnum):
    """What the sender is to the escalation."""

    EXECUTIVE = "executive"
    OWNER = "owner"  # the owner or someone on their management ladder
    RECIPIENT = "recipient"  # the token was issued to them, but they take no part any more
    STRANGER = "stranger"


def match_reply(
    mail: InboundMail, envelope: Envelope, *, reply_local: str, domain: str, secrets: Sequence[bytes]
) -> ReplyMatch:
    """The escalation ``mail`` answers, by token (under any of ``secrets``), thread, or subject tag."""
    return (
        _by_token(mail, envelope, reply_local=reply_local, domain=domain, secrets=secrets)
        or _by_thread(mail, domain)
        or _by_subject(mail)
        or ReplyMatch(None)
    )


def _by_token(
    mail: InboundMail, envelope: Envelope, *, reply_local: str, domain: str, secrets: Sequence[bytes]
) -> ReplyMatch | None:
    """The first genuine token among the recipients; a forged one when none is; None without tokens."""
    sender = mail.from_.email if mail.from_ else ""
    forged: str | None = None
    for token in _tokens(_recipients(mail, envelope), reply_local=reply_local, domain=domain):
        check = check_token_with_keys(secrets, token, sender)
        if check.genuine and check.number is not None:
            return ReplyMatch(check.number, "token", token_sender=check.recipient_ok)
        forged = forged or check.reason
    return None if forged is None else ReplyMatch(None, "token", forged=forged)


def _by_thread(mail: InboundMail, domain: str) -> ReplyMatch | None:
    """qmark's Message-ID in In-Reply-To, else the last one in References."""
    for mid in (mail.in_reply_to, *reversed(mail.references)):
        number = parse_message_id(mid, domain=domain) if mid else None
        if number is not None:
            return ReplyMatch(number, "in-reply-to")
    return None


def _by_subject(mail: InboundMail) -> ReplyMatch | None:
    tag = _SUBJECT_TAG.search(mail.subject)
    return ReplyMatch(int(tag.group(1)), "subject") if tag else None


def role_of(sender: str, *, executive: str, owner: str, ladder: Iterable[str], token_sender: bool) -> Role:
    """The sender's part in the escalation; the executive wins when they also own it."""
    sender = sender.strip().lower()
    if sender and sender == executive.lower():
        return Role.EXECUTIVE
    if sender and (sender == owner.lower() or sender in {m.lower() for m in ladder}):
        return Role.OWNER
    return Role.RECIPIENT if token_sender else Role.STRANGER


def _recipients(mail: InboundMail, envelope: Envelope) -> list[str]:
    headers = [a.email for a in (*mail.to, *mail.cc)]
    delivered = list(mail.header_all("delivered-to")) + list(mail.header_all("x-original-to"))
    return [r.strip() for r in (*envelope.rcpt_tos, *headers, *delivered) if r.strip()]


def _tokens(addresses: Iterable[str], *, reply_local: str, domain: str) -> list[str]:
    seen: dict[str, None] = {}
    for address in addresses:
        token = token_from_address(address, local=reply_local, domain=domain)
        if token:
            seen.setdefault(token, None)
    return list(seen)
