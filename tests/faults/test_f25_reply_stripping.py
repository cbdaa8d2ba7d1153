"""F25: reply stripping on real replies: the agreed accuracy, and quoted text never counts as the owner's.

Injected by the public reply corpora read in place (talon's standard replies with
their expected text, crisp-email-reply-parser, mail-parser-reply and JetBrains'
email-parser test mails). Each corpus reply also gets, quoted below it ("On ...
wrote:" and ``>`` lines), another person's complete explanation and root-cause
writeup; a sample, with the explanation quoted below, is sent as the owner's reply to a
live escalation through the real process and send steps, the database and the relay sink.

Asserted: talon's exact share stays at or above the agreed floor (12/12 when written,
see README and ``bench/quotes_accuracy.py``; one regression fails); no corpus reply
yields a quoted line; the quoted explanation and writeup never become the owner's
words: not the stored explanation, not the executive's mail, not the writeup, and
nothing closes on them (I5). One exception is by design and tested in
tests/unit/test_rootcause.py: when the owner typed no section at all, a complete writeup
quoted whole ("Forwarding the writeup Sam wrote, see below.") is read from the quotes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.inbound.quotes import latest_reply
from tests.conftest import mail_fixture
from tests.integration.test_replies import DANA, PAT, explained, make_life
from tests.support import talon
from tests.support.db import rows
from tests.support.replies import WRITEUP, body_of, reply_to

# The contract share reached when this test was written is 12/12 = 1.00; one regression fails.
MIN_EXACT_SHARE = 0.95
MARKER = "load balancer"  # in the quoted words only, never in a corpus reply
QUOTED_EXPLANATION = (
    "The outage came from the load balancer dropping every second request after a bad config push. "
    "We rolled the push back within the hour and added a canary for each load balancer change."
)
QUOTED_WRITEUP = "\n".join(
    f"{line} The load balancer was at fault here, as the review showed." if line and line[0] != "-" else line
    for line in WRITEUP.splitlines()
)


def quoted_below(text: str, *, writeup: bool = True) -> str:
    """``text`` with Sam's explanation (and writeup) quoted below it, as mail clients quote."""
    words = f"{QUOTED_EXPLANATION}\n\n{QUOTED_WRITEUP}" if writeup else QUOTED_EXPLANATION
    quoted = "\n".join(f"> {line}" if line else ">" for line in words.split("\n"))
    attribution = "On Mon, 23 Nov 2026 at 17:05, Sam Manager <sam.manager@acme.test> wrote:"
    return f"{text.rstrip()}\n\n{attribution}\n{quoted}\n"


def sections(writeup: object) -> str:
    """The stored writeup (a JSON text on SQLite, a dict on PostgreSQL) as one text."""
    return json.dumps(json.loads(writeup) if isinstance(writeup, str) else writeup or {})


def corpus_replies(corpora: Path) -> list[tuple[str, str]]:
    """(name, text) of every corpus reply: talon, crisp, mail-parser-reply, JetBrains."""
    replies = [(p.name, body) for p in talon.standard_replies(corpora) if (body := talon.plain_body(p))]
    for folder in (
        corpora / "crisp-email-reply-parser" / "test" / "fixtures",
        corpora / "mail-parser-reply" / "test" / "emails",
    ):
        replies += [(p.name, p.read_text(errors="replace")) for p in sorted(folder.glob("*.txt"))]
    jetbrains = corpora / "jetbrains-email-parser" / "src" / "test" / "resources" / "testEmls"
    replies += [(p.name, body) for p in sorted(jetbrains.rglob("*.eml")) if (body := talon.plain_body(p))]
    return replies


def test_f25_talon_standard_replies_match_the_expected_reply_text(
    corpora: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given talon's real replies and their expected text ("Hello" unless X_reply_text exists)
    # When the new text is extracted from each
    result = talon.score(corpora, latest_reply)
    assert result.total == 12

    # Then (almost) all match; talon's text as is differs only where it keeps a signature
    share = result.exact / result.total
    with capsys.disabled():
        print(
            f"\ntalon standard_replies: exact {result.exact}/{result.total} = {share:.1%} (qmark contract); "
            f"{result.as_is}/{result.total} against talon's text as is (it keeps signatures)"
        )
    assert share >= MIN_EXACT_SHARE, result.misses
    assert result.as_is >= result.exact - 2


def test_f25_no_corpus_reply_yields_a_quoted_line_or_the_words_quoted_below_it(corpora: Path) -> None:
    replies = corpus_replies(corpora)
    assert len(replies) > 200
    for name, text in replies:
        assert MARKER not in text, name
        for got in (latest_reply(text), latest_reply(quoted_below(text))):
            assert not any(line.lstrip().startswith(">") for line in got.splitlines()), name
            assert MARKER not in got, name


@pytest.mark.integration
def test_f25_quoted_words_below_corpus_replies_never_become_the_owners_explanation(
    corpora, database_url, redis_url, relay_sink, tmp_path
):
    life = make_life(database_url, redis_url, relay_sink, tmp_path)
    sample = corpus_replies(corpora)[::8]  # every eighth: all four corpora, a few dozen escalations
    forward = mail_fixture("gmail-forward.eml")
    for number, (name, text) in enumerate(sample, start=1):
        # Given a live escalation Q-n, When Pat answers with a corpus reply quoting Sam's words below it
        life.deliver(forward.replace(b"@mail.gmail.com>", f"-{number}@mail.gmail.com>".encode(), 1))
        to_pat = life.by_recipient(2)[PAT]
        life.deliver(reply_to(to_pat, sender=PAT, text=quoted_below(text, writeup=False), quote=False))
        # Then whatever Pat's own words are taken for, Sam's quoted words are not
        [(state, explanation, writeup)] = rows(
            database_url, f"select state, explanation, writeup from escalations where id = {number}"
        )
        assert MARKER not in (explanation or "") and sections(writeup) == "{}" and state != "closed", name
        for mail in life.new_mail():
            assert MARKER not in body_of(mail.data), (name, mail.rcpt_tos)
    assert len(sample) >= 25
    explained_by_own_words = rows(
        database_url, "select count(*) from escalations where state = 'awaiting_root_cause'"
    )
    print(f"\n{len(sample)} corpus replies, {explained_by_own_words[0][0]} taken as an explanation")
    assert explained_by_own_words[0][0] >= 5  # the own words do count, only the quoted ones never


@pytest.mark.integration
def test_f25_a_writeup_quoted_below_the_owners_own_never_adds_to_the_root_cause(
    database_url, redis_url, relay_sink, tmp_path
):
    life = make_life(database_url, redis_url, relay_sink, tmp_path)
    forward = explained(life)
    # When Pat sends the writeup with a different one (Sam's) quoted below it
    life.deliver(reply_to(forward, sender=PAT, text=quoted_below(WRITEUP), quote=False))
    # Then Q-1 closes on Pat's writeup only; the executive's summary holds none of Sam's words
    summary = life.by_recipient(2)[DANA]
    [(state, writeup)] = rows(database_url, "select state, writeup from escalations")
    assert state == "closed"
    assert "idempotency key" in sections(writeup) and MARKER not in sections(writeup)
    assert MARKER not in body_of(summary)
