"""Chase mails carry the DESIGN §4.4 contract, reach the right person and say what is overdue and why."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from pipeline.model.mail import Address, Original, OutgoingMail
from pipeline.outbound import reminders
from pipeline.outbound.compose import Identity
from pipeline.outbound.reminders import HistoryLine
from pipeline.outbound.thread import Thread
from tests.support.mailcheck import (
    assert_contract_headers,
    assert_own_message_id,
    assert_reply_to_signed_for,
    body_text,
    header_names,
    parse,
)

SECRET = b"unit-test-secret-0123456789abcdef"
IDENTITY = Identity(
    from_address=Address("escalations@acme.test", "qmark"),
    reply_local="escalations",
    domain="acme.test",
    secret=SECRET,
)
EXECUTIVE = Address("dana.chief@acme.test", "Dana Chief")
OWNER = Address("pat.owner@acme.test", "Pat Owner")
MANAGER = Address("lee.lead@acme.test", "Lee Lead")
DIRECTOR = Address("kim.director@acme.test", "Kim Director")
THREAD = Thread(
    number=12,
    subject="Invoice charged twice",
    executive=EXECUTIVE,
    owner=OWNER,
    owner_timezone="Europe/Berlin",
    in_reply_to="<reply.7@acme.test>",
    references=("<c0ffee.42@customer.example>", "<qmark.q12.owner_forward.0123456789abcdef@acme.test>"),
)
DUE = datetime(2026, 11, 24, 13, 30, tzinfo=UTC)  # 14:30 CET in Berlin
HISTORY = (
    HistoryLine(DUE - timedelta(hours=4), "opened", "Dana Chief", "Forwarded to Pat Owner, due in 4 hours"),
    HistoryLine(DUE - timedelta(hours=2), "reminder", "qmark", "Reminded Pat Owner at 50%"),
    HistoryLine(DUE + timedelta(minutes=1), "breach", "qmark", "Pat Owner missed the deadline"),
)
RAW_COMPLAINT = (
    b"From: Carla Customer <carla@customer.example>\r\n"
    b"To: dana.chief@acme.test\r\n"
    b"Subject: Charged twice\r\n"
    b"Message-ID: <c0ffee.42@customer.example>\r\n"
    b"\r\n"
    b"You charged my card twice for invoice 1041.\r\n"
)
COMPLAINT = Original(
    shape="attached",
    sender=Address("carla@customer.example", "Carla Customer"),
    date="Mon, 23 Nov 2026 08:00:00 +0000",
    subject="Charged twice",
    body="You charged my card twice for invoice 1041.\n\nPlease refund.",
    raw=RAW_COMPLAINT,
)
INLINE_COMPLAINT = replace(COMPLAINT, shape="gmail", raw=None)
TEXT_HEADERS = {
    "from", "to", "subject", "date", "message-id", "reply-to", "in-reply-to", "references",
    "x-qmark-escalation", "auto-submitted", "x-auto-response-suppress", "mime-version",
    "content-type", "content-transfer-encoding",
}  # fmt: skip
MULTIPART_HEADERS = TEXT_HEADERS - {"content-transfer-encoding"}

Render = Callable[[Thread, str], OutgoingMail]


def breach(
    thread: Thread = THREAD,
    *,
    phase: reminders.Phase = "explanation",
    to: Address = MANAGER,
    level: int = 1,
    now: datetime = DUE + timedelta(hours=2, minutes=30),
    history: tuple[HistoryLine, ...] = HISTORY,
    note: str = "?",
    complaint: Original | None = COMPLAINT,
) -> OutgoingMail:
    return reminders.render_breach(
        thread,
        IDENTITY,
        phase=phase,
        to=to,
        level=level,
        deadline=DUE,
        now=now,
        history=history,
        note=note,
        complaint=complaint,
    )


def reminder(
    thread: Thread = THREAD,
    *,
    phase: reminders.Phase = "explanation",
    share: float = 0.5,
    now: datetime = DUE - timedelta(hours=2),
) -> OutgoingMail:
    return reminders.render_reminder(thread, IDENTITY, phase=phase, deadline=DUE, share=share, now=now)


def hostile_breach(t: Thread, words: str) -> OutgoingMail:
    history = (*HISTORY, HistoryLine(DUE, words, words, words))
    complaint = replace(COMPLAINT, sender=Address("carla@customer.example", words), subject=words, body=words)
    return breach(t, to=replace(MANAGER, name=words), history=history, note=words, complaint=complaint)


# Each renderer with every piece of untrusted text it takes set to ``words``, who it goes to,
# and the header set of the mail.
RENDERERS: dict[str, tuple[Render, Address, set[str]]] = {
    reminders.REMINDER: (lambda t, words: reminder(t), OWNER, TEXT_HEADERS),
    reminders.BREACH: (hostile_breach, MANAGER, MULTIPART_HEADERS),
    reminders.BREACH_NOTICE: (
        lambda t, words: reminders.render_breach_notice(
            t, IDENTITY, phase="explanation", deadline=DUE, chased=[replace(MANAGER, name=words), DIRECTOR]
        ),
        EXECUTIVE,
        TEXT_HEADERS,
    ),
    reminders.PAUSED: (
        lambda t, words: reminders.render_paused(t, IDENTITY, reason=words, by=replace(OWNER, name=words)),
        EXECUTIVE,
        TEXT_HEADERS,
    ),
    reminders.RESUMED: (
        lambda t, words: reminders.render_resumed(t, IDENTITY, deadline=DUE, paused_for=timedelta(hours=5)),
        EXECUTIVE,
        TEXT_HEADERS,
    ),
}


@pytest.fixture(params=sorted(RENDERERS))
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def render(kind: str, thread: Thread = THREAD, words: str = "Waiting for the bank.") -> OutgoingMail:
    return RENDERERS[kind][0](thread, words)


def recipient(kind: str) -> Address:
    return RENDERERS[kind][1]


def headers(kind: str) -> set[str]:
    return RENDERERS[kind][2]


# --- the contract, for every kind ------------------------------------------------------------------


def test_there_is_a_renderer_for_every_kind_and_each_mail_says_its_kind() -> None:
    assert set(RENDERERS) == set(reminders.KINDS)
    assert len(set(reminders.KINDS)) == 5
    for kind in reminders.KINDS:
        assert render(kind).kind == kind


def test_every_chase_mail_goes_to_its_recipient_with_the_contract_headers(kind: str) -> None:
    mail = render(kind)

    assert_contract_headers(mail, recipient(kind).email)
    assert header_names(mail) == headers(kind)


def test_every_chase_mail_has_a_message_id_qmark_recognises_as_this_escalations(kind: str) -> None:
    assert_own_message_id(render(kind))


def test_the_reply_to_of_every_chase_mail_verifies_for_its_recipient_and_no_one_else(kind: str) -> None:
    mail = render(kind)

    assert_reply_to_signed_for(
        mail,
        SECRET,
        recipient(kind).email,
        [a.email for a in (EXECUTIVE, OWNER, MANAGER) if a != recipient(kind)],
    )


def test_every_chase_mail_threads_under_the_escalations_thread(kind: str) -> None:
    msg = parse(render(kind))

    assert msg["In-Reply-To"] == "<reply.7@acme.test>"
    assert str(msg["References"]).split() == [*THREAD.references, "<reply.7@acme.test>"]


NAIVE = DUE.replace(tzinfo=None)


@pytest.mark.parametrize(
    "send",
    [
        lambda: reminders.render_reminder(THREAD, IDENTITY, phase="explanation", deadline=NAIVE, share=0.5),
        lambda: breach(now=NAIVE),
        lambda: reminders.render_breach(
            THREAD,
            IDENTITY,
            phase="explanation",
            to=MANAGER,
            level=1,
            deadline=NAIVE,
            now=DUE,
            history=(),
            note="",
            complaint=None,
        ),
        lambda: breach(history=(HistoryLine(NAIVE, "opened", "Dana", ""),)),
        lambda: reminders.render_breach_notice(
            THREAD, IDENTITY, phase="explanation", deadline=NAIVE, chased=()
        ),
        lambda: reminders.render_resumed(THREAD, IDENTITY, deadline=NAIVE, paused_for=timedelta(hours=1)),
    ],
    ids=["reminder", "breach_now", "breach_deadline", "breach_history", "breach_notice", "resumed"],
)
def test_a_time_without_a_timezone_is_refused(send: Callable[[], OutgoingMail]) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        send()


# --- the reminder ----------------------------------------------------------------------------------


def test_a_halfway_reminder_tells_the_owner_when_the_explanation_is_due_and_how_long_is_left() -> None:
    mail = reminder()
    text = body_text(mail)

    assert parse(mail)["Subject"] == (
        "[Q-12] Reminder: your explanation is due Tue 24 Nov 2026 14:30 CET (in 2 hours)"
    )
    assert text.startswith(
        "Dana Chief <dana.chief@acme.test> is waiting for your explanation on Q-12:\n"
        '"Invoice charged twice"\n'
    )
    assert "You are halfway to the deadline.\n" in text
    assert (
        "Deadline: Tue 24 Nov 2026 14:30 CET (Europe/Berlin), which is Tue 24 Nov 2026 13:30 UTC\n"
        "(in 2 hours)." in text
    )


def test_the_reminder_says_to_answer_by_replying_and_what_to_write_for_each_phase() -> None:
    explanation = body_text(reminder(phase="explanation"))
    root_cause = body_text(reminder(phase="root_cause"))

    for text in (explanation, root_cause):
        assert "Reply to this mail from your own address" in text
    assert "Say what happened and what you are doing about it." in explanation
    assert "qmark passes your explanation to Dana Chief." in explanation
    assert "writeup" not in explanation
    assert "root-cause writeup template at the end of qmark's first mail" in root_cause
    assert "Q-12 stays open until every section is there." in root_cause
    assert "## " not in root_cause  # the template itself is in the original forward


def test_a_root_cause_reminder_names_the_writeup_in_its_subject() -> None:
    subject = parse(reminder(phase="root_cause"))["Subject"]

    assert subject == "[Q-12] Reminder: your root-cause writeup is due Tue 24 Nov 2026 14:30 CET (in 2 hours)"


@pytest.mark.parametrize(
    ("share", "said"),
    [
        (0.5, "You are halfway to the deadline."),
        (0.9, "90% of the time to the deadline has passed."),
        (0.25, "25% of the time to the deadline has passed."),
        (1.0, "100% of the time to the deadline has passed."),
        (0.0, "The time to the deadline has just started."),
    ],
)
def test_the_reminder_says_how_much_of_the_time_has_passed(share: float, said: str) -> None:
    assert f"\n{said}\n" in body_text(reminder(share=share))


@pytest.mark.parametrize(
    ("left", "said"),
    [
        (timedelta(hours=2, minutes=30), "in 2 hours 30 minutes"),
        (timedelta(days=1, minutes=1), "in 1 day 1 minute"),
        (timedelta(seconds=20), "in less than a minute"),
        (timedelta(0), "already due"),
        (-timedelta(hours=1), "already due"),
    ],
)
def test_the_time_left_is_said_in_words(left: timedelta, said: str) -> None:
    mail = reminder(now=DUE - left)

    assert parse(mail)["Subject"].endswith(f"14:30 CET ({said})")
    assert f"\n({said}).\n" in body_text(mail)


def test_a_reminder_without_a_time_given_counts_from_now() -> None:
    deadline = datetime.now(UTC) + timedelta(hours=3)

    mail = reminders.render_reminder(THREAD, IDENTITY, phase="explanation", deadline=deadline, share=0.9)

    assert parse(mail)["Subject"].endswith("(in 3 hours)")


def test_a_new_york_owner_is_reminded_in_new_york_time() -> None:
    mail = reminder(replace(THREAD, owner_timezone="America/New_York"))

    assert "due Tue 24 Nov 2026 08:30 EST (in 2 hours)" in parse(mail)["Subject"]
    assert "Deadline: Tue 24 Nov 2026 08:30 EST (America/New_York), which is Tue 24 Nov 2026 13:30 UTC" in (
        body_text(mail)
    )


@pytest.mark.parametrize("share", [-0.5, 1.5, float("nan")])
def test_a_reminder_share_outside_the_deadline_is_refused(share: float) -> None:
    with pytest.raises(ValueError, match="share"):
        reminder(share=share)


def test_an_unknown_phase_is_refused() -> None:
    with pytest.raises(ValueError, match="phase"):
        reminder(phase="approval")  # type: ignore[arg-type]


# --- the breach, to a manager ----------------------------------------------------------------------


def test_a_breach_tells_the_owners_manager_who_owns_it_what_is_awaited_and_how_overdue_it_is() -> None:
    mail = breach()
    text = body_text(mail)

    assert parse(mail)["Subject"] == "[Q-12] Overdue: Pat Owner has not explained Invoice charged twice"
    assert text.startswith(
        "Pat Owner <pat.owner@acme.test> owns Q-12 and has missed the deadline for\n"
        "an explanation (what happened and what they are doing about it).\n"
        "You get this as Pat Owner's manager (level 1 of the management ladder).\n"
    )
    assert (
        "Overdue since Tue 24 Nov 2026 13:30 UTC (Tue 24 Nov 2026 14:30 CET in Europe/Berlin), "
        "for 2 hours 30 minutes.\n" in text
    )
    assert 'Asked by Dana Chief <dana.chief@acme.test> about "Invoice charged twice".' in text


def test_a_breach_higher_up_the_ladder_says_how_far_above_the_owner_the_manager_is() -> None:
    text = body_text(breach(to=DIRECTOR, level=2))

    assert "You get this as the manager 2 levels above Pat Owner (level 2 of the ladder)." in text


@pytest.mark.parametrize("level", [0, -1, True])
def test_a_breach_to_no_real_ladder_level_is_refused(level: int) -> None:
    with pytest.raises(ValueError, match="level"):
        breach(level=level)


def test_a_root_cause_breach_names_the_writeup_and_says_a_reply_does_not_close_it() -> None:
    mail = breach(phase="root_cause")
    text = body_text(mail)
    explanation = body_text(breach(phase="explanation"))

    assert parse(mail)["Subject"] == (
        "[Q-12] Overdue: Pat Owner has not sent the root-cause writeup for Invoice charged twice"
    )
    assert "has missed the deadline for\nthe root-cause writeup (what happened, impact, five whys" in text
    assert "Q-12 still closes only after a complete root-cause writeup." in text
    assert "counts as the explanation" not in text
    assert "Your reply counts as the explanation of Q-12 and qmark passes it to Dana Chief." in explanation


def test_a_breach_shows_the_whole_history_in_order_with_utc_times() -> None:
    text = body_text(breach())

    section = text.split("History so far (times in UTC)\n", 1)[1].split("\n\n", 1)[0]
    assert section.split("\n") == [
        "- Tue 24 Nov 2026 09:30 UTC  opened by Dana Chief: Forwarded to Pat Owner, due in 4 hours",
        "- Tue 24 Nov 2026 11:30 UTC  reminder by qmark: Reminded Pat Owner at 50%",
        "- Tue 24 Nov 2026 13:31 UTC  breach by qmark: Pat Owner missed the deadline",
    ]


def test_a_history_line_without_kind_actor_or_summary_still_shows_its_time() -> None:
    text = body_text(breach(history=(HistoryLine(DUE, "", " ", "\n"),)))

    assert "History so far (times in UTC)\n- Tue 24 Nov 2026 13:30 UTC  event\n\n" in text


def test_a_breach_with_no_history_says_nothing_was_recorded() -> None:
    assert "History so far (times in UTC)\n(nothing recorded)\n" in body_text(breach(history=()))


def test_a_breach_carries_the_executives_note_and_the_complaint_text() -> None:
    text = body_text(breach(note="Third time this month.\nWhy?"))

    assert "Note from Dana Chief\n\n    Third time this month.\n    Why?\n" in text
    assert (
        "---- The complaint ----\n"
        "From: Carla Customer <carla@customer.example>\n"
        "Subject: Charged twice\n\n"
        "    You charged my card twice for invoice 1041.\n\n"
        "    Please refund.\n\n"
        "The original message is attached.\n"
    ) in text


def test_a_breach_attaches_the_original_complaint_as_message_rfc822() -> None:
    mail = breach()

    (part,) = parse(mail).iter_attachments()

    assert parse(mail).get_content_type() == "multipart/mixed"
    assert part.get_content_type() == "message/rfc822"
    inner = part.get_content()
    assert inner["Subject"] == "Charged twice"
    assert inner["Message-ID"] == "<c0ffee.42@customer.example>"


def test_a_breach_about_an_inline_forward_shows_the_text_and_attaches_nothing() -> None:
    mail = breach(complaint=INLINE_COMPLAINT)

    assert header_names(mail) == TEXT_HEADERS
    assert not list(parse(mail).iter_attachments())
    assert "    You charged my card twice for invoice 1041.\n" in body_text(mail)
    assert "attached" not in body_text(mail)


def test_a_breach_without_the_complaint_on_record_says_so() -> None:
    mail = breach(complaint=None)

    assert header_names(mail) == TEXT_HEADERS
    assert "---- The complaint ----\n(the complaint is not on record)\n" in body_text(mail)


def test_a_breach_tells_the_manager_to_reply_or_make_sure_the_owner_answers() -> None:
    text = body_text(breach())

    what = text.split("---- What you can do ----\n", 1)[1]
    assert what.startswith("Reply to this mail")
    assert "Or make sure Pat Owner answers" in what


@pytest.mark.parametrize(
    ("late", "said"),
    [
        (timedelta(0), "just now"),
        (timedelta(seconds=20), "for less than a minute"),
        (timedelta(seconds=30), "for 1 minute"),
        (timedelta(days=2, hours=1), "for 2 days 1 hour"),
    ],
)
def test_a_breach_says_how_long_ago_the_deadline_passed(late: timedelta, said: str) -> None:
    text = body_text(breach(now=DUE + late))

    assert f"(Tue 24 Nov 2026 14:30 CET in Europe/Berlin), {said}.\n" in text


# --- the notice to the executive, pauses -----------------------------------------------------------


def test_the_breach_notice_tells_the_executive_the_deadline_was_missed_and_whom_qmark_chases() -> None:
    mail = reminders.render_breach_notice(
        THREAD, IDENTITY, phase="explanation", deadline=DUE, chased=[MANAGER, DIRECTOR]
    )
    text = body_text(mail)

    assert parse(mail)["Subject"] == "[Q-12] Overdue: Invoice charged twice"
    assert text.startswith(
        "Pat Owner <pat.owner@acme.test> missed the deadline for Q-12:\n"
        "Tue 24 Nov 2026 13:30 UTC (Tue 24 Nov 2026 14:30 CET in Europe/Berlin).\n"
        "Still awaited: an explanation"
    )
    assert (
        "qmark now chases Lee Lead <lee.lead@acme.test> and Kim Director <kim.director@acme.test>.\n" in text
    )


def test_the_breach_notice_names_the_awaited_writeup_in_the_root_cause_phase() -> None:
    text = body_text(
        reminders.render_breach_notice(THREAD, IDENTITY, phase="root_cause", deadline=DUE, chased=[MANAGER])
    )

    assert "Still awaited: the root-cause writeup" in text
    assert "qmark now chases Lee Lead <lee.lead@acme.test>.\n" in text


def test_three_people_chased_are_listed_with_commas_and_and() -> None:
    third = Address("ceo@acme.test", "Cee Eo")
    text = body_text(
        reminders.render_breach_notice(
            THREAD, IDENTITY, phase="explanation", deadline=DUE, chased=[MANAGER, DIRECTOR, third]
        )
    )

    assert "chases Lee Lead <lee.lead@acme.test>, Kim Director <kim.director@acme.test> and Cee Eo" in text


def test_an_owner_with_no_manager_leaves_nobody_to_chase_and_the_executive_hears_ops_are_told() -> None:
    text = body_text(
        reminders.render_breach_notice(THREAD, IDENTITY, phase="explanation", deadline=DUE, chased=[])
    )

    assert "Pat Owner has no manager in people.yaml, so there is nobody to chase;\nops are told." in text
    assert "chases" not in text


def test_a_pause_tells_the_executive_the_owner_waits_on_the_customer_and_why() -> None:
    mail = reminders.render_paused(
        THREAD, IDENTITY, reason="The customer sends the bank statement.", by=OWNER
    )
    text = body_text(mail)

    assert parse(mail)["Subject"] == "[Q-12] Clock paused: Invoice charged twice"
    assert text.startswith(
        "Pat Owner <pat.owner@acme.test> says Q-12 is waiting on the customer,\nso the clock is paused."
    )
    assert "\n    The customer sends the bank statement.\n" in text
    assert "Pat Owner's deadline does not run while Q-12 is paused." in text


def test_a_pause_without_a_reason_says_none_was_given() -> None:
    text = body_text(reminders.render_paused(THREAD, IDENTITY, reason=" \n", by=OWNER))

    assert "\n    (no reason given)\n" in text


def test_a_resumption_tells_the_executive_how_long_the_pause_was_and_the_new_deadline() -> None:
    mail = reminders.render_resumed(
        THREAD, IDENTITY, deadline=DUE, paused_for=timedelta(days=1, hours=2, minutes=30)
    )
    text = body_text(mail)

    assert parse(mail)["Subject"] == "[Q-12] Clock running again: Invoice charged twice"
    assert text.startswith("The clock on Q-12 runs again after a pause of 1 day 2 hours 30 minutes.\n")
    assert (
        "Pat Owner's new deadline: Tue 24 Nov 2026 13:30 UTC (Tue 24 Nov 2026 14:30 CET in Europe/Berlin)."
        in text
    )


def test_a_pause_of_negative_length_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        reminders.render_resumed(THREAD, IDENTITY, deadline=DUE, paused_for=-timedelta(minutes=1))


# --- hostile input ---------------------------------------------------------------------------------

HOSTILE = {
    "crlf_bcc": "Refund\r\nBcc: victim@evil.example",
    "lf_header": "Refund\nX-Injected: yes",
    "bare_cr": "Refund\rX-Injected: yes",
    "line_separator": "Refund\u2028Bcc: victim@evil.example",
    "encoded_newline": "=?utf-8?q?a=0D=0ABcc:_x?=",
    "controls": "Re\x00fu\x1b[31mnd\x07\x7f\x85",
    "ten_kb": "A" * 10_240,
    "ten_kb_lines": "Bcc: victim@evil.example\n" * 420,
}


@pytest.mark.parametrize("value", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_names_subjects_notes_and_history_cannot_add_or_split_headers(kind: str, value: str) -> None:
    thread = replace(
        THREAD,
        subject=value,
        executive=replace(EXECUTIVE, name=value),
        owner=replace(OWNER, name=value),
    )

    mail = render(kind, thread, value)

    msg = parse(mail)
    assert header_names(mail) == headers(kind)
    assert not msg.defects
    assert [a.addr_spec for a in msg["To"].addresses] == [recipient(kind).email]
    assert msg["Subject"].startswith("[Q-12] ")
    assert "\n" not in msg["Subject"] and "\r" not in msg["Subject"]
    assert max(len(line) for line in mail.raw.split(b"\r\n")) <= 998
    assert b"\n" not in mail.raw.replace(b"\r\n", b"")


def test_a_hostile_history_summary_stays_on_its_own_line() -> None:
    history = (
        HistoryLine(DUE, "note\r\nBcc: a@evil.example", "Eve\nX-Injected: yes", "said\r\n\r\nhi\x1b[31m\x00"),
        HistoryLine(DUE + timedelta(minutes=5), "breach", "qmark", "missed"),
    )

    text = body_text(breach(history=history))

    section = text.split("History so far (times in UTC)\n", 1)[1].split("\n\n", 1)[0]
    assert section.split("\n") == [
        "- Tue 24 Nov 2026 13:30 UTC  note Bcc: a@evil.example by Eve X-Injected: yes: said hi [31m",
        "- Tue 24 Nov 2026 13:35 UTC  breach by qmark: missed",
    ]


def test_control_characters_in_a_note_or_a_complaint_do_not_reach_the_body() -> None:
    text = body_text(
        breach(note="Re\x00fu\x1b[31mnd\x07\x7f\x9b now", complaint=replace(COMPLAINT, body="a\x00b\x1bc"))
    )

    assert "\n    Refu[31mnd now\n" in text
    assert "\n    abc\n" in text
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f]", text)


def test_a_note_that_looks_like_headers_stays_in_the_body() -> None:
    mail = breach(note="Bcc: victim@evil.example\r\n\r\nX-Injected: yes")

    assert header_names(mail) == MULTIPART_HEADERS
    assert "\n    Bcc: victim@evil.example\n\n    X-Injected: yes\n" in body_text(mail)


@pytest.mark.parametrize(
    "email", ["lee@acme.test\r\nBcc: victim@evil.example", "lee@acme.test>, victim@evil.example", "lee"]
)
def test_a_manager_address_that_could_smuggle_a_header_is_refused(email: str) -> None:
    with pytest.raises(ValueError, match="unsafe email address"):
        breach(to=Address(email, "Lee"))
