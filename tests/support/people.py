"""The people of a soak: owners who answer qmark's forwards by mail, or whose mailboxes do.

:meth:`People.react` reads what reached the relay sink since its last call. For each new
escalation's owner forward it picks what the owner does (:data:`PLANS`, by weight): explain
and, once the explanation was relayed to the executive, send the root-cause writeup; or
nothing but an out-of-office answer; or a bounce (the mailbox is full); or nothing at all.
Each answer is sent a few seconds later through the :class:`~tests.support.mta.Mta`, with
the forward it belongs to, so the history check can hold each escalation to what its owner did.
"""

from __future__ import annotations

import heapq
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.support import soak_mail
from tests.support.history import header
from tests.support.mta import Mta
from tests.support.sink import Received, RelaySink

PLANS = {"explain": 55, "out_of_office": 15, "bounce": 10, "silent": 20}
BUILD: dict[str, Callable[[Received], soak_mail.Outgoing]] = {
    "explanation": soak_mail.explanation,
    "writeup": soak_mail.writeup,
    "out_of_office": soak_mail.out_of_office,
    "bounce": soak_mail.bounce,
}
_KIND = re.compile(r"<qmark\.q\d+\.([a-z_]+)\.")
_SEQ = re.compile(r"\(([\w.]+-\d+)\)")


@dataclass
class People:
    """Owners answering on a schedule; ``quiet`` maps forwards to a machine answer or silence."""

    mta: Mta
    sink: RelaySink
    rng: random.Random
    run: str
    plans: dict[str, str] = field(default_factory=dict)  # forward Message-ID -> plan
    quiet: dict[str, str] = field(default_factory=dict)
    first_forward_at: dict[str, float] = field(default_factory=dict)  # forward Message-ID -> arrival
    _seen: int = 0
    _owner_forward: dict[str, Received] = field(default_factory=dict)  # escalation -> owner forward
    _written: set[str] = field(default_factory=set)
    _due: list[tuple[float, int, str, str]] = field(default_factory=list)  # (when, n, kind, escalation)
    _n: int = 0

    def react(self) -> None:
        """Plan answers to the mail that arrived since the last call; send the answers now due."""
        received = self.sink.messages
        for mail in received[self._seen :]:
            self._arrived(mail)
        self._seen = len(received)
        now = time.time()
        while self._due and self._due[0][0] <= now:
            _, _, kind, escalation = heapq.heappop(self._due)
            forward = self._owner_forward[escalation]
            message_id, raw, mail_from, rcpts = BUILD[kind](forward)
            self.mta.submit(kind, message_id, raw, mail_from, rcpts, about=self._forward_id(forward))

    def waiting(self) -> int:
        """Answers planned but not sent yet."""
        return len(self._due)

    def _arrived(self, mail: Received) -> None:
        kind = _KIND.match(header(mail.data, "Message-ID"))
        escalation = header(mail.data, "X-Qmark-Escalation")
        if kind is None or not escalation:
            return
        if kind.group(1) == "owner_forward" and escalation not in self._owner_forward:
            self._owner_forward[escalation] = mail
            self._plan(escalation, mail)
        elif kind.group(1) == "explanation" and escalation not in self._written:
            self._written.add(escalation)
            self._later("writeup", escalation)

    def _plan(self, escalation: str, forward: Received) -> None:
        forward_id = self._forward_id(forward)
        self.first_forward_at.setdefault(forward_id, forward.at)
        plan = self.rng.choices(list(PLANS), weights=list(PLANS.values()))[0]
        self.plans[forward_id] = plan
        if plan != "explain":
            self.quiet[forward_id] = plan
        if plan in ("out_of_office", "bounce"):
            self._later(plan, escalation)
        elif plan == "explain":
            self._later("explanation", escalation)

    def _later(self, kind: str, escalation: str) -> None:
        self._n += 1
        heapq.heappush(self._due, (time.time() + self.rng.uniform(0.5, 4.0), self._n, kind, escalation))

    def _forward_id(self, forward: Received) -> str:
        """The executive forward an owner forward is about, read from its subject's ``(run-seq)``."""
        found = _SEQ.search(header(forward.data, "Subject"))
        assert found, header(forward.data, "Subject")
        return soak_mail.forward_id(self.run, int(found.group(1).rsplit("-", 1)[1]))
