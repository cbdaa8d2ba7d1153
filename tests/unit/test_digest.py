"""The daily digest, rendered from hand-built facts: counts, order, one-line root causes, caps, safety."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pipeline.config.load import load_settings
from pipeline.model.digest import Breach, ClosedItem, DigestFacts, OpenItem, root_cause_key
from pipeline.model.ids import parse_message_id, well_formed_message_id
from pipeline.model.mail import Address
from pipeline.outbound.compose import Identity
from pipeline.outbound.digest import MAX_LINES, one_line, render_digest
from rules.schema import RcaSection
from tests.support.mailcheck import body_text, header_names, parse

IDENTITY = Identity(
    from_address=Address("escalations@acme.test", "qmark"),
    reply_local="escalations",
    domain="acme.test",
    secret=b"unit-test-secret-0123456789abcdef",
)
OPS = Address("ops@acme.test")
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # 10:00 in Berlin
PAT = Address("pat.owner@acme.test", "Pat Owner")
LEE = Address("lee.logistics@acme.test", "Lee Logistics")
STATS = ["last 30 days: 5 escalations opened", "overdue now: 2 of 5 open escalations (40%)"]
ROOT_CAUSE = (
    "Captures carried no idempotency key, so a gateway retry charged cards twice.\n"
    "Why? The client library predates idempotency keys. Why not caught? No test covered a timeout "
    "during capture, and the staging gateway never times out."
)


def item(number: int, *, late: timedelta, state: str = "awaiting_explanation", **kw: object) -> OpenItem:
    fields: dict[str, object] = {"subject": f"Complaint {number}", "owner": PAT, "state": state}
    fields.update(kw)
    return OpenItem(ref=f"Q-{number}", deadline=NOW - late, **fields)  # type: ignore[arg-type]


FACTS = DigestFacts(
    now=NOW,
    since=NOW - timedelta(hours=24),
    open=(
        item(3, late=-timedelta(hours=3)),  # due in 3 hours
        item(2, late=timedelta(minutes=30), state="awaiting_root_cause", owner=LEE),
        item(1, late=timedelta(hours=5, minutes=20)),
        item(4, late=timedelta(hours=8), paused=True),  # paused: not overdue
        item(5, late=timedelta(days=2), state="awaiting_approval"),  # with the executive: not overdue
    ),
    breaches=(
        Breach(
            "Q-1", "Complaint 1", PAT, NOW - timedelta(hours=1), "breached", "explanation", 1, "sam@acme.test"
        ),
        Breach("Q-1", "Complaint 1", PAT, NOW - timedelta(minutes=5), "ladder_top_reached", "explanation"),
    ),
    closed=(ClosedItem("Q-9", "Charged twice", PAT, NOW - timedelta(hours=2), one_line(ROOT_CAUSE)),),
)


def render(facts: DigestFacts = FACTS, **kw: object):
    args: dict[str, object] = {
        "stats_lines": STATS,
        "identity": IDENTITY,
        "recipient": OPS,
        "day": "2026-11-24",
        "timezone": "Europe/Berlin",
    }
    args.update(kw)
    return render_digest(facts, **args)  # type: ignore[arg-type]


def section(body: str, title: str) -> list[str]:
    """The lines under the heading that starts with ``title``, up to the next blank line."""
    lines = body.split("\n")
    start = next(n for n, line in enumerate(lines) if line.startswith(title))
    end = next((n for n in range(start + 1, len(lines)) if not lines[n]), len(lines))
    return lines[start + 1 : end]


# -- what it says -----------------------------------------------------------------------------------


def test_the_subject_counts_open_and_overdue_escalations():
    assert parse(render())["Subject"] == "qmark digest 2026-11-24: 5 open, 2 overdue"


def test_overdue_comes_first_most_overdue_first_with_how_late():
    body = body_text(render())
    assert body.index("Overdue: 2") < body.index("Open, not overdue: 3") < body.index("Breaches since")
    assert section(body, "Overdue") == [
        "- Q-1  5h 20m late  Pat Owner (explanation): Complaint 1",
        "- Q-2  30m late  Lee Logistics (root cause): Complaint 2",
    ]


def test_open_lists_the_rest_soonest_deadline_first_then_paused_then_awaiting_approval():
    assert section(body_text(render()), "Open, not overdue") == [
        "- Q-3  due Tue 24 Nov 13:00  Pat Owner (explanation): Complaint 3",
        "- Q-4  paused  Pat Owner (explanation): Complaint 4",
        "- Q-5  awaiting approval  Pat Owner: Complaint 5",
    ]


def test_breaches_name_the_phase_and_who_was_chased():
    lines = section(body_text(render()), "Breaches since")
    assert lines == [
        "- Q-1  Tue 24 Nov 09:00  Pat Owner missed the explanation deadline; sam@acme.test (level 1) chased: "
        "Complaint 1",
        "- Q-1  Tue 24 Nov 09:55  top of the ladder reached, nobody left to chase: Complaint 1",
    ]


def test_each_closed_escalation_carries_its_root_cause_in_one_line():
    lines = section(body_text(render()), "Closed since")
    assert lines == [
        "- Q-9  Pat Owner: Charged twice",
        "    root cause: Captures carried no idempotency key, so a gateway retry charged cards twice. "
        "Why? The client library predates idempotency keys.",
    ]


def test_the_statistics_lines_close_the_digest():
    body = body_text(render())
    assert section(body, "Statistics") == [f"- {line}" for line in STATS]
    assert "(no statistics)" in body_text(render(stats_lines=[]))


def test_the_summary_says_the_period_and_its_counts():
    body = body_text(render())
    assert body.startswith("qmark digest for 2026-11-24, as of Tue 24 Nov 2026 10:00 CET.\n")
    assert "5 open, 2 overdue, 1 paused; 2 breaches and 1 closed since Mon 23 Nov 10:00 CET." in body


def test_an_empty_day_says_none_everywhere():
    empty = DigestFacts(now=NOW, since=NOW - timedelta(hours=24))
    mail = render(empty)
    assert parse(mail)["Subject"] == "qmark digest 2026-11-24: 0 open, 0 overdue"
    assert body_text(mail).count("- none") == 4


def test_every_list_is_capped_with_how_many_more():
    many = DigestFacts(
        now=NOW,
        since=NOW - timedelta(hours=24),
        open=tuple(item(n, late=timedelta(minutes=n)) for n in range(1, MAX_LINES + 6)),
    )
    lines = section(body_text(render(many)), "Overdue")
    assert len(lines) == MAX_LINES + 1
    assert lines[0].startswith(f"- Q-{MAX_LINES + 5} ")  # the most overdue first
    assert lines[-1] == "- and 5 more"
    assert parse(render(many))["Subject"].endswith(f"{MAX_LINES + 5} open, {MAX_LINES + 5} overdue")


# -- the one-line root cause ------------------------------------------------------------------------


def test_one_line_keeps_whole_sentences_that_fit_in_140_characters():
    line = one_line(ROOT_CAUSE)
    assert "\n" not in line and len(line) <= 140
    assert line.endswith("predates idempotency keys.")


def test_one_line_cuts_a_long_first_sentence_at_a_word():
    line = one_line("word " * 60)
    assert len(line) <= 140 and line.endswith("word…")
    assert one_line("  short\n\nand sweet  ") == "short and sweet"


def test_the_root_cause_section_is_found_by_key_then_by_title_else_the_first():
    def rca(key: str, title: str, *aliases: str) -> RcaSection:
        return RcaSection(key=key, title=title, aliases=aliases, min_words=1)

    assert root_cause_key([rca("impact", "Impact"), rca("root_cause", "Why")]) == "root_cause"
    assert root_cause_key([rca("impact", "Impact"), rca("why", "Why", "Root-Cause")]) == "why"
    assert root_cause_key([rca("impact", "Impact"), rca("rca", "Root cause analysis")]) == "rca"
    assert root_cause_key([rca("summary", "Summary"), rca("fix", "Fix")]) == "summary"
    assert root_cause_key([]) == "root_cause"


# -- the headers ------------------------------------------------------------------------------------


def test_the_digest_is_from_qmark_to_the_recipient_auto_generated_and_without_a_reply_token():
    mail = render()
    message = parse(mail)
    assert message["From"] == "qmark <escalations@acme.test>" and message["To"] == "ops@acme.test"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["X-Auto-Response-Suppress"] == "All"
    assert "reply-to" not in header_names(mail) and "x-qmark-escalation" not in header_names(mail)
    assert (mail.kind, mail.recipient, mail.envelope_from) == (
        "digest",
        "ops@acme.test",
        IDENTITY.from_address.email,
    )


def test_the_message_id_is_qmarks_but_not_taken_for_an_escalations():
    mail = render()
    assert parse(mail)["Message-ID"] == mail.message_id
    assert mail.message_id.startswith("<qmark.digest.2026-11-24.") and mail.message_id.endswith("@acme.test>")
    assert well_formed_message_id(mail.message_id) == mail.message_id
    assert parse_message_id(mail.message_id, domain="acme.test") is None
    assert render().message_id != mail.message_id


def test_hostile_text_in_subjects_names_and_statistics_cannot_add_headers_or_lines():
    evil = "Refund\r\nBcc: victim@evil.test\r\n\r\nX-Injected: 1"
    hostile = DigestFacts(
        now=NOW,
        since=NOW - timedelta(hours=24),
        open=(
            item(
                7, late=timedelta(hours=1), subject=evil, owner=Address("p@acme.test", "Pat\nCc: x@evil.test")
            ),
        ),
        closed=(ClosedItem("Q-8", evil, PAT, NOW, one_line(evil)),),
    )
    mail = render(hostile, stats_lines=["fine\r\nBcc: stats@evil.test"])
    names = header_names(mail)
    assert not names & {"bcc", "cc", "x-injected"}
    body = body_text(mail)
    assert (
        "- Q-7  1h late  Pat Cc: x@evil.test (explanation): Refund Bcc: victim@evil.test X-Injected: 1"
        in body
    )
    assert "\nBcc:" not in body and "\nX-Injected" not in body
    assert "- fine Bcc: stats@evil.test" in body


def test_non_ascii_subjects_survive_in_the_body():
    facts = DigestFacts(
        now=NOW, since=NOW - timedelta(hours=1), open=(item(1, late=timedelta(0), subject="Grüße aus Köln"),)
    )
    assert "Grüße aus Köln" in body_text(render(facts))


def test_a_day_that_is_not_a_date_and_naive_times_are_refused():
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        render(day="2026-11-24\r\nBcc: x@evil.test")
    with pytest.raises(ValueError):
        render(day="2026-13-40")
    with pytest.raises(ValueError, match="timezone-aware"):
        DigestFacts(now=datetime(2026, 11, 24, 9, 0), since=NOW)


# -- when it is due ---------------------------------------------------------------------------------


def test_the_digest_is_due_from_its_local_time_on_the_local_day():
    from workers.ticks.digest import due_day

    settings = load_settings(
        None, env={"QMARK_SERVICE__TIMEZONE": "Europe/Berlin", "QMARK_DIGEST__TIME": "08:00"}
    )
    assert due_day(settings, datetime(2026, 11, 24, 6, 59, tzinfo=UTC)) is None  # 07:59 in Berlin
    assert due_day(settings, datetime(2026, 11, 24, 7, 0, tzinfo=UTC)) == "2026-11-24"  # 08:00 sharp
    assert due_day(settings, datetime(2026, 11, 24, 22, 59, tzinfo=UTC)) == "2026-11-24"
    assert due_day(settings, datetime(2026, 11, 24, 23, 0, tzinfo=UTC)) is None  # 00:00 on the 25th
    assert due_day(settings, datetime(2026, 11, 25, 7, 30, tzinfo=UTC)) == "2026-11-25"
