"""F19: every real bounce and auto-reply in the corpora, replayed, is machine mail and is never answered.

Injected by replaying ``sisimai-set-of-emails/maildir/{bsd,dos,mac}`` (bounces from ~90
MTAs, the RFC 3834 vacation replies ``rfc3834-*``, LF, CRLF and CR-only line endings) and
``flufl-bounce`` through the real store and process steps, with the empty envelope
sender (``<>``) a bounce has. A second test delivers sisimai and flufl-bounce to the
owner's signed reply address of a live Q-1 (where bounces of qmark's mail arrive), once
with the original senders and once with From rewritten to the owner, as the owner's own
auto-responder would send it.

Invariants: I2 (each gets an outcome: machine mail), I4 (nothing is mailed: no
escalation, no outgoing mail, the relay sink receives nothing), and a live escalation's
state, owner, deadline, explanation and writeup do not change.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime

import pytest

from pipeline.model.mail import Envelope
from pipeline.steps.process import process_message
from tests.conftest import mail_fixture
from tests.integration.test_replies import PAT, make_life
from tests.support.corpora import corpus_files, envelope_sender
from tests.support.db import rows, scalar
from tests.support.replies import reply_address
from tests.support.runners import qmark_env, settings_from

pytestmark = pytest.mark.integration

_FROM = re.compile(rb"^From:[^\n]*\n(?:[ \t][^\n]*\n)*", re.M | re.I)


def as_owner(raw: bytes) -> bytes:
    """The message with its From header replaced by the owner's (in the header block only)."""
    head, sep, body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
    head += b"\n"
    if _FROM.search(head):
        head = _FROM.sub(b"From: Pat Owner <pat.owner@acme.test>\n", head, count=1)
    else:
        head += b"From: Pat Owner <pat.owner@acme.test>\n"
    return head.rstrip(b"\n") + b"\n" + sep + body


def test_f19_every_bounce_and_auto_reply_in_the_bounce_corpora_is_machine_mail(
    corpora, database_url, tmp_path
):
    """Replayed with the empty envelope sender a bounce really has, they are all machine mail."""
    from workers.bootstrap import build
    from workers.roles.group_commit import store_one

    env = qmark_env(
        database_url=database_url, redis_url="redis://127.0.0.1:1/0", outbound_url=f"maildir:{tmp_path}"
    )
    app = build(settings=settings_from(env))
    folders = [corpora / "sisimai-set-of-emails" / "maildir" / sub for sub in ("bsd", "dos", "mac")]
    files = [p for folder in folders for p in sorted(folder.iterdir()) if p.is_file()]
    files += [p for p in corpus_files(corpora / "flufl-bounce") if p.suffix == ".txt"]
    assert sum(p.name.startswith("rfc3834-") for p in files) >= 8  # the RFC 3834 vacation replies
    for path in files:
        envelope = Envelope("", ("escalations@acme.test",), "corpus", datetime.now(UTC), "smtp")
        process_message(app.services, store_one(app.services.db, path.read_bytes(), envelope))
    outcomes = Counter(r[0] for r in rows(database_url, "select outcome from messages"))
    assert outcomes == {"machine": len(files)}, outcomes
    assert scalar(database_url, "select count(*) from escalations") == 0
    assert scalar(database_url, "select count(*) from outbound_mails") == 0
    assert not any(p.is_file() for p in tmp_path.rglob("*") if p.parent.name in {"new", "cur", "tmp"})


@pytest.mark.parametrize("sender", ["original", "owner"])
def test_f19_every_bounce_and_auto_reply_replayed_to_a_live_escalation_sends_nothing_and_changes_nothing(
    sender, corpora, database_url, redis_url, relay_sink, tmp_path
):
    life = make_life(database_url, redis_url, relay_sink, tmp_path)
    life.deliver(mail_fixture("gmail-forward.eml"))
    forward = next(m.data for m in life.new_mail(2) if m.rcpt_tos == (PAT,))
    token_address = reply_address(forward)
    state = "select state, owner, deadline, explanation, writeup from escalations"
    before = rows(database_url, state)
    files = [p for name in ("sisimai-set-of-emails", "flufl-bounce") for p in corpus_files(corpora / name)]
    assert len(files) > 800
    outcomes: Counter[str] = Counter()
    for path in files:
        raw = path.read_bytes()
        mail_from = envelope_sender(raw)
        if sender == "owner":
            raw = as_owner(raw)
            mail_from = mail_from and PAT
        message_id = life.deliver(raw, mail_from=mail_from, rcpts=(token_address,))
        outcomes[life.outcome(message_id)[0]] += 1
    print(f"\n{sender}: {len(files)} replayed -> {dict(outcomes)}")
    assert life.new_mail() == [], "qmark answered machine mail"
    assert rows(database_url, state) == before
    assert scalar(database_url, "select count(*) from outbound_mails") == 2
    assert sum(outcomes.values()) == len(files)
    assert "reply" not in outcomes, "machine mail was taken for a person's reply"
