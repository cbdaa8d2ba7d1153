"""Every corpus message through the real process step: no crash, no escalation, an outcome each."""

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


def test_no_corpus_message_crashes_or_becomes_an_escalation_and_each_gets_an_outcome(
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
    for path in files:
        raw = path.read_bytes()
        envelope = Envelope(
            envelope_sender(raw), ("escalations@acme.test",), "corpus", datetime.now(UTC), "smtp"
        )
        message_id = store_one(app.services.db, raw, envelope)
        assert process_message(app.services, message_id) == [], path
    results = rows(database_url, "select state, outcome, reason from messages")
    assert len(results) == len(files)
    assert all(state == "done" and outcome and reason for state, outcome, reason in results)
    outcomes = Counter(outcome for _, outcome, _ in results)
    assert outcomes["escalation"] == 0
    assert rows(database_url, "select count(*) from escalations")[0][0] == 0
    print("corpus outcomes:", dict(outcomes))


def test_every_bounce_and_auto_reply_in_the_bounce_corpora_is_machine_mail(corpora, database_url, tmp_path):
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
    for path in files:
        envelope = Envelope("", ("escalations@acme.test",), "corpus", datetime.now(UTC), "smtp")
        process_message(app.services, store_one(app.services.db, path.read_bytes(), envelope))
    outcomes = Counter(r[0] for r in rows(database_url, "select outcome from messages"))
    assert outcomes == {"machine": len(files)}, outcomes
