"""``qmark status``'s report: whether qmark is healthy, and the numbers behind it, as plain data.

The verdict is ``failing`` when mail cannot flow (database or Redis unreachable, the
scheduler stalled, no worker alive), ``degraded`` when it flows but something needs
ops (dead letters, mail that failed or bounced or was quarantined in the last day, a
backlog older than five minutes, an IMAP folder lagging), else ``ok`` — always with the reasons. Then:
queues (ready, delayed, dead; oldest unprocessed), processes alive by role (their
heartbeats), the scheduler's and each IMAP folder's lag, escalations open, overdue
and awaiting the root cause, the action ledger (overdue actions, most overdue first, and the
share done by their due date) and the honest statistics. Overdue actions are listed, never a
reason for the verdict: like an overdue escalation they are people's lateness, not a fault of
qmark's, which is what the exit code says. ``workers/cli/status.py`` prints it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline.model.escalation import State
from pipeline.ops.actions import ledger
from pipeline.store import escalations, heartbeats, mailboxes, reports
from pipeline.store.stats import describe_stats, honest_stats
from workers.bootstrap import App
from workers.ops.health import Health
from workers.ops.queues import queue_depths
from workers.redis_client import redis_client

ALIVE = timedelta(seconds=60)  # a process whose last heartbeat is older is counted as gone
BACKLOG = timedelta(minutes=5)


def report(app: App, *, now: datetime | None = None) -> dict[str, Any]:
    """Everything ``qmark status`` shows, as plain data (the ``--json`` output)."""
    now = now or datetime.now(UTC)
    client = redis_client(app.settings.storage.redis_url)
    failing = Health(app=app, redis_client=client).problems()
    degraded: list[str] = []
    queues: dict[str, Any] = {}
    try:
        queues = queue_depths(client)
    except Exception as error:  # already named by the readiness checks
        queues = {"error": str(error).splitlines()[0][:200]}
    out: dict[str, Any] = {"queues": queues}
    try:
        with app.services.db.read() as session:
            out["processes"] = _processes(heartbeats.latest(session), now)
            out["backlog"] = _backlog(reports.backlog(session, now=now), now)
            out["imap"] = _imap(mailboxes.list_all(session), now)
            out["escalations"] = _escalations(escalations.counts(session, now=now), now)
            stats = honest_stats(session, now=now)
            out["statistics"] = describe_stats(stats)
        out["actions"] = ledger(app.services.db, now=now)
    except Exception as error:  # the database check above names it
        out["error"] = str(error).splitlines()[0][:200]
    else:
        if not out["processes"].get("worker", {}).get("alive"):
            failing.append("workers: none alive (no heartbeat in the last minute); start `qmark worker`")
        degraded += _degraded(out, queues)
    verdict = "failing" if failing else "degraded" if degraded else "ok"
    return {"verdict": verdict, "reasons": failing + degraded, "at": now.isoformat(), **out}


def _processes(beats: dict[str, list[tuple[str, datetime]]], now: datetime) -> dict[str, Any]:
    roles: dict[str, Any] = {}
    for role, found in beats.items():
        alive = [holder for holder, at in found if now - at <= ALIVE]
        freshest = found[0][1] if found else None
        roles[role] = {
            "alive": len(alive),
            "last_beat_seconds": round((now - freshest).total_seconds()) if freshest else None,
        }
    return roles


def _backlog(found: reports.Backlog, now: datetime) -> dict[str, Any]:
    oldest = found.oldest_unprocessed
    return {
        "oldest_unprocessed_seconds": round((now - oldest).total_seconds()) if oldest else None,
        "mails_failed_last_day": found.mails_failed_last_day,
        "quarantined_last_day": found.quarantined_last_day,
    }


def _imap(boxes: list[Any], now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "mailbox": box.key,
            "lag_seconds": round((now - box.last_poll_at).total_seconds()) if box.last_poll_at else None,
            "ingested": box.ingested,
            "last_error": box.last_error,
            "polled_by": box.holder,
        }
        for box in boxes
    ]


def _escalations(found: dict[str, Any], now: datetime) -> dict[str, Any]:
    by_state = {state.value: int(found["by_state"].get(state.value, 0)) for state in State}
    oldest = found["oldest_overdue_deadline"]
    return {
        "open": sum(n for state, n in by_state.items() if state != State.CLOSED.value),
        "overdue": found["overdue"],
        "oldest_overdue_seconds": round((now - oldest).total_seconds()) if oldest else None,
        "awaiting_root_cause": by_state[State.AWAITING_ROOT_CAUSE.value],
        "paused": found["paused"],
        "by_state": by_state,
    }


def _degraded(out: dict[str, Any], queues: dict[str, Any]) -> list[str]:
    reasons: list[str] = []
    dead = sum(q.get("dead", 0) for q in queues.values() if isinstance(q, dict))
    if dead:
        reasons.append(f"dead letters: {dead} job(s) failed for good; see `qmark dead-letters list`")
    backlog = out["backlog"]
    if backlog["mails_failed_last_day"]:
        reasons.append(
            f"delivery: {backlog['mails_failed_last_day']} mail(s) refused or bounced in the last day; "
            "see `qmark dead-letters list` and the escalations' history"
        )
    if backlog["quarantined_last_day"]:
        reasons.append(
            f"quarantine: {backlog['quarantined_last_day']} message(s) held in the last day; "
            "see `qmark quarantine list`"
        )
    age = backlog["oldest_unprocessed_seconds"]
    if age is not None and age > BACKLOG.total_seconds():
        reasons.append(f"backlog: a stored message has waited {age} s; are the workers keeping up?")
    return reasons
