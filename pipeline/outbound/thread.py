"""The thread of one escalation: who is in it, how times are shown, and a mail written into it.

Every mail about an escalation after its opening (follow-ups, reminders, notices)
is one template filled in and handed to :func:`pipeline.outbound.compose.compose`,
which adds the DESIGN §4.4 headers and threads it under ``Thread.in_reply_to``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from pipeline.model.mail import Address, OutgoingMail
from pipeline.outbound import mailtext
from pipeline.outbound.compose import Identity, compose
from rules.timezones import zone


@dataclass(frozen=True)
class Thread:
    """What every follow-up mail about one escalation needs.

    Times are shown in UTC and in ``owner_timezone``, which is named beside
    them. ``in_reply_to`` is the Message-ID of the incoming mail this answers;
    ``references`` that mail's References. Ids that are not well-formed are
    left out of the mail.
    """

    number: int
    subject: str
    executive: Address
    owner: Address
    owner_timezone: str
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.number, bool) or self.number < 1:
            raise ValueError(f"escalation number {self.number!r} must be a positive integer")
        zone(self.owner_timezone)

    @property
    def ref(self) -> str:
        """``Q-<number>``."""
        return f"Q-{self.number}"

    def for_owner(self, moment: datetime) -> str:
        """``Tue 24 Nov 2026 14:30 CET (Europe/Berlin), which is Tue 24 Nov 2026 13:30 UTC``."""
        zone = self.owner_timezone
        return f"{mailtext.when(moment, zone)} ({zone}), which is {mailtext.when(moment, 'UTC')}"

    def for_executive(self, moment: datetime) -> str:
        """``Tue 24 Nov 2026 13:30 UTC (Tue 24 Nov 2026 14:30 CET in Europe/Berlin)``."""
        zone = self.owner_timezone
        return f"{mailtext.when(moment, 'UTC')} ({mailtext.when(moment, zone)} in {zone})"


def render_in_thread(
    thread: Thread, identity: Identity, kind: str, recipient: Address, topic: str, **values: str
) -> OutgoingMail:
    """Mail ``kind`` with the subject ``[Q-<n>] <topic>: <complaint subject>``."""
    full = f"{topic}: {mailtext.subject(thread.subject)}"
    return thread_mail(thread, identity, kind, recipient, full, values)


def thread_mail(
    thread: Thread,
    identity: Identity,
    kind: str,
    recipient: Address,
    topic: str,
    values: Mapping[str, str],
    attachment: bytes | None = None,
) -> OutgoingMail:
    """Mail ``kind`` to ``recipient`` in the escalation's thread: the template ``<kind>.txt`` filled
    with ``values`` and the ref, the subject ``[Q-<n>] <topic>``, ``attachment`` as the complaint."""
    body = mailtext.template(f"{kind}.txt").substitute(values, ref=thread.ref)
    return compose(
        identity,
        number=thread.number,
        ref=thread.ref,
        kind=kind,
        recipient=recipient,
        subject=f"[{thread.ref}] {topic}",
        body=body,
        attachment=attachment,
        in_reply_to=thread.in_reply_to,
        references=thread.references,
    )
