"""F20: every message of the public corpora goes through the real process step without a crash.

Injected by storing each of the 1,200+ corpus files (cpython-test_email, rt-emails,
spamscope-mail-parser, jetbrains-email-parser, discourse-forwards, talon, the bounce
corpora: odd charsets such as Windows-874, broken MIME, bare CR line endings) with the
envelope sender its headers imply, then running ``process_message`` on it against the
real database. None of them comes from a listed, authenticated executive.

Invariants: I1 (every message is stored once, byte for byte), I2 (each reaches ``done``
with an outcome and a reason: a parse failure is quarantined with its reason, not lost),
and no corpus message becomes an escalation.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from pipeline.model.mail import Envelope
from pipeline.steps.process import process_message
from tests.support.corpora import corpus_files, envelope_sender
from tests.support.db import rows
from tests.support.runners import qmark_env, settings_from

pytestmark = pytest.mark.integration


def test_f20_no_corpus_message_crashes_or_becomes_an_escalation_and_each_gets_an_outcome(
    corpora, database_url, tmp_path
):
    from workers.bootstrap import build
    from workers.roles.group_commit import store_one

    env = qmark_env(
        database_url=database_url, redis_url="redis://127.0.0.1:1/0", outbound_url=f"maildir:{tmp_path}"
    )
    app = build(settings=settings_from(env))
    files = corpus_files(corpora)
    assert len(files) > 1000
    stored = {}
    for path in files:
        raw = path.read_bytes()
        envelope = Envelope(
            envelope_sender(raw), ("escalations@acme.test",), "corpus", datetime.now(UTC), "smtp"
        )
        message_id = store_one(app.services.db, raw, envelope)
        stored[message_id] = raw
        assert process_message(app.services, message_id) == [], path
    results = rows(database_url, "select id, raw, state, outcome, reason from messages")
    assert len(results) == len(files)
    assert {row[0]: bytes(row[1]) for row in results} == stored  # every message kept byte for byte
    assert all(state == "done" and outcome and reason for _, _, state, outcome, reason in results)
    outcomes = Counter(outcome for *_, outcome, _ in results)
    assert outcomes["escalation"] == 0
    assert rows(database_url, "select count(*) from escalations")[0][0] == 0
    print("corpus outcomes:", dict(outcomes))
