"""The task graph in one readable place.

    stored message ──process──► parse → classify → open escalation ─► send its mails at once
                                                                      │ (relay refused for now)
                                                                      └──send──► retried with back-off
    scheduler tick ──chase──► an escalation's due slot: reminder, or breach up the ladder ─► its mails at once
    scheduler tick ──chase_actions──► an action's due slot: reminder, or overdue up the ladder ─► its mails
    sweeper: re-enqueues any stored message or unsent mail whose Redis message was lost

One hop per escalation, on purpose: each Dramatiq hop costs about 2 ms of CPU.
The process job commits the escalation together with its mails, already
claimed for itself, and sends them right after the commit; only mail the relay
defers goes through the ``send`` queue. Jobs carry only ids; the rows in the
database are the work (transactional outbox), and every actor is safe to run
twice.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import dramatiq

from pipeline import log
from pipeline.outbound.delivery import Transport
from pipeline.steps.action_chase import chase_actions
from pipeline.steps.chase import chase_many
from pipeline.steps.process import process_messages
from pipeline.steps.send import deliver_mails, send_claimed
from pipeline.steps.services import Services
from pipeline.store.outbox import ClaimedMail

logger = log.get(__name__)

# Retries are for passing faults (database busy, relay 4xx). The database's own
# attempt counter quarantines a message that keeps failing, so nothing loops forever.
# A job is interrupted a second before its lease ends, so no other worker can take over
# a row that is still being worked on.
PROCESS_OPTIONS: dict[str, Any] = {"max_retries": 3, "min_backoff": 200, "max_backoff": 5_000}
SEND_OPTIONS: dict[str, Any] = {"max_retries": 6, "min_backoff": 1_000, "max_backoff": 60_000}
# A lost or failed chase job needs no retry: its lease runs out and the next tick claims it again.
CHASE_OPTIONS: dict[str, Any] = {"max_retries": 2, "min_backoff": 500, "max_backoff": 5_000}


@dataclass(frozen=True)
class Runtime:
    """What actors need inside a worker process."""

    services: Services
    transport: Callable[[], Transport]


@dataclass(frozen=True)
class Graph:
    """The actors, bound to one broker, and helpers to ring them."""

    process: dramatiq.Actor[[list[int]], None]
    send: dramatiq.Actor[[list[int]], None]
    chase: dramatiq.Actor[[list[int]], None]
    chase_actions: dramatiq.Actor[[list[int]], None]

    def enqueue_process(self, message_ids: Iterable[int], *, per_job: int = 8) -> None:
        """Messages committed together travel together, a few per job.

        Under a burst this divides the broker's cost per message (about 2 ms of
        CPU per job); at low volume every job holds one message.
        """
        ids = list(message_ids)
        for start in range(0, len(ids), per_job):
            self.process.send(ids[start : start + per_job])

    def enqueue_send(self, mail_ids: Iterable[int], *, per_job: int = 20) -> None:
        """One send job for the mails of one step (the owner's forward and the ack together)."""
        ids = list(mail_ids)
        for start in range(0, len(ids), per_job):
            self.send.send(ids[start : start + per_job])

    def enqueue_chase(self, numbers: Iterable[int], *, per_job: int = 20) -> None:
        """Chase jobs for escalations the tick claimed."""
        ids = list(numbers)
        for start in range(0, len(ids), per_job):
            self.chase.send(ids[start : start + per_job])

    def enqueue_chase_actions(self, numbers: Iterable[int], *, per_job: int = 20) -> None:
        """Chase jobs for actions the tick claimed."""
        ids = list(numbers)
        for start in range(0, len(ids), per_job):
            self.chase_actions.send(ids[start : start + per_job])


def build(broker: dramatiq.Broker, runtime: Callable[[], Runtime], *, lease: float = 120.0) -> Graph:
    """Declare the actors on ``broker``; ``runtime`` is looked up when a job runs."""
    time_limit = max(1_000, int(lease * 1000) - 1_000)

    def process_job(message_ids: list[int]) -> None:
        rt = runtime()
        for claimed in process_messages(rt.services, message_ids):
            send_now(rt, claimed)

    def send_job(mail_ids: list[int]) -> None:
        rt = runtime()
        deliver_mails(rt.services, rt.transport(), mail_ids)

    def chase_job(numbers: list[int]) -> None:
        rt = runtime()
        send_now(rt, chase_many(rt.services, numbers))

    def chase_actions_job(numbers: list[int]) -> None:
        rt = runtime()
        send_now(rt, chase_actions(rt.services, numbers))

    def send_now(rt: Runtime, claimed: list[ClaimedMail]) -> None:
        """Send what a step queued for this worker; what the relay defers goes to the send queue."""
        if claimed:
            deferred = send_claimed(rt.services, rt.transport(), claimed)
            ring(functools.partial(graph.enqueue_send, deferred), what="send", ids=deferred)

    def actor(fn: Callable[[list[int]], None], name: str, queue: str, options: dict[str, Any]) -> Any:
        options = {**options, "time_limit": time_limit}
        return dramatiq.Actor(
            fn, broker=broker, actor_name=name, queue_name=queue, priority=0, options=options
        )

    graph = Graph(
        process=actor(process_job, "process_messages", "process", PROCESS_OPTIONS),
        send=actor(send_job, "send_mails", "send", SEND_OPTIONS),
        chase=actor(chase_job, "chase_escalations", "chase", CHASE_OPTIONS),
        chase_actions=actor(chase_actions_job, "chase_actions", "chase", CHASE_OPTIONS),
    )
    return graph


def ring(enqueue: Callable[[], None], *, what: str, ids: Sequence[int]) -> Exception | None:
    """Enqueue after commit; if Redis is unavailable the sweeper will ring later, so only log.

    The one way every caller rings the broker. Returns None when the job was enqueued (or
    there was nothing to enqueue), else the error that left it to the sweeper.
    """
    if not ids:
        return None
    try:
        enqueue()
    except Exception as error:
        logger.warning("enqueue_failed_sweeper_will_retry", queue=what, ids=list(ids)[:20], error=str(error))
        return error
    return None
