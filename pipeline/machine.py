"""Recognise machine mail: bounces, auto-replies, list traffic. qmark never answers it (I4).

Each check is a small named predicate returning the reason in words, or None;
their order is data (``CHECKS``). Header-only checks miss many real bounces,
so the envelope sender and sender/subject heuristics count too.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from pipeline.mail import Envelope, InboundMail

Check = Callable[[InboundMail, Envelope], str | None]

_MACHINE_LOCALPARTS = re.compile(
    r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply|bounces?|auto-?reply|daemon|mail-?daemon)$", re.I
)
_AUTO_SUBJECT = re.compile(
    r"^\s*(auto(matic)?[ _-]?(reply|response|antwort)|out of (the )?office|abwesenheitsnotiz|"
    r"r[ée]ponse automatique|absence|vacation|undeliver(able|ed)|delivery (status )?notification|"
    r"returned mail|mail delivery (failed|failure|system)|failure notice|non[- ]?delivery|"
    r"delivery (failure|has failed)|warning: could not send|automatisch)",
    re.I,
)


def null_sender(mail: InboundMail, envelope: Envelope) -> str | None:
    if envelope.mail_from.strip("<> ") == "":
        return "the envelope sender is empty (<>), as for bounces and auto-replies"
    return None


def auto_submitted(mail: InboundMail, envelope: Envelope) -> str | None:
    value = mail.header("auto-submitted").strip().lower()
    if value and not value.startswith("no"):
        return f"Auto-Submitted: {value}"
    return None


def delivery_report(mail: InboundMail, envelope: Envelope) -> str | None:
    ctype = mail.content_type.lower()
    if ctype.startswith("multipart/report") or ctype.startswith("message/delivery-status"):
        return f"it is a delivery or feedback report ({ctype})"
    return None


def bulk_precedence(mail: InboundMail, envelope: Envelope) -> str | None:
    value = mail.header("precedence").strip().lower()
    if value in {"bulk", "junk", "list", "auto_reply"}:
        return f"Precedence: {value}"
    return None


def mailing_list(mail: InboundMail, envelope: Envelope) -> str | None:
    for name in ("list-id", "list-unsubscribe", "list-post"):
        if mail.header(name):
            return f"it came through a mailing list ({name})"
    return None


def autoresponder_headers(mail: InboundMail, envelope: Envelope) -> str | None:
    for name in ("x-autoreply", "x-autorespond", "x-autoresponder", "x-fc-machinegenerated"):
        if mail.header(name):
            return f"{name} header present"
    if mail.header("x-ms-exchange-inbox-rules-loop"):
        return "X-MS-Exchange-Inbox-Rules-Loop: forwarded by a mailbox rule"
    return None


def machine_sender(mail: InboundMail, envelope: Envelope) -> str | None:
    for address in (envelope.mail_from, mail.from_.email if mail.from_ else ""):
        local = address.strip("<> ").rpartition("@")[0]
        if local and _MACHINE_LOCALPARTS.match(local):
            return f"the sender {address.strip('<> ')} is a mail system address"
    return None


def auto_subject(mail: InboundMail, envelope: Envelope) -> str | None:
    if _AUTO_SUBJECT.match(mail.subject):
        return f"the subject looks automatic ({mail.subject[:60]!r})"
    return None


CHECKS: tuple[tuple[str, Check], ...] = (
    ("null_sender", null_sender),
    ("auto_submitted", auto_submitted),
    ("delivery_report", delivery_report),
    ("bulk_precedence", bulk_precedence),
    ("mailing_list", mailing_list),
    ("autoresponder_headers", autoresponder_headers),
    ("machine_sender", machine_sender),
    ("auto_subject", auto_subject),
)


def machine_reason(mail: InboundMail, envelope: Envelope) -> tuple[str, str] | None:
    """(check name, reason) of the first check that says this is machine mail, else None."""
    for name, check in CHECKS:
        reason = check(mail, envelope)
        if reason:
            return name, reason
    return None
