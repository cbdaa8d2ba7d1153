"""What a reply says: commands, acknowledgements, approvals and "?".

pipeline/inbound/commands.py, pipeline/inbound/acknowledgements.py and pipeline/inbound/question.py.

Realistic replies go through :func:`pipeline.inbound.quotes.latest_reply` first, as the caller does.
"""

from __future__ import annotations

import pytest

from pipeline.inbound.acknowledgements import (
    APPROVALS,
    MIN_EXPLANATION_WORDS,
    is_acknowledgement,
    is_approval,
)
from pipeline.inbound.commands import (
    COMMANDS,
    MAX_EXTRA_DAYS,
    Command,
    CommandError,
    CommandSpec,
    UnknownCommand,
    describe_commands,
    parse_command,
    parse_need_more_time,
    parse_reassign,
)
from pipeline.inbound.question import split_question
from pipeline.inbound.quotes import latest_reply
from rules.durations import Duration

GMAIL_QUOTE = """
On Tue, 3 Jun 2025 at 10:00, qmark <escalations@acme.test> wrote:
> [Q-12] A customer reports they were billed twice in November.
> Please explain by 18:00 (Europe/Berlin).
>
> #close when you are done
"""

OUTLOOK_QUOTE = """
________________________________
From: qmark <escalations@acme.test>
Sent: Tuesday, June 3, 2025 10:00 AM
To: Pat Owner <pat@acme.test>
Subject: [Q-12] Billed twice in November

A customer reports they were billed twice in November.
Approve? Reply "ok" to close.
"""

SIGNATURE = "\n-- \nPat Owner\nBilling, Acme\n"

EXPLANATION = (
    "The duplicate charge came from a retry in the payment gateway after a timeout on Nov 23; "
    "we refunded the second charge and are adding an idempotency key."
)


def reply(words: str, below: str = GMAIL_QUOTE) -> str:
    """The owner's new words of a reply with ``words`` on top of ``below``, as the caller gets them."""
    return latest_reply(words + "\n" + below)


# Commands: what counts as one --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("#close", Command("close", "", "")),
        ("#Close", Command("close", "", "")),
        ("#CLOSE.", Command("close", "", "")),
        ("#close!", Command("close", "", "")),
        ("\n\n   #close   \n", Command("close", "", "")),
        ("#reassign lee@acme.test", Command("reassign", "lee@acme.test", "")),
        ("#reassign: lee@acme.test", Command("reassign", "lee@acme.test", "")),
        (
            "#need-more-time 2h waiting for the vendor",
            Command("need-more-time", "2h waiting for the vendor", ""),
        ),
        ("#need_more_time 4h vendor", Command("need-more-time", "4h vendor", "")),
        (
            "#close\r\nThe refund went out today.\r\n\r\nThanks all",
            Command("close", "", "The refund went out today.\n\nThanks all"),
        ),
    ],
    ids=[
        "a bare command",
        "the name ignores case",
        "trailing punctuation after the name is dropped",
        "an exclamation mark after the name is dropped",
        "blank lines and spaces around the first line do not matter",
        "the rest of the line is the arguments",
        "a colon between name and arguments is dropped",
        "arguments keep their words in order",
        "an underscore in the name counts as a hyphen",
        "the lines below are the other words with CRLF made LF",
    ],
)
def test_a_first_line_starting_with_hash_and_a_name_is_a_command(words: str, expected: Command) -> None:
    assert parse_command(words) == expected


@pytest.mark.parametrize(
    "words",
    [
        "",
        "   \n\n",
        "#",
        "# close",
        "## Root cause",
        "##close",
        "#1 priority is the refund, then the writeup.",
        "#42",
        "We fixed it, see #close below",
        "Done.\n#close",
        "#close-out-of-band" + "x" * 40,
    ],
    ids=[
        "empty words",
        "only blank lines",
        "a lone hash",
        "a hash and a space is a Markdown heading",
        "a level-two Markdown heading",
        "two hashes",
        "a hash and a number",
        "only a number",
        "a hashtag after other words",
        "a command below another line",
        "a name longer than forty characters",
    ],
)
def test_anything_else_is_not_a_command(words: str) -> None:
    assert parse_command(words) is None


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("#clsoe", UnknownCommand("clsoe", "close")),
        ("#Reasign lee@acme.test", UnknownCommand("reasign", "reassign")),
        ("#need-more-tme 2d vendor", UnknownCommand("need-more-tme", "need-more-time")),
        ("#moretime 2d", UnknownCommand("moretime", "need-more-time")),
        ("#urgent", UnknownCommand("urgent", None)),
        ("#hello world", UnknownCommand("hello", None)),
    ],
    ids=[
        "a typo of close suggests close",
        "a typo of reassign in capitals suggests reassign",
        "a typo of need-more-time suggests need-more-time",
        "part of a name suggests the whole name",
        "a far-off name suggests nothing",
        "a hashtag on the first line suggests nothing",
    ],
)
def test_an_unknown_name_is_an_unknown_command_with_the_closest_known_name(
    words: str, expected: UnknownCommand
) -> None:
    assert parse_command(words) == expected


def test_an_unknown_command_explains_itself_with_a_suggestion_or_the_known_commands() -> None:
    assert UnknownCommand("clsoe", "close").problem == (
        "#clsoe is not a command qmark knows; did you mean #close?"
    )
    assert UnknownCommand("hello").problem == (
        "#hello is not a command qmark knows; the commands are #close, #reassign, #need-more-time,"
        " #waiting-on-customer, #resume, #done, #drop, #due."
    )


def test_the_known_commands_are_the_escalations_then_the_actions_in_that_order() -> None:
    assert [spec.name for spec in COMMANDS] == [
        "close",
        "reassign",
        "need-more-time",
        "waiting-on-customer",
        "resume",
        "done",
        "drop",
        "due",
    ]
    assert COMMANDS[1] == CommandSpec(
        "reassign", "#reassign person@domain", "hands the escalation to someone listed in people.yaml"
    )
    assert all(spec.usage.startswith(f"#{spec.name}") for spec in COMMANDS)


def test_describe_commands_gives_one_line_per_command_with_usage_and_what_it_does() -> None:
    lines = describe_commands().splitlines()

    assert lines == [f"{spec.usage} — {spec.does}" for spec in COMMANDS]
    assert f"at most {MAX_EXTRA_DAYS} days" in lines[2]


# Commands in realistic replies ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "#close\n\nThe refund went out this morning." + SIGNATURE + GMAIL_QUOTE,
            Command("close", "", "The refund went out this morning."),
        ),
        (
            "#reassign Lee Kim <lee@acme.test>\nLee owns invoicing since June.\n" + OUTLOOK_QUOTE,
            Command("reassign", "Lee Kim <lee@acme.test>", "Lee owns invoicing since June."),
        ),
        (
            "#need-more-time 8 business hours waiting for the gateway's logs\n\nBest regards,\nPat\n"
            + GMAIL_QUOTE,
            Command("need-more-time", "8 business hours waiting for the gateway's logs", ""),
        ),
    ],
    ids=[
        "a Gmail reply with a signature and the quoted forward",
        "an Outlook reply with the From/Sent block below",
        "a reply with a sign-off above the quote",
    ],
)
def test_a_command_in_a_real_reply_is_read_from_the_owners_new_words(body: str, expected: Command) -> None:
    assert parse_command(latest_reply(body)) == expected


def test_a_command_only_in_the_quoted_forward_is_not_the_owners_command() -> None:
    assert parse_command(reply("Thanks, on it.")) is None


# #need-more-time ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "duration", "reason"),
    [
        ("90s vendor call", Duration("90s", seconds=90), "vendor call"),
        ("30m the on-call is in a meeting", Duration("30m", seconds=1800), "the on-call is in a meeting"),
        ("4h waiting for the vendor", Duration("4h", seconds=14400), "waiting for the vendor"),
        ("2d waiting for the vendor", Duration("2d", seconds=172800), "waiting for the vendor"),
        ("1h 30m vendor", Duration("1h 30m", seconds=5400), "vendor"),
        ("2 days because of the holiday", Duration("2 days", seconds=172800), "because of the holiday"),
        ("8 business hours audit", Duration("8 business hours", business_hours=8), "audit"),
        ("2 business days audit", Duration("2 business days", business_days=2), "audit"),
        ("2d - waiting for logs", Duration("2d", seconds=172800), "waiting for logs"),
        ("2d: waiting for logs", Duration("2d", seconds=172800), "waiting for logs"),
        ("2d, waiting for logs", Duration("2d", seconds=172800), "waiting for logs"),
        ("14d the audit takes two weeks", Duration("14d", seconds=14 * 86400), "the audit takes two weeks"),
        ("10 business days audit", Duration("10 business days", business_days=10), "audit"),
    ],
    ids=[
        "seconds",
        "minutes",
        "hours",
        "days",
        "hours and minutes as two words",
        "a number and a unit word",
        "business hours",
        "business days",
        "a dash between duration and reason",
        "a colon after the duration",
        "a comma after the duration",
        "exactly fourteen days",
        "exactly ten business days",
    ],
)
def test_need_more_time_reads_a_duration_then_the_reason(args: str, duration: Duration, reason: str) -> None:
    assert parse_need_more_time(args) == (duration, reason)


def test_need_more_time_takes_the_reason_from_the_lines_below_when_the_line_has_none() -> None:
    command = parse_command("#need-more-time 2d\nThe vendor has not sent the logs yet.")
    assert isinstance(command, Command)

    assert parse_need_more_time(command.args, rest=command.rest) == (
        Duration("2d", seconds=172800),
        "The vendor has not sent the logs yet.",
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("", "Say how much more time you need and why"),
        ("   ", "Say how much more time you need and why"),
        ("soon, waiting for the vendor", '"soon," is not a duration; start with one such as "4h"'),
        ("two days vendor", '"two" is not a duration'),
        ("2x vendor", '"2x" is not a duration'),
        ("2d", "Say why you need more time after the duration"),
        ("2d -", "Say why you need more time after the duration"),
        ("2d 42", "Say why you need more time after the duration"),
        ("0h vendor", '"0h" is no time at all'),
        ("0 business days vendor", '"0 business days" is no time at all'),
        ("15d vendor", '"15d" is too long: ask for at most 14 days (10 business days) at a time.'),
        ("3w vendor", '"3w" is too long: ask for at most 14 days'),
        ("11 business days vendor", '"11 business days" is too long'),
        ("81 business hours vendor", '"81 business hours" is too long'),
    ],
    ids=[
        "no arguments",
        "only spaces",
        "a word instead of a duration",
        "a number in words",
        "an unknown unit",
        "no reason",
        "only punctuation as the reason",
        "only a number as the reason",
        "zero time",
        "zero business days",
        "more than fourteen days",
        "three weeks",
        "more than ten business days",
        "more than eighty business hours",
    ],
)
def test_need_more_time_explains_a_wrong_use_in_one_line(args: str, message: str) -> None:
    with pytest.raises(CommandError) as raised:
        parse_need_more_time(args)

    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


def test_a_command_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_need_more_time("later please")


# #reassign ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        "lee@acme.test",
        "Lee@ACME.test",
        "<lee@acme.test>",
        "Lee Kim <lee@acme.test>",
        '"Kim, Lee" <Lee@Acme.Test>',
        "lee@acme.test<mailto:lee@acme.test>",
        "mailto:lee@acme.test",
        "  lee@acme.test.  ",
    ],
    ids=[
        "a bare address",
        "an address in mixed case is lower-cased",
        "an address in angle brackets",
        "a name and an address",
        "a quoted name with a comma",
        "Outlook's address with its mailto link",
        "a mailto link",
        "a full stop and spaces around it",
    ],
)
def test_reassign_reads_one_address_in_lower_case(args: str) -> None:
    assert parse_reassign(args) == "lee@acme.test"


def test_reassign_keeps_plus_tags_and_subdomains() -> None:
    assert parse_reassign("Lee <Lee.Kim+billing@eu.Acme.test>") == "lee.kim+billing@eu.acme.test"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("", "Say who should take it over; write e.g."),
        ("Lee from billing", '"Lee from billing" has no email address'),
        ("lee@acme", '"lee@acme" has no email address'),
        ("lee@acme.test, kim@acme.test", "Name one person only, not lee@acme.test and kim@acme.test"),
        ("lee@acme.test please", "Write only the address on the #reassign line"),
        ("<lee@acme.test> she owns billing now", "Write only the address on the #reassign line"),
        ("x" * 400 + "@acme.test", "That #reassign line is too long"),
    ],
    ids=[
        "no arguments",
        "a name without an address",
        "an address without a domain suffix",
        "two addresses",
        "words after the address",
        "words after an address in angle brackets",
        "a line longer than any address",
    ],
)
def test_reassign_explains_a_wrong_use_in_one_line(args: str, message: str) -> None:
    with pytest.raises(CommandError) as raised:
        parse_reassign(args)

    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


# Acknowledgements -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "words",
    [
        "",
        "looking into it",
        "On it.",
        "on it!",
        "Thanks, will check and get back to you",
        "Ack.",
        "Acknowledged",
        "Noted, will revert by EOD",
        "I'll look into this today",
        "I’ll look into this today",
        "Received, investigating",
        "Checking with the team",
        "Got it. We're investigating and will keep you posted.",
        "Will have a look later today",
        "Hi Dana,\n\nThanks for flagging, I am looking into this with the billing team "
        "and will get back to you by tomorrow.",
        "Hi Sam, I'm on it and checking with our payments team; I'll let you know by end of day.",
        "Ich kümmere mich darum",
        "Danke, ich schaue mir das an und melde mich morgen.",
        "Je regarde ça",
        "Bien reçu, je m'en occupe et je reviens vers vous.",
        "ok thx",
        "Will do.",
        "Sorry about that.",
    ],
    ids=[
        "empty words",
        "looking into it",
        "on it",
        "on it with an exclamation mark",
        "thanks, will check and get back",
        "ack",
        "acknowledged",
        "noted, will revert by EOD",
        "I'll look into this today",
        "a curly apostrophe",
        "received, investigating",
        "checking with the team",
        "got it, investigating, will keep you posted",
        "will have a look later",
        "a greeting, thanks and a promise in one sentence",
        "a greeting and several acknowledgements",
        "German: I will take care of it",
        "German: thanks, I will look and get back tomorrow",
        "French: I am looking at it",
        "French: received, I am on it and will get back",
        "two words without substance",
        "will do",
        "a few words without substance",
    ],
)
def test_a_mere_acknowledgement_is_recognised(words: str) -> None:
    assert is_acknowledgement(words) is True


@pytest.mark.parametrize(
    "words",
    [
        EXPLANATION,
        "Thanks for flagging. The gateway timed out on Nov 23 and our client retried the capture, "
        "so the card was charged twice.",
        "Hi Dana,\nthe pallet was dropped by the carrier at the Leipzig hub; we filed a claim and "
        "shipped a replacement.",
        "Looking into it. First finding: the nightly invoice job ran twice after the scheduler restart.",
        "Die doppelte Abbuchung kam von einem Retry im Zahlungsgateway nach einem Timeout; "
        "wir haben den Betrag erstattet.",
    ],
    ids=[
        "the refund explanation",
        "thanks, then an explanation",
        "a greeting, then an explanation",
        "an acknowledgement with a finding after it",
        "a German explanation",
    ],
)
def test_a_real_explanation_is_not_an_acknowledgement(words: str) -> None:
    assert is_acknowledgement(words) is False


def test_the_threshold_counts_words_with_a_letter_left_after_the_phrases() -> None:
    # Given a reply with exactly as many substantive words as needed, then one fewer
    enough = " ".join(["refund"] * MIN_EXPLANATION_WORDS)
    short = " ".join(["refund"] * (MIN_EXPLANATION_WORDS - 1))

    # Then numbers and acknowledgement phrases do not count, the words do
    assert is_acknowledgement(f"On it. {enough}") is False
    assert is_acknowledgement(f"On it. {short} 1 2 3 4 5 -- !") is True


@pytest.mark.parametrize(
    ("body", "acknowledgement"),
    [
        ("Looking into it." + GMAIL_QUOTE, True),
        ("Thanks, will check and get back to you\n\nBest regards,\nPat Owner\n" + OUTLOOK_QUOTE, True),
        ("On it." + SIGNATURE + GMAIL_QUOTE, True),
        (EXPLANATION + SIGNATURE + GMAIL_QUOTE, False),
        ("Hi Dana,\n\n" + EXPLANATION + "\n\nPat\n" + OUTLOOK_QUOTE, False),
    ],
    ids=[
        "a Gmail acknowledgement above the quote",
        "an Outlook acknowledgement with a sign-off",
        "an acknowledgement with a signature",
        "a Gmail explanation with a signature",
        "an Outlook explanation with a greeting and a name",
    ],
)
def test_a_real_reply_is_judged_on_the_owners_new_words_only(body: str, acknowledgement: bool) -> None:
    assert is_acknowledgement(latest_reply(body)) is acknowledgement


# Approvals ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "words",
    [
        "approve",
        "Approved",
        "APPROVED.",
        "ok",
        "OK!",
        "Okay.",
        "ok!!",
        "👍",
        "👍🏽",
        "👍🏿👍🏿",
        "👍️",
        "+1",
        "LGTM",
        "Yes",
        "Looks good",
        "Go ahead.",
        "Close it",
        "ok, close",
        "OK, close it.",
        "  \n\nApproved  \n",
        "Approved\n\nDana Chief\nCEO, Acme",
    ],
    ids=[
        "approve",
        "approved",
        "approved in capitals with a full stop",
        "ok",
        "ok with an exclamation mark",
        "okay with a full stop",
        "ok with two exclamation marks",
        "a thumbs up",
        "a thumbs up with a skin tone",
        "two thumbs up with a skin tone",
        "a thumbs up with a variation selector",
        "plus one",
        "lgtm",
        "yes",
        "looks good",
        "go ahead",
        "close it",
        "ok, close",
        "ok, close it",
        "blank lines and spaces around it",
        "a signature below",
    ],
)
def test_an_approval_on_the_first_line_approves(words: str) -> None:
    assert is_approval(words) is True


@pytest.mark.parametrize(
    "words",
    [
        "",
        "?",
        "ok but why did this happen?",
        "ok?",
        "not ok",
        "No",
        "Approved by whom",
        "Please explain first",
        "Thanks\nok",
        "OK\n\nWhy did this take three days?",
        "👎",
    ],
    ids=[
        "empty words",
        "a question mark",
        "ok with a question",
        "ok as a question",
        "not ok",
        "no",
        "more words after approved",
        "a request",
        "ok on the second line",
        "a question below the approval",
        "a thumbs down",
    ],
)
def test_anything_else_does_not_approve(words: str) -> None:
    assert is_approval(words) is False


def test_every_listed_approval_approves_as_written() -> None:
    assert all(is_approval(approval) for approval in APPROVALS)


@pytest.mark.parametrize(
    ("body", "approved"),
    [
        ("Approved.\n\nBest regards,\nDana Chief\n" + OUTLOOK_QUOTE, True),
        ("👍🏼\n\nSent from my iPhone\n" + GMAIL_QUOTE, True),
        ("ok" + "\n-- \nDana Chief\nCEO" + GMAIL_QUOTE, True),
        ("ok but why did this happen?" + GMAIL_QUOTE, False),
        ("Not yet.\n" + OUTLOOK_QUOTE, False),
    ],
    ids=[
        "an Outlook approval with a sign-off",
        "a thumbs up sent from a phone",
        "ok with a signature",
        "ok with a question in a Gmail reply",
        "a refusal above the Outlook block whose quote says ok",
    ],
)
def test_a_real_reply_approves_on_the_executives_new_words_only(body: str, approved: bool) -> None:
    assert is_approval(latest_reply(body)) is approved


# Questions ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("?", (True, "")),
        ("??", (True, "")),
        ("? this is the third time this month", (True, "this is the third time this month")),
        ("?\n-- \nDana Chief", (True, "")),
        ("ok", (False, "")),
        ("Why did this happen?", (False, "")),
        ("", (False, "")),
    ],
    ids=[
        "a bare question mark",
        "two question marks",
        "a question mark with a note",
        "a question mark with a signature",
        "an approval",
        "a question in words",
        "empty words",
    ],
)
def test_is_question_reads_the_executives_question_mark_and_note(
    words: str, expected: tuple[bool, str]
) -> None:
    assert split_question(words) == expected


def test_is_question_leaves_out_the_signers_name_and_reads_a_real_reply() -> None:
    assert split_question("?\nDana Chief", ("Dana Chief",)) == (True, "")
    assert split_question(reply("? again, and the customer is a key account" + SIGNATURE)) == (
        True,
        "again, and the customer is a key account",
    )
