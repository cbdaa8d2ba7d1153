"""Drive one escalation's life through the real process and send steps, with a clock the test moves.

Mail goes through ``store_one`` (as SMTP intake stores it), the process step and
the send step into the real relay sink; nothing is mocked but the time.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr

from pipeline.model.mail import Envelope
from pipeline.steps.process import process_message
from pipeline.steps.send import send_claimed
from tests.support.db import rows, scalar
from tests.support.replies import parsed
from tests.support.sink import Received, RelaySink

# A Tuesday, 10:00 in Berlin: inside Pat's working hours.
START = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


class Life:
    """One qmark instance on a test database and the relay sink, stepped by hand."""

    def __init__(self, app: object, sink: RelaySink, database_url: str) -> None:
        self.now = START
        self.app = app
        self.svc = replace(app.services, clock=lambda: self.now)  # type: ignore[attr-defined]
        self.sink = sink
        self.url = database_url
        self._seen = 0

    def tick(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    def deliver(self, raw: bytes, *, mail_from: str | None = None, rcpts: tuple[str, ...] = ()) -> int:
        """Store ``raw`` as SMTP would, process it and send what it queued; returns the message id."""
        from workers.roles.group_commit import store_one

        message = parsed(raw)
        sender = parseaddr(str(message["From"] or ""))[1] if mail_from is None else mail_from
        to = rcpts or tuple(parseaddr(str(message["To"]))[1:])
        envelope = Envelope(sender, to, "test", self.now, "smtp")
        message_id = store_one(self.svc.db, raw, envelope)
        claimed = process_message(self.svc, message_id)
        send_claimed(self.svc, self.app.transport(), claimed)  # type: ignore[attr-defined]
        return message_id

    def chase(self) -> list[int]:
        """One scheduler tick and the chase jobs it enqueues, run here; returns the escalations claimed."""
        from pipeline.steps import chase as chasing
        from pipeline.store import chases

        with self.svc.db.transaction() as conn:
            numbers = chases.claim_due(conn, now=self.now, lease=self.svc.lease)
        claimed = chasing.chase_many(self.svc, numbers)
        send_claimed(self.svc, self.app.transport(), claimed)  # type: ignore[attr-defined]
        return numbers

    def chase_actions(self) -> list[int]:
        """One scheduler tick over the action ledger and the jobs it enqueues, run here."""
        from pipeline.steps.action_chase import chase_actions
        from pipeline.store import chases

        with self.svc.db.transaction() as conn:
            numbers = chases.claim_due_actions(conn, now=self.now, lease=self.svc.lease)
        claimed = chase_actions(self.svc, numbers)
        send_claimed(self.svc, self.app.transport(), claimed)  # type: ignore[attr-defined]
        return numbers

    def new_mail(self, expected: int | None = None) -> list[Received]:
        """The mails the sink received since the last call (``expected`` of them, when given)."""
        if expected:
            self.sink.wait_for(self._seen + expected)
        received = self.sink.messages[self._seen :]
        self._seen += len(received)
        if expected is not None:
            got = [(r.rcpt_tos, parsed(r.data)["Subject"]) for r in received]
            assert len(received) == expected, f"expected {expected} mail(s), got {got}"
        return received

    def by_recipient(self, expected: int) -> dict[str, bytes]:
        """The ``expected`` new mails, each by its one recipient (which must differ)."""
        mails = {mail.rcpt_tos[0]: mail.data for mail in self.new_mail(expected)}
        assert len(mails) == expected, sorted(mails)
        return mails

    def one_to(self, rcpt: str) -> bytes:
        """The single new mail, which must be addressed to ``rcpt``."""
        [mail] = self.new_mail(1)
        assert mail.rcpt_tos == (rcpt,), mail.rcpt_tos
        return mail.data

    def state(self, number: int = 1) -> str:
        return str(scalar(self.url, f"select state from escalations where id = {number}"))

    def outcome(self, message_id: int) -> tuple[str, str]:
        [(outcome, reason)] = rows(self.url, f"select outcome, reason from messages where id = {message_id}")
        return outcome, reason

    def events(self, number: int = 1) -> list[str]:
        return [
            r[0]
            for r in rows(self.url, f"select kind from events where escalation_id = {number} order by id")
        ]
