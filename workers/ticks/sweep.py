"""The sweeper: re-enqueue work whose Redis message was lost (Redis wiped, worker killed).

The database says what is unfinished; Redis is only the doorbell. Every tick
the sweeper asks for pending rows nobody holds a lease on and that were not
enqueued recently, stamps them, and enqueues them again. Running it twice, or
enqueuing a job twice, is harmless: the actors claim rows atomically.
"""

from __future__ import annotations

from datetime import timedelta

from pipeline import log
from pipeline.steps.services import Services
from pipeline.store import messages, outbox
from workers.graph import Graph, ring

logger = log.get(__name__)


def sweep(services: Services, graph: Graph, *, older_than: timedelta) -> tuple[int, int]:
    """One pass; returns how many (messages, mails) were re-enqueued."""
    now = services.clock()
    with services.db.transaction() as session:
        message_ids = messages.list_lost(session, now=now, older_than=older_than)
        mail_ids = outbox.list_lost(session, now=now, older_than=older_than)
        messages.mark_enqueued(session, message_ids=message_ids, now=now)
        outbox.mark_enqueued(session, mail_ids=mail_ids, now=now)
    if message_ids or mail_ids:
        logger.warning("sweeper_requeued", messages=len(message_ids), mails=len(mail_ids))
    ring(lambda: graph.enqueue_process(message_ids), what="process", ids=message_ids)
    ring(lambda: graph.enqueue_send(mail_ids), what="send", ids=mail_ids)
    return len(message_ids), len(mail_ids)
