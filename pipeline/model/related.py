"""Earlier escalations a new one may repeat: what the lookup keys on, what it finds, what mails show.

A new escalation is looked up (:class:`Probe`) by its customer's address, its customer's
domain (never a free-mail domain, :mod:`rules.freemail`) and its route with a short normalised
complaint text (:func:`complaint_key`), among the escalations opened in the :data:`WINDOW`
before it. The store finds :class:`Candidate` rows, ``pipeline.decide.related`` picks the
best, and the opening mails show each as a :class:`SeenBefore`. Pure, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from rules.freemail import is_free_mail

#: How far back the lookup goes: a year, long enough to see a yearly job (renewals, annual
#: invoices) fail again, short enough that a customer's complaints of long ago stay quiet.
WINDOW = timedelta(days=365)
KEY_CHARS = 200  # the stored complaint text (``escalations.complaint_key``), at most

_PREFIX = re.compile(r"^\s*((re|fwd?|aw|wg|tr|sv|vs)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_]{2,}")  # letters only: order and invoice numbers differ between repeats
_STOPWORDS = frozenset(
    """a an and are as at be but by for from has have hello hi i in is it its me my no not of on or
    our please regards so that the this to was we were will with you your thanks thank dear best
    aber auch bei bitte das dem den der die ein eine es für gruss grüße hallo ich ist mit nicht und
    von wir zu au avec bonjour cordialement de des du en est et je la le les mais merci mon ne nous
    pas pour que sur un une vous""".split()  # noqa: SIM905 - a word list reads best as words
)


def complaint_key(subject: str, body: str) -> str:
    """The complaint as a short text to compare: subject (no Re:/Fwd:) and body, unquoted, lower-case
    words without stop words, greetings or numbers, at most :data:`KEY_CHARS` characters."""
    own_lines = (line for line in body.splitlines() if not line.lstrip().startswith(">"))
    text = f"{_PREFIX.sub('', subject)} {' '.join(own_lines)}".lower()
    words = [word for word in _WORD.findall(text) if word not in _STOPWORDS]
    key = ""
    for word in words:
        if len(key) + len(word) + 1 > KEY_CHARS:
            break
        key = f"{key} {word}" if key else word
    return key


def domain_of(address: str) -> str:
    """The lower-case domain of ``address``; "" when it has none."""
    local, at, domain = address.strip().lower().rpartition("@")
    return domain.rstrip(".") if at and local else ""


@dataclass(frozen=True)
class Probe:
    """A new escalation as the lookup sees it; ``domain`` is None for free mail or no address."""

    customer: str
    domain: str | None
    route: str
    complaint_key: str

    @classmethod
    def of(cls, *, customer: str, route: str, subject: str, body: str) -> Probe:
        customer = customer.strip().lower()
        domain = domain_of(customer)
        usable = domain if domain and not is_free_mail(domain) else None
        return cls(customer, usable, route, complaint_key(subject, body))


@dataclass(frozen=True)
class Candidate:
    """An earlier escalation the lookup found by customer, domain or route; numbers grow with the
    opening, so the higher of two is the newer."""

    number: int
    customer: str
    customer_domain: str
    route: str
    complaint_key: str


@dataclass(frozen=True)
class SeenBefore:
    """An earlier escalation as a mail shows it: ``Q-12 (closed 2026-11-20, owner Pat): root cause
    "…"; actions 2 of 2 done — same customer``. ``actions`` is (done, not dropped), None without any."""

    ref: str
    state: str
    closed_at: datetime | None
    owner_name: str
    root_cause: str
    actions: tuple[int, int] | None
    why: str
