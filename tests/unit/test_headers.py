"""Header values cannot add or split headers, whatever the complaint, names or subject hold (F24)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parseaddr

import pytest

from pipeline.model.mail import Address, Original, OutgoingMail
from pipeline.outbound.compose import Identity
from pipeline.outbound.headers import (
    HeaderBlock,
    HeaderInjectionError,
    check_generated,
    clean_address,
    clean_text,
    format_address,
)
from pipeline.outbound.opening import EscalationFacts, render_executive_ack, render_owner_forward

HOSTILE = {
    "crlf_bcc": "Refund\r\nBcc: victim@evil.example",
    "lf": "Refund\nX-Injected: yes",
    "line_separator": "Refund\u2028Bcc: victim@evil.example",
    "encoded_newline": "=?utf-8?q?a=0D=0ABcc:_x?=",
    "ten_kb_word": "A" * 10_240,
}
IDENTITY = Identity(Address("escalations@acme.test", "qmark"), "escalations", "acme.test", b"k" * 32)
FACTS = EscalationFacts(
    ref="Q-7",
    number=7,
    executive=Address("dana.chief@acme.test", "Dana Chief"),
    owner=Address("pat.owner@acme.test", "Pat Owner"),
    owner_timezone="Europe/Berlin",
    deadline=datetime(2026, 11, 24, 13, 30, tzinfo=UTC),
    opened_at=datetime(2026, 11, 24, 9, 30, tzinfo=UTC),
    executive_note="?",
    complaint=Original("gmail", Address("carla@customer.example", "Carla"), "today", "Broken", "It broke."),
    route="default",
    route_reasons=("no route matched",),
    rca_sections=("What happened",),
)
FORWARD_HEADERS = {
    "from", "to", "subject", "date", "message-id", "reply-to", "x-qmark-escalation",
    "auto-submitted", "x-auto-response-suppress", "mime-version", "content-type",
}  # fmt: skip
ACK_HEADERS = FORWARD_HEADERS | {"content-transfer-encoding"}


def hostile_facts(where: str, value: str) -> EscalationFacts:
    complaint = FACTS.complaint
    if where == "complaint subject":
        return replace(FACTS, complaint=replace(complaint, subject=value))
    if where == "complaint sender name":
        return replace(FACTS, complaint=replace(complaint, sender=Address("carla@customer.example", value)))
    if where == "owner name":
        return replace(FACTS, owner=Address("pat.owner@acme.test", value))
    return replace(FACTS, executive=Address("dana.chief@acme.test", value))


def assert_only_intended_headers(mail: OutgoingMail, intended: set[str]) -> None:
    lines = mail.raw.split(b"\r\n")
    assert max(len(line) for line in lines) <= 998
    parsed = BytesParser(policy=policy.default).parsebytes(mail.raw)
    assert {name.lower() for name in parsed} == intended
    assert len(parsed.keys()) == len(intended)
    for name in parsed:
        value = str(parsed[name])
        assert "\r" not in value and "\n" not in value and "\u2028" not in value, name
    assert [a.addr_spec for a in parsed["To"].addresses] == [mail.recipient]


@pytest.mark.parametrize(
    "where", ["complaint subject", "complaint sender name", "owner name", "executive name"]
)
@pytest.mark.parametrize("attack", sorted(HOSTILE))
def test_hostile_subjects_and_names_leave_exactly_the_intended_headers(where: str, attack: str) -> None:
    facts = hostile_facts(where, HOSTILE[attack])

    forward = render_owner_forward(facts, IDENTITY)
    ack = render_executive_ack(facts, IDENTITY)

    assert_only_intended_headers(forward, FORWARD_HEADERS)
    assert_only_intended_headers(ack, ACK_HEADERS)
    assert b"\r\nBcc:" not in forward.raw and b"\r\nBcc:" not in ack.raw


@pytest.mark.parametrize("attack", sorted(HOSTILE))
def test_a_hostile_display_name_in_the_from_address_cannot_add_a_header(attack: str) -> None:
    identity = replace(IDENTITY, from_address=Address("escalations@acme.test", HOSTILE[attack]))

    assert_only_intended_headers(render_owner_forward(FACTS, identity), FORWARD_HEADERS)


@pytest.mark.parametrize(
    "char",
    ["\r", "\n", "\r\n", "\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x00", "\x1b", "\u202e", "\ufeff"],
)
def test_clean_text_turns_each_line_breaking_or_control_character_into_a_space(char: str) -> None:
    assert clean_text(f"a{char}b") == "a b"


def test_clean_text_turns_tabs_into_spaces_and_collapses_whitespace() -> None:
    assert clean_text("  a\t\tb \r\n\r\n c  ") == "a b c"


def test_clean_text_truncates_on_a_character_boundary_with_an_ellipsis() -> None:
    cleaned = clean_text("é" * 2000)

    assert len(cleaned) == 998
    assert cleaned == "é" * 997 + "…"


def test_clean_text_leaves_ordinary_unicode_alone() -> None:
    assert clean_text("Jürgen Müller — 日本語 😀") == "Jürgen Müller — 日本語 😀"


def test_clean_text_breaks_encoded_words_so_no_decoder_finds_a_newline() -> None:
    cleaned = clean_text(HOSTILE["encoded_newline"])

    decoded = str(make_header(decode_header(cleaned)))
    assert "\r" not in decoded and "\n" not in decoded
    assert "Bcc" in cleaned


def test_clean_text_keeps_an_equals_question_mark_that_is_not_an_encoded_word() -> None:
    assert clean_text("Is 2+2=? Asking for a friend") == "Is 2+2=? Asking for a friend"


def test_clean_address_lower_cases_the_email_and_cleans_the_name() -> None:
    cleaned = clean_address(Address(" Pat.Owner@ACME.test ", "Pat\r\nBcc: x@evil.example"))

    assert cleaned == Address("pat.owner@acme.test", "Pat Bcc: x@evil.example")


def test_clean_address_caps_the_display_name_at_200_characters() -> None:
    assert len(clean_address(Address("a@b.test", "n" * 500)).name) == 200


@pytest.mark.parametrize(
    "email",
    [
        "",
        "no-at-sign",
        "a@b@c.test",
        "a b@c.test",
        "a\r\n@c.test",
        "<a@c.test>",
        "a,b@c.test",
        '"a"@c.test',
        "a;b@c.test",
        "a@c.test\nBcc: x@evil.example",
        "jürgen@c.test",
        "a@",
        "@c.test",
        "a@c..test",
        "a(x)@c.test",
    ],
)
def test_clean_address_refuses_unsafe_emails(email: str) -> None:
    with pytest.raises(ValueError, match="unsafe email address"):
        clean_address(Address(email, "Name"))


def test_format_address_rfc2047_encodes_non_ascii_names() -> None:
    value = format_address(Address("jm@acme.test", "Jürgen Müller"))

    assert value.isascii()
    assert "=?utf-8?" in value
    parsed = policy.default.header_factory("To", value)
    assert [(a.display_name, a.addr_spec) for a in parsed.addresses] == [("Jürgen Müller", "jm@acme.test")]


@pytest.mark.parametrize(
    "name", ['Owner, Pat "The Fixer"', "a\\b", "<x@evil.example>", HOSTILE["encoded_newline"]]
)
def test_format_address_with_specials_parses_back_to_one_mailbox(name: str) -> None:
    parsed = policy.default.header_factory("To", format_address(Address("pat@acme.test", name)))

    assert [a.addr_spec for a in parsed.addresses] == ["pat@acme.test"]
    assert parsed.addresses[0].display_name == clean_text(name, max_len=200)


def test_check_generated_accepts_the_header_set_it_was_told_about() -> None:
    check_generated(b"From: a@b.test\r\nSubject: hi\r\n\r\nbody\r\n", ["Subject", "From"])


def test_check_generated_rejects_an_extra_header() -> None:
    raw = b"From: a@b.test\r\nSubject: hi\r\nBcc: victim@evil.example\r\n\r\nbody\r\n"

    with pytest.raises(HeaderInjectionError, match="bcc"):
        check_generated(raw, ["From", "Subject"])


def test_check_generated_rejects_a_line_over_998_octets() -> None:
    raw = b"From: a@b.test\r\n\r\n" + b"x" * 999 + b"\r\n"

    with pytest.raises(HeaderInjectionError, match="998"):
        check_generated(raw, ["From"])


def test_check_generated_rejects_a_bare_line_feed_in_the_headers() -> None:
    with pytest.raises(HeaderInjectionError, match="bare"):
        check_generated(b"From: a@b.test\nSubject: x\r\n\r\nbody\r\n", ["From", "Subject"])


@pytest.mark.parametrize(
    "value",
    [
        "=?utf-8?q?a=0D=0ABcc:_x?=",
        "=?utf-8?b?YQ0KQmNjOiB4?=",
        "=?x-unknown?q?a=0ABcc:_x?=",
        "=?utf-8?q?a=E2=80=A8b?=",
        "word=?utf-8?q?=00?=word",
        "=?utf-7?q?a+AA0-Bcc:_x?=",
    ],
)
def test_check_generated_rejects_an_encoded_word_that_decodes_to_a_control_character(value: str) -> None:
    raw = f"From: a@b.test\r\nSubject: {value}\r\n\r\nbody\r\n".encode("ascii")

    with pytest.raises(HeaderInjectionError, match="control"):
        check_generated(raw, ["From", "Subject"])


def test_check_generated_rejects_a_literal_control_character_in_a_value() -> None:
    with pytest.raises(HeaderInjectionError, match="control"):
        check_generated(b"From: a@b.test\r\nSubject: a\x1bb\r\n\r\nbody\r\n", ["From", "Subject"])


def test_check_generated_rejects_8bit_header_bytes() -> None:
    with pytest.raises(HeaderInjectionError, match="8-bit"):
        check_generated("From: a@b.test\r\nSubject: Grüße\r\n\r\nbody\r\n".encode(), ["From", "Subject"])


def test_check_generated_rejects_a_bare_line_feed_in_the_body() -> None:
    with pytest.raises(HeaderInjectionError, match="bare"):
        check_generated(b"From: a@b.test\r\n\r\nbody\nmore\r\n", ["From"])


def test_check_generated_rejects_a_line_that_ends_the_header_block_early() -> None:
    raw = b"From: a@b.test\r\nnot a header\r\nSubject: x\r\n\r\nbody\r\n"

    with pytest.raises(HeaderInjectionError):
        check_generated(raw, ["From", "Subject"])


def test_check_generated_accepts_folded_and_encoded_values() -> None:
    raw = b"From: a@b.test\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= and\r\n more\r\n\r\nbody\r\n"

    check_generated(raw, ["From", "Subject"])


def wire_fields(block: HeaderBlock) -> list[str]:
    """The block's fields, each with its folding kept."""
    return re.split(r"\r\n(?![ \t])", block.as_bytes().decode("ascii"))[:-1]


def reparse(block: HeaderBlock) -> EmailMessage:
    return BytesParser(policy=policy.default).parsebytes(block.as_bytes() + b"\r\n")


def unfolded(field: str) -> str:
    return "".join(field.split(":", 1)[1].splitlines()).strip()


def rfc2047(text: str) -> str:
    """``text`` as an RFC 2047 decoder reads it (the space between two encoded words dropped)."""
    return str(make_header(decode_header(text)))


def test_a_header_block_folds_long_ascii_text_at_spaces_and_it_unfolds_to_the_same_text() -> None:
    subject = " ".join(f"word{n}" for n in range(60))
    block = HeaderBlock()

    block.text("Subject", subject)

    (field,) = wire_fields(block)
    assert "\r\n " in field
    assert all(len(line) <= 78 for line in field.split("\r\n"))
    assert reparse(block)["Subject"] == subject


def test_a_header_block_encodes_only_the_non_ascii_words_and_keeps_the_tag_literal() -> None:
    subject = "[Q-12] ? Rückerstattung für Jürgen Müller " + "très urgent " * 12
    block = HeaderBlock()

    block.text("Subject", subject)

    (field,) = wire_fields(block)
    assert field.startswith("Subject: [Q-12] ?")
    assert "=?utf-8?" in field
    assert all(len(line) <= 78 for line in field.split("\r\n"))
    assert all(len(word) <= 75 for word in re.findall(r"=\?\S+\?=", field))
    assert reparse(block)["Subject"] == clean_text(subject)
    assert rfc2047(unfolded(field)) == clean_text(subject)


@pytest.mark.parametrize(
    "name",
    [
        "Jürgen Müller",
        "Zoë Owner, Head of Billing",
        'Zoë "The Fixer"',
        "😀" * 200,
        "日本語の名前 " * 20,
        "Pat Owner",
        'Owner, Pat "The Fixer"',
        "x" * 200,
    ],
)
def test_a_header_block_address_is_one_mailbox_whose_name_decodes_exactly(name: str) -> None:
    block = HeaderBlock()

    block.address("To", Address("Pat@ACME.test", name))

    (field,) = wire_fields(block)
    assert max(len(line) for line in field.split("\r\n")) <= 998
    (parsed,) = reparse(block)["To"].addresses
    assert parsed.addr_spec == "pat@acme.test"
    # the stdlib keeps the space between two encoded words of a phrase; RFC 2047 drops it
    assert "".join(parsed.display_name.split()) == "".join(clean_text(name, max_len=200).split())
    display, email = parseaddr(unfolded(field))
    assert (rfc2047(display), email) == (clean_text(name, max_len=200), "pat@acme.test")


@pytest.mark.parametrize("attack", sorted(HOSTILE))
def test_a_header_block_cleans_what_it_is_given_so_no_value_adds_a_field(attack: str) -> None:
    block = HeaderBlock()

    block.text("Subject", HOSTILE[attack])
    block.address("To", Address("pat@acme.test", HOSTILE[attack]))
    block.token("X-Auto-Response-Suppress", "All")

    check_generated(block.as_bytes() + b"\r\nbody\r\n", ["Subject", "To", "X-Auto-Response-Suppress"])
    assert [name.lower() for name in reparse(block)] == ["subject", "to", "x-auto-response-suppress"]


@pytest.mark.parametrize("value", ["a\r\nBcc: x@evil.example", "a\nb", "Grüße", "a  b", "tab\there"])
def test_a_header_block_refuses_a_structured_value_that_is_not_plain_printable_ascii(value: str) -> None:
    with pytest.raises(ValueError, match="printable ASCII"):
        HeaderBlock().token("Message-ID", value)


@pytest.mark.parametrize("name", ["Bad Name", "Subject:", "", "X-\u00e9", "Subject\r\nBcc"])
def test_a_header_block_refuses_a_malformed_field_name(name: str) -> None:
    with pytest.raises(ValueError, match="field name"):
        HeaderBlock().token(name, "x")
