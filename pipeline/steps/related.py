"""Repeat complaints at opening: the earlier escalations a new one repeats, and a fix that did not hold.

:func:`look_up` runs the bounded lookup (``pipeline.store.related``) in a read session before the
opening's write transaction and lets ``pipeline.decide.related`` pick; its result gives the
opening mails their "Seen before" block (:meth:`Lookup.seen`). When the new escalation came
back after an earlier one's fix (``recurred_after_fix``), :func:`fix_mail` renders the mail to
the earlier owner and :func:`record_on_earlier` writes the earlier escalation's side inside the
opening's transaction: its event and that mail, queued once (the opening itself is once per
executive mail, and the mail's outbox key is unique). A database error fails the step, which
is retried, as for any other read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection

from pipeline.decide.related import Related, choose, progress_wanted, score
from pipeline.model.digest import ROOT_CAUSE_KEY, root_cause_key
from pipeline.model.ids import ref
from pipeline.model.mail import Address, Original, OutgoingMail
from pipeline.model.related import Probe, SeenBefore
from pipeline.outbound.related import FIX_DID_NOT_HOLD, render_fix_did_not_hold
from pipeline.outbound.thread import Thread
from pipeline.steps.services import Services
from pipeline.store import actions, escalations, outbox, related
from pipeline.store.related import Earlier


@dataclass(frozen=True)
class Lookup:
    """The probe, what was decided, and what the mails say of the earlier escalations."""

    probe: Probe
    related: Related = field(default_factory=Related)
    earlier: dict[int, Earlier] = field(default_factory=dict)
    progress: dict[int, tuple[int, int]] = field(default_factory=dict)
    root_cause_key: str = ROOT_CAUSE_KEY

    def seen(self) -> tuple[SeenBefore, ...]:
        """The matches as the opening mails show them, best first."""
        return tuple(
            self.seen_one(match.number, match.why)
            for match in self.related.matches
            if match.number in self.earlier
        )

    def seen_one(self, number: int, why: str) -> SeenBefore:
        row = self.earlier[number]
        writeup = row.writeup
        done, kept = self.progress.get(number, (0, 0))
        return SeenBefore(
            ref=ref(number),
            state=row.state,
            closed_at=row.closed_at,
            owner_name=row.owner_name or row.owner,
            root_cause=str(writeup.get(self.root_cause_key) or writeup.get(ROOT_CAUSE_KEY) or ""),
            actions=(done, kept) if kept else None,
            why=why,
        )


def look_up(svc: Services, *, customer: str, route: str, complaint: Original, now: datetime) -> Lookup:
    """The earlier escalations (opened in the year before ``now``) the new complaint repeats."""
    probe = Probe.of(customer=customer, route=route, subject=complaint.subject, body=complaint.body)
    with svc.db.read() as session:
        found = related.candidates(session, probe=probe, now=now)
        if not found:
            return Lookup(probe)
        scored = score(probe, found)
        if not scored:
            return Lookup(probe)
        progress = actions.progress(session, escalation_ids=progress_wanted(probe, scored))
        decided = choose(probe, scored, progress)
        earlier = related.shown(session, numbers=[match.number for match in decided.matches])
    key = root_cause_key(svc.rules.rca.sections)
    return Lookup(probe, decided, earlier, progress, key)


def fix_mail(
    svc: Services, lookup: Lookup, *, number: int, owner: Address, customer: str, subject: str
) -> OutgoingMail | None:
    """The mail telling the earlier owner their fix did not hold; None when nothing recurred."""
    earlier = lookup.related.recurred_after
    if earlier is None or earlier not in lookup.earlier:
        return None
    row = lookup.earlier[earlier]
    person = svc.rules.person(row.owner)
    thread = Thread(
        number=earlier,
        subject=row.subject,
        executive=Address(row.executive, row.executive_name),
        owner=Address(row.owner, row.owner_name),
        owner_timezone=person.timezone if person else svc.timezone,
    )
    why = next(match.why for match in lookup.related.matches if match.number == earlier)
    return render_fix_did_not_hold(
        thread,
        svc.identity,
        earlier=lookup.seen_one(earlier, why),
        later_ref=ref(number),
        later_owner=owner,
        customer=customer,
        complaint_subject=subject,
    )


def record_on_earlier(
    svc: Services, conn: Connection, *, earlier: int, later: int, mail: OutgoingMail, now: datetime
) -> list[outbox.ClaimedMail]:
    """The earlier escalation's ``recurred_after_fix`` event and its owner's mail, queued once."""
    escalations.add_event(
        conn,
        escalation_id=earlier,
        kind="recurred_after_fix",
        at=now,
        actor="qmark",
        later=ref(later),
        mail=FIX_DID_NOT_HOLD,
        to=mail.recipient,
    )
    return outbox.add_claimed(
        conn, escalation_id=earlier, mails=[mail], now=now, lease=svc.lease, step=f"recurred:{ref(later)}"
    )
