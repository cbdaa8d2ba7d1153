"""What a mail about an existing escalation needs from the store: its thread and the complaint.

Shared by the reply step, the chase step and ops' commands, so every follow-up
mail names the same people, the same subject and the same timezone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from pipeline.inbound.limits import Unparseable
from pipeline.inbound.parse import parse_mail
from pipeline.model.escalation import Escalation
from pipeline.model.mail import Address, InboundMail, Original
from pipeline.outbound.thread import Thread
from pipeline.steps.services import Services
from pipeline.store import messages


def thread_for(
    svc: Services, escalation: Escalation, row: Mapping[str, Any], answering: InboundMail | None = None
) -> Thread:
    """The thread of escalation ``row``; threaded under ``answering`` when it answers a mail."""
    assert escalation.number is not None
    owner = svc.rules.person(escalation.owner)
    return Thread(
        number=escalation.number,
        subject=row["subject"],
        executive=Address(escalation.executive, row["executive_name"]),
        owner=Address(escalation.owner, row["owner_name"]),
        owner_timezone=owner.timezone if owner else svc.timezone,
        in_reply_to=f"<{answering.message_id}>" if answering and answering.message_id else None,
        references=tuple(f"<{r}>" for r in answering.references[-8:]) if answering else (),
    )


def complaint(svc: Services, conn: Connection, row: Mapping[str, Any]) -> Original:
    """The complaint as forwarded, re-read from the executive's stored mail."""
    raw = messages.raw_of(conn, message_id=row["source_message_id"])
    if raw is not None:
        try:
            forwarded = parse_mail(raw, svc.limits).forwarded
        except Unparseable:
            forwarded = None
        if forwarded is not None:
            return forwarded
    body = "(the complaint could not be re-read)"
    return Original(shape="inline", sender=None, date="", subject=row["subject"], body=body)
