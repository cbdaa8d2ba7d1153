"""InboundMail -> Disposition: decide what a message is, never act on it.

The decision is a chain of small named rules, tried in order (GNU Mailman's
chains): the first rule that has an opinion decides, and its reason is kept
with the message (I2). Acting on the verdict is the flow's job.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from pipeline.inbound import authres, machine
from pipeline.inbound.question import split_question
from pipeline.model.mail import Envelope, InboundMail
from rules.schema import Rules


class Verdict(StrEnum):
    ESCALATE = "escalation"
    REPLY = "reply"
    MACHINE = "machine"
    IGNORE = "ignored"
    QUARANTINE = "quarantined"


@dataclass(frozen=True)
class Disposition:
    """What a message is (``verdict``), which rule said so, and why in words."""

    verdict: Verdict
    rule: str
    reasons: tuple[str, ...]
    comment: str = ""
    addressed: tuple[str, ...] = ()


@dataclass(frozen=True)
class Policy:
    """What classify needs from the configuration."""

    intake_addresses: frozenset[str]
    domain: str
    trusted_authserv_ids: frozenset[str]
    require_dmarc: bool

    @property
    def reply_locals(self) -> frozenset[str]:
        return frozenset(a.partition("@")[0].lower() for a in self.intake_addresses)


Rule = Callable[[InboundMail, Envelope, Rules, Policy], Disposition | None]

_SUBJECT_TAG = re.compile(r"\[Q-(\d+)\]", re.I)


def _recipients(mail: InboundMail, envelope: Envelope) -> list[str]:
    header_rcpts = [a.email for a in (*mail.to, *mail.cc)]
    return [r.strip("<> ").lower() for r in (*envelope.rcpt_tos, *header_rcpts)]


def own_mail(mail: InboundMail, envelope: Envelope, rules: Rules, policy: Policy) -> Disposition | None:
    sender = mail.from_.email if mail.from_ else ""
    if mail.header("x-qmark-escalation") and (
        sender in policy.intake_addresses or mail.message_id.startswith("qmark.")
    ):
        return Disposition(Verdict.MACHINE, "own_mail", ("qmark's own mail came back (loop guard)",))
    return None


def machine_mail(mail: InboundMail, envelope: Envelope, rules: Rules, policy: Policy) -> Disposition | None:
    found = machine.machine_reason(mail, envelope)
    if found is None:
        return None
    return Disposition(Verdict.MACHINE, f"machine_mail:{found[0]}", (found[1],))


def reply_to_escalation(
    mail: InboundMail, envelope: Envelope, rules: Rules, policy: Policy
) -> Disposition | None:
    for rcpt in _recipients(mail, envelope):
        local, _, domain = rcpt.partition("@")
        base, plus, _tag = local.partition("+")
        if plus and domain == policy.domain.lower() and base in policy.reply_locals:
            return Disposition(Verdict.REPLY, "reply_to_escalation", (f"sent to the reply address {rcpt}",))
    refs = (mail.in_reply_to, *mail.references)
    if any(r.startswith("qmark.") and r.endswith("@" + policy.domain.lower()) for r in refs):
        return Disposition(Verdict.REPLY, "reply_to_escalation", ("it answers a mail qmark sent",))
    tag = _SUBJECT_TAG.search(mail.subject)
    if tag:
        return Disposition(Verdict.REPLY, "reply_to_escalation", (f"its subject carries [Q-{tag.group(1)}]",))
    return None


def not_from_executive(
    mail: InboundMail, envelope: Envelope, rules: Rules, policy: Policy
) -> Disposition | None:
    sender = mail.from_.email if mail.from_ else ""
    if not sender:
        return Disposition(Verdict.IGNORE, "not_from_executive", ("the message has no From address",))
    if not rules.is_executive(sender):
        return Disposition(
            Verdict.IGNORE, "not_from_executive", (f"{sender} is not listed under executives in people.yaml",)
        )
    return None


def spoofed_executive(
    mail: InboundMail, envelope: Envelope, rules: Rules, policy: Policy
) -> Disposition | None:
    """An executive's From that fails authentication is held as a possible spoof, whatever else it looks like.

    It runs before the machine-mail and reply rules: a spoof must not hide behind a
    bounce-like envelope (``bounce@...``, ``<>``, MAILER-DAEMON) or Auto-Submitted
    headers, and quarantine never answers anything (I4). A genuine bounce never has an
    executive in From, and an executive's genuine auto-reply passes DMARC, so both go
    on to ``machine_mail`` as before. Without ``require_dmarc`` every executive From is
    trusted (the documented meaning of that switch) and this rule stays silent.
    """
    sender = mail.from_.email if mail.from_ else ""
    if not policy.require_dmarc or not sender or not rules.is_executive(sender):
        return None
    verdict = authres.verify_sender(
        mail.header_all("authentication-results"), sender, policy.trusted_authserv_ids
    )
    if verdict.authenticated:
        return None
    reasons = [f"possible spoof: mail claims to be from executive {sender} but {verdict.reason}"]
    looks_machine = machine.machine_reason(mail, envelope)
    if looks_machine is not None:
        reasons.append(f"held although it looks like machine mail ({looks_machine[1]})")
    return Disposition(Verdict.QUARANTINE, "spoofed_executive", tuple(reasons))


def nothing_forwarded(
    mail: InboundMail, envelope: Envelope, rules: Rules, policy: Policy
) -> Disposition | None:
    if mail.forwarded is None:
        return Disposition(
            Verdict.IGNORE, "nothing_forwarded", ("no forwarded complaint found (inline or attached)",)
        )
    return None


def not_a_question(mail: InboundMail, envelope: Envelope, rules: Rules, policy: Policy) -> Disposition | None:
    sender = mail.from_.email if mail.from_ else ""
    executive = rules.executives.get(sender)
    names: tuple[str, ...] = ()
    if executive is not None and executive.name:
        names = (executive.name, executive.name.split()[0])
    is_question, comment = split_question(mail.note, names)
    if is_question:
        addressed = tuple(
            r for r in _recipients(mail, envelope) if r not in policy.intake_addresses and rules.person(r)
        )
        reasons = ["executive's note is a question mark"]
        if comment:
            reasons.append("with a comment")
        return Disposition(Verdict.ESCALATE, "escalate", tuple(reasons), comment=comment, addressed=addressed)
    first = mail.note.strip().splitlines()[0][:60] if mail.note.strip() else ""
    return Disposition(Verdict.IGNORE, "not_a_question", (f"the executive's note is {first!r}, not '?'",))


CHAIN: tuple[Rule, ...] = (
    spoofed_executive,
    own_mail,
    machine_mail,
    reply_to_escalation,
    not_from_executive,
    nothing_forwarded,
    not_a_question,
)


def classify(mail: InboundMail, envelope: Envelope, rules: Rules, policy: Policy) -> Disposition:
    """Run the chain; the first rule with an opinion decides."""
    for rule in CHAIN:
        disposition = rule(mail, envelope, rules, policy)
        if disposition is not None:
            return disposition
    raise AssertionError("the last rule always decides")  # pragma: no cover
