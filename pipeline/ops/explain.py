"""``qmark rules explain``: what qmark would do with one message, and why, without doing it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pipeline.decide.classify import Policy, Verdict, classify
from pipeline.inbound.limits import Unparseable
from pipeline.inbound.parse import parse_mail
from pipeline.model.deadlines import deadline_for
from pipeline.model.mail import Envelope
from rules.routing import Complaint, choose_route
from rules.schema import Rules


def explain(
    rules: Rules,
    policy: Policy,
    raw: bytes,
    envelope: Envelope,
    *,
    now: datetime | None = None,
    service_timezone: str = "UTC",
) -> dict[str, Any]:
    """A report: verdict and rule, reasons, and for an escalation the route, owner and deadline."""
    now = now or datetime.now(UTC)
    try:
        mail = parse_mail(raw)
    except Unparseable as error:
        return {"verdict": Verdict.QUARANTINE.value, "rule": "unparseable", "reasons": [error.reason]}
    disposition = classify(mail, envelope, rules, policy)
    report: dict[str, Any] = {
        "verdict": disposition.verdict.value,
        "rule": disposition.rule,
        "reasons": list(disposition.reasons),
    }
    if disposition.comment:
        report["comment"] = disposition.comment
    original = mail.forwarded
    if original is None:
        return report
    report["forward"] = original.shape
    report["customer"] = str(original.sender) if original.sender else "(unknown)"
    report["subject"] = original.subject
    if disposition.verdict is not Verdict.ESCALATE:
        return report
    customer = original.sender.email if original.sender else ""
    decision = choose_route(
        rules, Complaint(original.subject, original.body, customer), disposition.addressed
    )
    owner = decision.owner
    deadline = deadline_for(owner, now, decision.deadline, service_timezone=service_timezone)
    local = deadline.astimezone(ZoneInfo(owner.timezone))
    report["route"] = decision.route
    report["why"] = list(decision.reasons)
    report["owner"] = f"{owner.name} <{owner.email}>"
    report["deadline"] = (
        f"{decision.deadline.text} -> {local:%a %d %b %Y %H:%M %Z} ({owner.timezone}), "
        f"{deadline:%Y-%m-%d %H:%M} UTC"
    )
    ladder = rules.ladder(owner.email)
    if ladder:
        report["ladder"] = " -> ".join(p.email for p in ladder)
    return report
