"""The tables. Every unit of work is a row with a state; Redis only rings the bell.

``messages`` holds each accepted message byte for byte plus its envelope, and
its processing state (the outbox row for the process step). ``escalations`` and
``events`` are the domain's record and audit trail. ``outbound_mails`` holds
every mail qmark will send, rendered once with a stable Message-ID: the outbox
row for the send step. Portable to PostgreSQL: no SQLite-only SQL.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from pipeline.store.types import UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class MessageRow(Base):
    """One accepted inbound message and where it is in processing."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    channel: Mapped[str] = mapped_column(String(16))
    mail_from: Mapped[str] = mapped_column(String(998))
    rcpt_tos: Mapped[list[str]] = mapped_column(JSON)
    peer: Mapped[str] = mapped_column(String(255))
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    header_message_id: Mapped[str] = mapped_column(String(998), index=True)
    # pending -> processing -> done. outcome/reason say what became of it.
    state: Mapped[str] = mapped_column(String(16), default="pending")
    outcome: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    escalation_id: Mapped[int | None] = mapped_column(ForeignKey("escalations.id"))

    __table_args__ = (
        Index("ix_messages_state_received", "state", "received_at"),
        Index("ix_messages_outcome_channel", "outcome", "channel"),  # /metrics counts
    )


class EscalationNumberRow(Base):
    """Reserves escalation numbers, so mail can be rendered before the escalation's transaction.

    A number reserved by a job that then dies is never used: ids may have gaps.
    """

    __tablename__ = "escalation_numbers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)


class EscalationRow(Base):
    """One escalation ``Q-<id>``: who asked, who owns it, by when, and its state."""

    __tablename__ = "escalations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[str] = mapped_column(String(32))
    executive: Mapped[str] = mapped_column(String(320))
    executive_name: Mapped[str] = mapped_column(String(200))
    owner: Mapped[str] = mapped_column(String(320))
    owner_name: Mapped[str] = mapped_column(String(200))
    route: Mapped[str] = mapped_column(String(100))
    deadline: Mapped[datetime] = mapped_column(UTCDateTime())
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    subject: Mapped[str] = mapped_column(Text)
    customer: Mapped[str] = mapped_column(String(320))
    executive_note: Mapped[str] = mapped_column(Text)
    source_message_id: Mapped[int] = mapped_column(Integer, index=True)
    # The executive's Message-ID (or a hash of the raw bytes): one escalation per mail.
    dedupe_key: Mapped[str] = mapped_column(String(1000), unique=True)
    explained_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    explanation: Mapped[str] = mapped_column(Text, default="")
    # Root-cause sections received so far (key -> text), merged over the owner's mails.
    writeup: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # When the writeup first was complete; the gate (I5) is checked again by the database.
    root_cause_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    extended: Mapped[bool] = mapped_column(Boolean, default=False)
    reopened: Mapped[int] = mapped_column(Integer, default=0)
    # The chase clock (pipeline/decide/chase.py): the current phase started at clock_started_at and
    # runs to deadline; chase_slot slots of it are handled; chase_at is when the next is due
    # (NULL: nothing to chase). A scheduler tick claims due rows by setting chase_lease_until.
    clock_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    clock_business: Mapped[bool] = mapped_column(Boolean, default=False)
    chase_phase: Mapped[int] = mapped_column(Integer, default=0)
    chase_slot: Mapped[int] = mapped_column(Integer, default=0)
    chase_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    chase_lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    paused_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    # Whether the explanation, and the complete writeup, came by the deadline then in force
    # (NULL until they came): the honest statistics' "share within deadline".
    explained_in_time: Mapped[bool | None] = mapped_column(Boolean)
    root_cause_in_time: Mapped[bool | None] = mapped_column(Boolean)
    # The actions the accepted writeup plans (pipeline.model.action_items, as JSON); they become
    # rows of ``actions`` when the escalation closes.
    planned_actions: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list, server_default="[]")
    # The repeat-complaint lookup (pipeline.store.related): the customer's domain, the complaint as a
    # short normalised text (pipeline.model.related.complaint_key), and the earlier escalation whose
    # fix did not hold when this one came back after it ("recurred_after_fix").
    customer_domain: Mapped[str] = mapped_column(String(255), default="", server_default="")
    complaint_key: Mapped[str] = mapped_column(String(200), default="", server_default="")
    recurred_after: Mapped[int | None] = mapped_column(ForeignKey("escalations.id"), index=True)

    __table_args__ = (
        Index("ix_escalations_state_deadline", "state", "deadline"),
        Index("ix_escalations_chase_at", "chase_at"),
        Index("ix_escalations_customer_opened_at", "customer", "opened_at"),
        Index("ix_escalations_customer_domain_opened_at", "customer_domain", "opened_at"),
        Index("ix_escalations_route_opened_at", "route", "opened_at"),
        CheckConstraint("state <> 'closed' OR root_cause_at IS NOT NULL", name="closed_has_root_cause"),
    )


class ActionRow(Base):
    """One corrective or preventive action ``A-<id>``: what, who, by when, and its chase."""

    __tablename__ = "actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    escalation_id: Mapped[int] = mapped_column(ForeignKey("escalations.id"), index=True)
    section: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text)
    line: Mapped[str] = mapped_column(Text)  # as the writeup said it
    owner: Mapped[str] = mapped_column(String(320), index=True)
    due: Mapped[date] = mapped_column(Date)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())  # when it is overdue
    state: Mapped[str] = mapped_column(String(16))  # open -> done | dropped
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    evidence: Mapped[str] = mapped_column(Text, default="")
    dropped_reason: Mapped[str] = mapped_column(Text, default="")
    due_moves: Mapped[int] = mapped_column(Integer, default=0)
    # The chase clock, as for escalations: the phase began at clock_started_at (the close, or the
    # last move of the due date); chase_slot slots of phase chase_phase are handled,
    # chase_at is when the next is due; a scheduler tick claims it with chase_lease_until.
    clock_started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    chase_phase: Mapped[int] = mapped_column(Integer, default=1)
    chase_slot: Mapped[int] = mapped_column(Integer, default=0)
    chase_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    chase_lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_actions_state_due_at", "state", "due_at"),)


class EventRow(Base):
    """One line of an escalation's audit trail."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    escalation_id: Mapped[int] = mapped_column(ForeignKey("escalations.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(String(40), index=True)  # /metrics counts reminders, breaches
    actor: Mapped[str] = mapped_column(String(320))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


class OutboundMailRow(Base):
    """One mail qmark sends, rendered once; the send step's outbox row."""

    __tablename__ = "outbound_mails"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    escalation_id: Mapped[int] = mapped_column(ForeignKey("escalations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    step: Mapped[str] = mapped_column(String(40), default="")
    recipient: Mapped[str] = mapped_column(String(320))
    envelope_from: Mapped[str] = mapped_column(String(320))
    message_id: Mapped[str] = mapped_column(String(998), unique=True)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    # pending -> sending -> sent (-> bounced when a bounce names it), or dead after max attempts.
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        # I3: one mail per escalation, kind, step and recipient, however often a job runs.
        UniqueConstraint("escalation_id", "kind", "step", "recipient", name="uq_outbound_mails_step"),
        Index("ix_outbound_mails_state_created", "state", "created_at"),
        Index("ix_outbound_mails_state_kind", "state", "kind"),  # /metrics counts
    )


class ImapMailboxRow(Base):
    """Progress and leadership for one polled IMAP folder: (UIDVALIDITY, last UID), never \\Seen.

    ``key`` names the folder without secrets (``imaps://host:993/user/INBOX``). One poller
    holds the lease at a time; progress is only written by the holder, in the transaction
    that stores the messages it fetched.
    """

    __tablename__ = "imap_mailboxes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(1000), unique=True)
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    holder: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_ingest_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ingested: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class HeartbeatRow(Base):
    """The last sign of life of one process of one role (worker, scheduler, smtp, imap, http)."""

    __tablename__ = "heartbeats"

    role: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200), primary_key=True)
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DigestRow(Base):
    """One daily digest: claimed once per day (unique ``day``), then sent or failed."""

    __tablename__ = "digests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[str] = mapped_column(String(10), unique=True)  # YYYY-MM-DD in [service] timezone
    state: Mapped[str] = mapped_column(String(16), default="sending")  # sending -> sent | failed
    recipients: Mapped[list[str]] = mapped_column(JSON, default=list)
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
