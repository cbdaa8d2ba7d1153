"""The "Seen before" block of the opening mails, and the mail that tells an owner their fix did not hold.

:func:`seen_before` renders the earlier escalations a new one repeats (``pipeline.decide.related``
picks them), one line each::

    Seen before:
    - Q-12 (closed 2026-11-20, owner Pat): root cause "retry job re-submits settled payments";
      actions 2 of 2 done — same customer

(one line in the mail)
and "" when there are none, so the templates show no block. :func:`render_fix_did_not_hold`
is the mail to the earlier escalation's owner, in that escalation's thread.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pipeline.model.mail import Address, OutgoingMail
from pipeline.model.related import SeenBefore
from pipeline.outbound import mailtext
from pipeline.outbound.compose import Identity
from pipeline.outbound.digest import one_line
from pipeline.outbound.headers import clean_text
from pipeline.outbound.thread import Thread, render_in_thread

_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")
FIX_DID_NOT_HOLD = "fix_did_not_hold"  # the OutgoingMail kind
ROOT_CAUSE_CHARS = 80


def root_cause_line(text: str) -> str:
    """The root cause as shown: its first sentence, one line of at most :data:`ROOT_CAUSE_CHARS`.

    A five-whys writeup opens with a question ("Why charged twice? The capture was retried."):
    the questions before the first answer are kept with it.
    """
    flat = clean_text(text, max_len=ROOT_CAUSE_CHARS * 8)
    ends = [match for match in _SENTENCE_END.finditer(flat) if match.group() != "?"]
    first = flat[: ends[0].end()] if ends else flat
    return one_line(first, limit=ROOT_CAUSE_CHARS)


def seen_line(item: SeenBefore) -> str:
    """``Q-12 (closed 2026-11-20, owner Pat): root cause "…"; actions 2 of 2 done — same customer``."""
    if item.closed_at is not None:
        status = f"closed {item.closed_at.date().isoformat()}"
    else:
        status = item.state.replace("_", " ")
    owner = clean_text(item.owner_name, max_len=100) or "unknown"
    cause = root_cause_line(item.root_cause)
    parts = [f'root cause "{cause}"' if cause else "no root cause yet"]
    if item.actions is not None:
        done, kept = item.actions
        parts.append(f"actions {done} of {kept} done")
    return f"{item.ref} ({status}, owner {owner}): {'; '.join(parts)} — {clean_text(item.why, max_len=200)}"


def seen_before(items: Sequence[SeenBefore]) -> str:
    """The block with a blank line after it, or "" when nothing was seen before."""
    if not items:
        return ""
    return "Seen before:\n" + "".join(f"- {seen_line(item)}\n" for item in items) + "\n"


def render_fix_did_not_hold(
    thread: Thread,
    identity: Identity,
    *,
    earlier: SeenBefore,
    later_ref: str,
    later_owner: Address,
    customer: str,
    complaint_subject: str,
) -> OutgoingMail:
    """To the earlier escalation's owner: ``Q-12's fix did not hold: Q-31 is the same complaint …``."""
    return render_in_thread(
        thread,
        identity,
        FIX_DID_NOT_HOLD,
        thread.owner,
        f"Fix did not hold, {later_ref} came back",
        later_ref=later_ref,
        why=clean_text(earlier.why, max_len=200),
        customer=clean_text(customer, max_len=254) or "(unknown sender)",
        later_owner=mailtext.display(later_owner),
        complaint_subject=mailtext.subject(complaint_subject),
        earlier=seen_line(earlier),
    )
