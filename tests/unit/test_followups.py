"""Follow-up mails carry the DESIGN §4.4 contract, thread under what they answer, and say what happened."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from pipeline.model.mail import Address, OutgoingMail
from pipeline.outbound import followups
from pipeline.outbound.compose import MAX_REFERENCES, Identity
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
NEW_OWNER = Address("sam.new@acme.test", "Sam New")
THREAD = Thread(
    number=12,
    subject="Invoice charged twice",
    executive=EXECUTIVE,
    owner=OWNER,
    owner_timezone="Europe/Berlin",
    in_reply_to="<reply.7@acme.test>",
    references=("<c0ffee.42@customer.example>", "<qmark.q12.owner_forward.0123456789abcdef@acme.test>"),
)
DUE = datetime(2026, 11, 24, 13, 30, tzinfo=UTC)
LATER = datetime(2026, 11, 26, 16, 0, tzinfo=UTC)
WRITEUP = (
    ("What happened", "We billed the card twice."),
    ("Root cause (five whys)", "A retry without an idempotency key.\nThe gateway timed out."),
)
COMMANDS = (
    ("#close", "Close Q-12 with the writeup below."),
    ("#more-time 2d <reason>", "Ask for more time."),
)
ALL_HEADERS = {
    "from", "to", "subject", "date", "message-id", "reply-to", "in-reply-to", "references",
    "x-qmark-escalation", "auto-submitted", "x-auto-response-suppress", "mime-version",
    "content-type", "content-transfer-encoding",
}  # fmt: skip

Render = Callable[[Thread, str], OutgoingMail]

# Each renderer with every piece of untrusted text it takes set to ``words``, and who it goes to.
RENDERERS: dict[str, tuple[Render, Address]] = {
    followups.EXPLANATION: (
        lambda t, words: followups.render_explanation(
            t, IDENTITY, author=t.owner, text=words, root_cause_due=DUE
        ),
        EXECUTIVE,
    ),
    followups.WRITEUP_INCOMPLETE: (
        lambda t, words: followups.render_writeup_incomplete(
            t, IDENTITY, to=t.owner, findings=f"- {words}: missing\n", missing_titles=[words, "Impact"]
        ),
        OWNER,
    ),
    followups.CLOSING_SUMMARY: (
        lambda t, words: followups.render_closing_summary(
            t, IDENTITY, closed_by=t.owner, explanation=words, writeup=[*WRITEUP, (words, words)]
        ),
        EXECUTIVE,
    ),
    followups.CLOSED_CONFIRMATION: (
        lambda t, words: followups.render_closed_confirmation(t, IDENTITY, to=t.owner),
        OWNER,
    ),
    followups.APPROVAL_REQUEST: (
        lambda t, words: followups.render_approval_request(
            t, IDENTITY, author=t.owner, writeup=[*WRITEUP, (words, words)]
        ),
        EXECUTIVE,
    ),
    followups.SENT_BACK: (lambda t, words: followups.render_sent_back(t, IDENTITY, note=words), OWNER),
    followups.REOPENED: (
        lambda t, words: followups.render_reopened(t, IDENTITY, note=words, deadline=DUE),
        OWNER,
    ),
    followups.REASSIGNED: (
        lambda t, words: followups.render_reassigned(
            t,
            IDENTITY,
            old_owner=t.owner,
            new_owner=replace(NEW_OWNER, name=words),
            by=t.executive,
            deadline=DUE,
        ),
        EXECUTIVE,
    ),
    followups.MORE_TIME: (
        lambda t, words: followups.render_more_time(
            t, IDENTITY, reason=words, old_deadline=DUE, new_deadline=LATER
        ),
        EXECUTIVE,
    ),
    followups.COMMAND_HELP: (
        lambda t, words: followups.render_command_help(
            t, IDENTITY, to=t.owner, problem=words, commands=[*COMMANDS, (words, words)]
        ),
        OWNER,
    ),
    followups.EXECUTIVE_NOTE: (
        lambda t, words: followups.render_executive_note(t, IDENTITY, note=words),
        OWNER,
    ),
}


@pytest.fixture(params=sorted(RENDERERS))
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def render(kind: str, thread: Thread = THREAD, words: str = "The gateway timed out.") -> OutgoingMail:
    return RENDERERS[kind][0](thread, words)


def recipient(kind: str) -> Address:
    return RENDERERS[kind][1]


# --- the contract, for every kind ------------------------------------------------------------------


def test_there_is_a_renderer_for_every_kind_and_each_mail_says_its_kind() -> None:
    assert set(RENDERERS) == set(followups.KINDS)
    assert len(set(followups.KINDS)) == 11
    for kind in followups.KINDS:
        assert render(kind).kind == kind


def test_every_follow_up_goes_to_its_recipient_with_the_contract_headers(kind: str) -> None:
    mail = render(kind)

    assert_contract_headers(mail, recipient(kind).email)
    assert header_names(mail) == ALL_HEADERS


def test_every_follow_up_has_a_message_id_qmark_recognises_as_this_escalations(kind: str) -> None:
    assert_own_message_id(render(kind))


def test_the_reply_to_of_every_follow_up_verifies_for_its_recipient_and_no_one_else(kind: str) -> None:
    mail = render(kind)

    assert_reply_to_signed_for(
        mail, SECRET, recipient(kind).email, [(OWNER if recipient(kind) == EXECUTIVE else EXECUTIVE).email]
    )


def test_every_follow_up_threads_under_the_mail_it_answers(kind: str) -> None:
    msg = parse(render(kind))

    assert msg["In-Reply-To"] == "<reply.7@acme.test>"
    assert str(msg["References"]).split() == [*THREAD.references, "<reply.7@acme.test>"]


def test_a_follow_up_without_threading_ids_has_no_threading_headers(kind: str) -> None:
    mail = render(kind, replace(THREAD, in_reply_to=None, references=()))

    assert header_names(mail) == ALL_HEADERS - {"in-reply-to", "references"}


def test_two_renders_of_one_kind_get_different_message_ids(kind: str) -> None:
    assert render(kind).message_id != render(kind).message_id


# --- threading -------------------------------------------------------------------------------------


def test_references_keep_each_id_once_in_order_and_end_with_the_answered_mail() -> None:
    thread = replace(
        THREAD, in_reply_to=" <b@x.example> ", references=("<a@x.example>", "<b@x.example>", "<a@x.example>")
    )

    msg = parse(render(followups.EXECUTIVE_NOTE, thread))

    assert msg["In-Reply-To"] == "<b@x.example>"
    assert msg["References"] == "<a@x.example> <b@x.example>"


def test_a_long_reference_chain_keeps_the_first_id_and_the_latest_ones() -> None:
    chain = tuple(f"<m{n}@x.example>" for n in range(25))
    thread = replace(THREAD, in_reply_to="<last@x.example>", references=chain)

    references = str(parse(render(followups.EXECUTIVE_NOTE, thread))["References"]).split()

    assert len(references) == MAX_REFERENCES == 10
    assert references[0] == "<m0@x.example>"
    assert references[-2:] == ["<m24@x.example>", "<last@x.example>"]
    assert references[1:-1] == [f"<m{n}@x.example>" for n in range(17, 25)]


@pytest.mark.parametrize(
    "bad",
    [
        "<a@b.example>\r\nBcc: victim@evil.example",
        "no-angle-brackets@x.example",
        "<no-at-sign>",
        "<two words@x.example>",
        "<" + "a" * 300 + "@x.example>",
        "",
    ],
)
def test_malformed_message_ids_are_left_out_of_the_threading_headers(bad: str) -> None:
    thread = replace(THREAD, in_reply_to=bad, references=(bad, "<good@x.example>"))

    mail = render(followups.EXECUTIVE_NOTE, thread)

    assert "In-Reply-To" not in parse(mail)
    assert parse(mail)["References"] == "<good@x.example>"
    assert header_names(mail) == ALL_HEADERS - {"in-reply-to"}


# --- what each mail says ---------------------------------------------------------------------------


def test_the_explanation_reaches_the_executive_with_the_owners_words_and_the_writeup_deadline() -> None:
    mail = followups.render_explanation(
        THREAD,
        IDENTITY,
        author=OWNER,
        text="We refunded the card.\n\nIt was a retry bug.",
        root_cause_due=DUE,
    )

    text = body_text(mail)

    assert parse(mail)["Subject"] == "[Q-12] Pat Owner's explanation: Invoice charged twice"
    assert text.startswith("Pat Owner <pat.owner@acme.test> explained Q-12:\n\n")
    assert "\n    We refunded the card.\n\n    It was a retry bug.\n" in text
    assert (
        "The root-cause writeup is due Tue 24 Nov 2026 13:30 UTC "
        "(Tue 24 Nov 2026 14:30 CET in Europe/Berlin).\nQ-12 closes only after it." in text
    )


def test_an_explanation_with_no_writeup_deadline_still_says_the_writeup_is_needed() -> None:
    text = body_text(
        followups.render_explanation(THREAD, IDENTITY, author=OWNER, text="Refunded.", root_cause_due=None)
    )

    assert "Q-12 closes only after a root-cause writeup." in text
    assert "due" not in text


def test_the_incomplete_writeup_mail_lists_the_findings_and_a_template_of_the_missing_sections() -> None:
    findings = "- Impact: missing\n- Root cause (five whys): too thin (3 of 10 words)\n"

    mail = followups.render_writeup_incomplete(
        THREAD, IDENTITY, to=OWNER, findings=findings, missing_titles=["Impact", "Root cause (five whys)"]
    )
    text = body_text(mail)

    assert text.startswith("Q-12 stays open: the root-cause writeup still lacks:\n" + findings)
    assert "reply to this mail with the sections below filled in" in text
    assert "Sections already accepted need not be repeated." in text
    template = text.split("---- Root-cause writeup (fill in and reply) ----\n", 1)[1]
    assert re.findall(r"^## (.+)$", template, re.M) == ["Impact", "Root cause (five whys)"]
    assert "## Impact\n\n## Root cause (five whys)\n\n---- End ----" in template


def test_the_closing_summary_gives_the_executive_who_closed_it_the_explanation_and_the_whole_writeup() -> (
    None
):
    mail = followups.render_closing_summary(
        THREAD, IDENTITY, closed_by=OWNER, explanation="We refunded the card.", writeup=WRITEUP
    )
    text = body_text(mail)

    assert parse(mail)["Subject"] == "[Q-12] Closed: Invoice charged twice"
    assert text.startswith("Pat Owner <pat.owner@acme.test> closed Q-12.")
    assert "\n    We refunded the card.\n" in text
    assert (
        "## What happened\n\nWe billed the card twice.\n\n"
        "## Root cause (five whys)\n\nA retry without an idempotency key.\nThe gateway timed out.\n"
    ) in text
    assert text.index("We refunded the card.") < text.index("## What happened")


def test_the_closed_confirmation_thanks_the_owner_briefly() -> None:
    text = body_text(followups.render_closed_confirmation(THREAD, IDENTITY, to=OWNER))

    assert text == "Q-12 is closed. Thank you for the writeup.\n"


def test_the_approval_request_shows_the_writeup_then_how_to_approve_or_send_it_back() -> None:
    mail = followups.render_approval_request(THREAD, IDENTITY, author=OWNER, writeup=WRITEUP)
    text = body_text(mail)

    assert parse(mail)["Subject"] == "[Q-12] Root cause for your approval: Invoice charged twice"
    assert "## What happened\n\nWe billed the card twice.\n" in text
    assert 'reply "approve" (or "ok", "👍")' in text
    assert 'To send it back to Pat Owner, reply "?" with a note' in text
    assert text.index("We billed the card twice.") < text.index('reply "approve"')


def test_a_writeup_sent_back_carries_the_executives_note_or_says_there_was_none() -> None:
    with_note = body_text(followups.render_sent_back(THREAD, IDENTITY, note="Impact needs numbers."))
    without = body_text(followups.render_sent_back(THREAD, IDENTITY, note="  \n "))

    assert with_note.startswith("Dana Chief <dana.chief@acme.test> sent the root-cause writeup for Q-12 back")
    assert "\n    Impact needs numbers.\n" in with_note
    assert "needs another pass" in with_note
    assert "\n    (no note)\n" in without


def test_a_reopened_escalation_tells_the_owner_the_note_and_the_new_deadline_in_their_time_and_utc() -> None:
    text = body_text(followups.render_reopened(THREAD, IDENTITY, note="Again? Third time.", deadline=DUE))

    assert text.startswith("Dana Chief <dana.chief@acme.test> reopened Q-12.")
    assert "\n    Again? Third time.\n" in text
    assert (
        "New deadline: Tue 24 Nov 2026 14:30 CET (Europe/Berlin), which is Tue 24 Nov 2026 13:30 UTC." in text
    )


def test_a_new_york_owner_sees_the_reopened_deadline_in_new_york_time() -> None:
    thread = replace(THREAD, owner_timezone="America/New_York")

    text = body_text(followups.render_reopened(thread, IDENTITY, note="", deadline=DUE))

    assert (
        "New deadline: Tue 24 Nov 2026 08:30 EST (America/New_York), which is Tue 24 Nov 2026 13:30 UTC."
        in text
    )


def test_a_reassignment_tells_the_executive_who_moved_it_to_whom_and_the_deadline() -> None:
    mail = followups.render_reassigned(
        THREAD, IDENTITY, old_owner=OWNER, new_owner=NEW_OWNER, by=EXECUTIVE, deadline=DUE
    )
    text = body_text(mail)

    assert parse(mail)["Subject"] == "[Q-12] Reassigned to Sam New: Invoice charged twice"
    assert text.startswith(
        "Dana Chief <dana.chief@acme.test> moved Q-12 from Pat Owner <pat.owner@acme.test> "
        "to Sam New <sam.new@acme.test>."
    )
    assert (
        "Sam New now owns it, due Tue 24 Nov 2026 13:30 UTC (Tue 24 Nov 2026 14:30 CET in Europe/Berlin)."
        in text
    )


def test_more_time_tells_the_executive_the_reason_and_the_old_and_new_deadlines() -> None:
    mail = followups.render_more_time(
        THREAD, IDENTITY, reason="Waiting for the bank's report.", old_deadline=DUE, new_deadline=LATER
    )
    text = body_text(mail)

    assert parse(mail)["Subject"] == "[Q-12] More time for Pat Owner: Invoice charged twice"
    assert "\n    Waiting for the bank's report.\n" in text
    assert "moved from Tue 24 Nov 2026 13:30 UTC (Tue 24 Nov 2026 14:30 CET in Europe/Berlin)\n" in text
    assert "to Thu 26 Nov 2026 16:00 UTC (Thu 26 Nov 2026 17:00 CET in Europe/Berlin)." in text


def test_command_help_states_the_problem_lists_the_commands_and_says_other_words_pass_on() -> None:
    mail = followups.render_command_help(
        THREAD, IDENTITY, to=OWNER, problem="#foo is not a command qmark knows", commands=COMMANDS
    )
    text = body_text(mail)

    assert text.startswith("#foo is not a command qmark knows\n\n")
    assert "#close\n    Close Q-12 with the writeup below.\n" in text
    assert "#more-time 2d <reason>\n    Ask for more time.\n" in text
    assert text.rstrip().endswith("Anything else you write is passed on as your answer.")


def test_a_multi_line_problem_is_shown_on_one_line() -> None:
    text = body_text(
        followups.render_command_help(
            THREAD, IDENTITY, to=OWNER, problem="#foo\r\nis unknown", commands=COMMANDS
        )
    )

    assert text.startswith("#foo is unknown\n\n")


def test_the_executives_note_reaches_the_owner() -> None:
    mail = followups.render_executive_note(THREAD, IDENTITY, note="Call the customer today.")
    text = body_text(mail)

    assert parse(mail)["Subject"] == "[Q-12] Note from Dana Chief: Invoice charged twice"
    assert text.startswith(
        "Dana Chief <dana.chief@acme.test> wrote about Q-12:\n\n    Call the customer today."
    )


@pytest.mark.parametrize(("subject", "shown"), [("", "(no subject)"), ("  \t ", "(no subject)")])
def test_an_empty_complaint_subject_is_shown_as_no_subject(subject: str, shown: str) -> None:
    mail = followups.render_executive_note(replace(THREAD, subject=subject), IDENTITY, note="x")

    assert parse(mail)["Subject"] == f"[Q-12] Note from Dana Chief: {shown}"


def test_a_long_complaint_subject_is_cut_to_200_characters() -> None:
    mail = followups.render_closed_confirmation(replace(THREAD, subject="word " * 100), IDENTITY, to=OWNER)

    shown = str(parse(mail)["Subject"]).removeprefix("[Q-12] Closed: ")
    assert len(shown) == 200
    assert shown.endswith("…")


# --- the thread ------------------------------------------------------------------------------------


def test_a_threads_ref_is_q_and_its_number() -> None:
    assert replace(THREAD, number=4711).ref == "Q-4711"


@pytest.mark.parametrize(("field", "value"), [("number", 0), ("number", -3), ("owner_timezone", "Mars/Base")])
def test_a_thread_that_names_no_escalation_or_no_real_timezone_is_refused(field: str, value: object) -> None:
    with pytest.raises(ValueError):
        replace(THREAD, **{field: value})


def test_a_deadline_without_a_timezone_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        followups.render_reopened(THREAD, IDENTITY, note="", deadline=datetime(2026, 11, 24, 13, 30))


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
def test_hostile_names_subjects_and_notes_cannot_add_or_split_headers(kind: str, value: str) -> None:
    thread = replace(
        THREAD,
        subject=value,
        executive=replace(EXECUTIVE, name=value),
        owner=replace(OWNER, name=value),
    )

    mail = render(kind, thread, value)

    msg = parse(mail)
    assert header_names(mail) == ALL_HEADERS
    assert not msg.defects
    assert [a.addr_spec for a in msg["To"].addresses] == [recipient(kind).email]
    assert msg["Subject"].startswith("[Q-12] ")
    assert "\n" not in msg["Subject"] and "\r" not in msg["Subject"]
    assert max(len(line) for line in mail.raw.split(b"\r\n")) <= 998
    assert b"\n" not in mail.raw.replace(b"\r\n", b"")


def test_control_characters_in_a_note_do_not_reach_the_body() -> None:
    text = body_text(
        followups.render_executive_note(THREAD, IDENTITY, note="Re\x00fu\x1b[31mnd\x07\x7f\x9b now")
    )

    assert "\n    Refu[31mnd now\n" in text
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f]", text)


def test_a_ten_kilobyte_note_arrives_whole_in_the_body_and_nowhere_else() -> None:
    note = "x" * 10_240

    mail = followups.render_sent_back(THREAD, IDENTITY, note=note)

    assert f"\n    {note}\n" in body_text(mail)
    assert parse(mail)["Content-Transfer-Encoding"] == "quoted-printable"
    assert len(mail.raw.split(b"\r\n\r\n", 1)[0]) < 2_000


def test_a_note_that_looks_like_headers_stays_in_the_body() -> None:
    mail = followups.render_executive_note(
        THREAD, IDENTITY, note="Bcc: victim@evil.example\r\n\r\nX-Injected: yes"
    )

    assert header_names(mail) == ALL_HEADERS
    assert "\n    Bcc: victim@evil.example\n\n    X-Injected: yes\n" in body_text(mail)


@pytest.mark.parametrize(
    "email", ["pat@acme.test\r\nBcc: victim@evil.example", "pat@acme.test>, victim@evil.example", "pat"]
)
def test_a_recipient_address_that_could_smuggle_a_header_is_refused(email: str) -> None:
    with pytest.raises(ValueError, match="unsafe email address"):
        followups.render_closed_confirmation(THREAD, IDENTITY, to=Address(email, "Pat"))
