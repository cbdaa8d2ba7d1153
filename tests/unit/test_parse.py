"""Raw bytes become an InboundMail (pipeline.inbound.parse): our fixture mails and made-up edge cases."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from email.parser import BytesParser
from email.policy import default
from pathlib import Path

import pytest

import pipeline.inbound.parse as parse_module
from pipeline.inbound.limits import Unparseable
from pipeline.inbound.parse import parse_mail
from pipeline.model.mail import Address, InboundMail

MAIL = Path(__file__).resolve().parents[1] / "mail"
AUTH_PASS = (
    "mx.acme.test; dkim=pass header.d=acme.test; spf=pass smtp.mailfrom=acme.test; "
    "dmarc=pass header.from=acme.test"
)
DANA = Address(email="dana.chief@acme.test", name="Dana Chief")


def fixture(name: str) -> InboundMail:
    return parse_mail((MAIL / name).read_bytes())


def message(headers: str, body: str = "?\n", *, newline: str = "\n") -> bytes:
    text = headers.strip("\n") + "\n\n" + body
    return text.replace("\n", newline).encode("utf-8")


BASIC = """\
From: Dana Chief <dana.chief@acme.test>
To: escalations@acme.test
Subject: Fwd: Charged twice
Date: Mon, 23 Nov 2026 09:12:41 +0000
Message-ID: <basic-1@acme.test>
"""


# -- the fixture mails -------------------------------------------------------------------------


def test_gmail_forward_yields_the_customers_address_and_subject() -> None:
    mail = fixture("gmail-forward.eml")

    assert mail.forwarded is not None
    assert mail.forwarded.shape == "gmail"
    assert mail.forwarded.sender == Address(email="jordan@shop.example", name="Jordan Buyer")
    assert mail.forwarded.subject == "Charged twice for invoice 4411"
    assert mail.forwarded.body.startswith("Hello,\n\nI was charged twice for invoice 4411.")
    assert mail.note == "?"


def test_gmail_forward_has_the_executives_envelope_headers() -> None:
    mail = fixture("gmail-forward.eml")

    assert mail.from_ == DANA
    assert mail.to == (Address(email="escalations@acme.test"),)
    assert mail.cc == ()
    assert mail.subject == "Fwd: Charged twice for invoice 4411"
    assert mail.message_id == "CAHx7kP0q3mV9yJr4fN2wB8Z1aTq0Lr6uXe5s-Q@mail.gmail.com"
    assert mail.date == datetime(2026, 11, 23, 9, 12, 41, tzinfo=UTC)
    assert mail.content_type == "text/plain"
    assert mail.defects == ()


def test_authentication_results_are_kept_exactly_but_unfolded() -> None:
    mail = fixture("gmail-forward.eml")

    assert mail.header("Authentication-Results") == AUTH_PASS


def test_headers_keep_every_field_in_order_with_lower_case_names() -> None:
    mail = fixture("gmail-forward.eml")

    names = [name for name, _ in mail.headers]
    assert names == [
        "return-path", "received", "authentication-results", "mime-version", "from", "date",
        "message-id", "subject", "to", "content-type",
    ]  # fmt: skip
    assert mail.header("received").startswith("from mail-sor-f41.google.com (mail-sor-f41.google.com")
    assert "\n" not in mail.header("received")


@pytest.mark.parametrize(
    ("name", "shape", "customer", "subject"),
    [
        ("gmail-forward.eml", "gmail", "jordan@shop.example", "Charged twice for invoice 4411"),
        ("gmail-forward-html.eml", "gmail", "riley@shop.example", "Refund for order 7782 still missing"),
        ("outlook-forward.eml", "outlook", "casey@shop.example", "Order 5120 arrived damaged"),
        ("outlook-html-only.eml", "outlook", "morgan.rivers@shop.example",
         "Invoice 4518 shows the wrong VAT rate"),
        ("apple-forward.eml", "apple", "taylor@shop.example", "My parcel never arrived"),
        ("thunderbird-forward.eml", "thunderbird", "quinn@shop.example", "Support never called back"),
        ("attached-rfc822.eml", "attached", "jordan@shop.example", "Charged twice for invoice 4411"),
        ("key-account.eml", "gmail", "avery@bigcustomer.example", "Delivery for Rotterdam nine days late"),
        ("ios-forward.eml", "apple", "sky@shop.example", "Wrong size delivered twice"),
        ("outlook-german.eml", "inline", "joerg.kaeufer@shop.example", "Rechnung 4473 doppelt abgebucht"),
        ("french-forward.eml", "inline", "camille@shop.example", "Commande 5299 jamais livrée"),
    ],
)  # fmt: skip
def test_every_forward_fixture_yields_its_customer_and_subject(
    name: str, shape: str, customer: str, subject: str
) -> None:
    mail = fixture(name)

    assert mail.forwarded is not None
    assert mail.forwarded.shape == shape
    assert mail.forwarded.sender is not None
    assert mail.forwarded.sender.email == customer
    assert mail.forwarded.subject == subject
    assert mail.forwarded.body
    assert mail.note.startswith("?")  # the iPhone adds "Sent from my iPhone" below the question mark
    assert mail.from_ == DANA


@pytest.mark.parametrize(
    ("name", "note"),
    [
        ("note-double-question.eml", "??"),
        ("note-question-bang.eml", "?!"),
        ("note-with-signature.eml", "? \n-- \nDana Chief\nCEO, Acme"),
        ("note-with-comment.eml", "? this is the third time this month"),
        ("note-fyi.eml", "FYI, see below"),
    ],
)
def test_the_note_is_the_executives_text_above_the_forward(name: str, note: str) -> None:
    mail = fixture(name)

    assert mail.note == note
    assert mail.forwarded is not None
    assert mail.forwarded.sender == Address(email="jordan@shop.example", name="Jordan Buyer")


def test_plain_question_has_nothing_forwarded_and_the_whole_text_as_note() -> None:
    mail = fixture("plain-question.eml")

    assert mail.forwarded is None
    assert mail.note == "?"
    assert mail.text == "?\n"


def test_gmail_html_forward_prefers_the_plain_part_and_decodes_quoted_printable() -> None:
    mail = fixture("gmail-forward-html.eml")

    assert mail.content_type == "multipart/alternative"
    assert "<div" not in mail.text
    assert mail.forwarded is not None
    assert "refund of €89.90 is still missing" in mail.forwarded.body
    assert mail.in_reply_to == "CAB9rT2x-riley-7782@mail.gmail.com"
    assert mail.references == ("CAB9rT2x-riley-7782@mail.gmail.com",)


def test_outlook_html_only_mail_is_converted_before_detection() -> None:
    mail = fixture("outlook-html-only.eml")

    assert mail.content_type == "text/html"
    assert "<p" not in mail.text
    assert "MsoNormal" not in mail.text
    assert mail.forwarded is not None
    assert mail.forwarded.date == "Friday, 20 November 2026 14:27"
    assert "we’re a registered business" in mail.forwarded.body  # windows-1252 curly apostrophe


def test_outlook_plain_and_html_forward_uses_the_plain_part_with_crlf_input() -> None:
    mail = fixture("outlook-forward.eml")

    assert "\r" not in mail.text
    assert mail.forwarded is not None
    assert mail.forwarded.date == "Sunday, November 22, 2026 8:41 PM"
    assert "glasses are\nbroken" in mail.forwarded.body  # quoted-printable soft break joined


def test_attached_original_keeps_the_inner_message_as_standalone_bytes() -> None:
    mail = fixture("attached-rfc822.eml")

    original = mail.forwarded
    assert original is not None
    assert original.date == "Thu, 19 Nov 2026 18:03:05 +0100"
    assert original.body.startswith("Hello,\n\nI was charged twice for invoice 4411.")
    assert original.raw is not None
    assert b"\r\n" in original.raw
    assert b"\n" not in original.raw.replace(b"\r\n", b"")
    inner = BytesParser(policy=default).parsebytes(original.raw)
    assert inner["From"] == "Jordan Buyer <jordan@shop.example>"
    assert inner["Message-ID"] == "<a81c3f0e-4411-twice@shop.example>"
    assert mail.note == "?"


def test_cc_owner_mail_lists_the_owner_in_to_and_the_intake_in_cc() -> None:
    mail = fixture("cc-owner.eml")

    assert mail.to == (Address(email="pat.owner@acme.test", name="Pat Owner"),)
    assert mail.cc == (Address(email="escalations@acme.test"),)


def test_auto_reply_carries_its_auto_submitted_header() -> None:
    mail = fixture("auto-reply.eml")

    assert mail.header("auto-submitted") == "auto-replied"
    assert mail.in_reply_to == "qmark.Q-12.ack.1@acme.test"
    assert mail.forwarded is None


def test_no_dmarc_fixture_says_dmarc_failed() -> None:
    mail = fixture("no-dmarc.eml")

    assert "dmarc=fail" in mail.header("authentication-results")
    assert mail.from_ == DANA


def test_not_executive_fixture_comes_from_a_colleague() -> None:
    mail = fixture("not-executive.eml")

    assert mail.from_ == Address(email="jamie.intern@acme.test", name="Jamie Intern")
    assert "dmarc=pass" in mail.header("authentication-results")


def test_encoded_word_subjects_are_decoded() -> None:
    assert fixture("outlook-german.eml").subject == "WG: Rechnung 4473 doppelt abgebucht – bitte klären"
    assert fixture("french-forward.eml").subject == "Tr: Commande 5299 jamais livrée"


@pytest.mark.parametrize("name", sorted(path.name for path in MAIL.glob("*.eml")))
def test_every_fixture_passes_the_limits_and_parses(name: str) -> None:
    mail = fixture(name)

    assert mail.from_ is not None
    assert mail.message_id
    assert mail.date is not None
    assert mail.date.tzinfo is not None


def test_the_fixture_readme_lists_every_fixture() -> None:
    readme = (MAIL / "README.md").read_text(encoding="utf-8")

    missing = [path.name for path in MAIL.glob("*.eml") if f"`{path.name}`" not in readme]
    assert missing == []


# -- made-up edge cases ------------------------------------------------------------------------


def test_sender_email_is_lower_cased_and_display_name_decoded() -> None:
    raw = message(
        BASIC.replace(
            "Dana Chief <dana.chief@acme.test>", "=?utf-8?q?D=C3=A1na_Chief?= <Dana.Chief@ACME.test>"
        )
    )

    mail = parse_mail(raw)

    assert mail.from_ == Address(email="dana.chief@acme.test", name="Dána Chief")


def test_a_comma_inside_an_encoded_display_name_does_not_split_the_address() -> None:
    raw = message(
        BASIC.replace("To: escalations@acme.test", "To: =?utf-8?q?Owner=2C_Pat?= <pat.owner@acme.test>")
    )

    assert parse_mail(raw).to == (Address(email="pat.owner@acme.test", name="Owner, Pat"),)


def test_a_trailing_comma_in_an_address_list_loses_no_address() -> None:
    raw = message(
        BASIC.replace(
            "To: escalations@acme.test", "To: Pat Owner <pat.owner@acme.test>, escalations@acme.test,"
        )
    )

    assert [a.email for a in parse_mail(raw).to] == ["pat.owner@acme.test", "escalations@acme.test"]


def test_an_ambiguous_address_is_not_guessed() -> None:
    raw = message(
        BASIC.replace(
            "From: Dana Chief <dana.chief@acme.test>", "From: alice@example.org)<dana.chief@acme.test>"
        )
    )

    assert parse_mail(raw).from_ is None


@pytest.mark.parametrize(
    "value",
    ['a@b.example (,"' * 200, '",' * 1000, ";" * 2000, '"unterminated, x@y.example', "<<<@>>>"],
    ids=["comment-quote", "quotes", "semicolons", "open-quote", "brackets"],
)
def test_garbled_address_lists_yield_no_made_up_addresses(value: str) -> None:
    raw = message(BASIC.replace("To: escalations@acme.test", f"To: {value}"))

    mail = parse_mail(raw)

    assert all(" " not in a.email and "(" not in a.email and a.email.count("@") == 1 for a in mail.to)


def test_raw_utf8_in_headers_is_read_as_utf8() -> None:
    raw = message(BASIC.replace("Subject: Fwd: Charged twice", "Subject: Fwd: Ça ne marche pas"))

    assert parse_mail(raw).subject == "Fwd: Ça ne marche pas"


def test_raw_latin1_in_headers_falls_back_to_cp1252() -> None:
    raw = message(BASIC).replace(b"Subject: Fwd: Charged twice", "Subject: Fwd: Ça".encode("latin-1"))

    assert parse_mail(raw).subject == "Fwd: Ça"


def test_a_folded_subject_is_unfolded() -> None:
    raw = message(
        BASIC.replace("Subject: Fwd: Charged twice", "Subject: Fwd: Charged\n twice for\n\tinvoice 4411")
    )

    assert parse_mail(raw).subject == "Fwd: Charged twice for\tinvoice 4411"


def test_adjacent_encoded_words_join_without_the_space_between_them() -> None:
    raw = message(
        BASIC.replace("Subject: Fwd: Charged twice", "Subject: =?utf-8?q?Char?= =?utf-8?b?Z2Vk?= twice")
    )

    assert parse_mail(raw).subject == "Charged twice"


def test_a_broken_encoded_word_is_left_as_written() -> None:
    raw = message(BASIC.replace("Subject: Fwd: Charged twice", "Subject: =?utf-8?b?!!!?= twice"))

    assert parse_mail(raw).subject == "=?utf-8?b?!!!?= twice"


@pytest.mark.parametrize("charset", ["Windows-874", "x-unknown", "unknown-8bit", "zlib", "base64"])
def test_unknown_or_non_text_charsets_do_not_stop_the_parse(charset: str) -> None:
    headers = (
        BASIC + f'Subject-Extra: =?{charset}?q?caf=E9?=\nContent-Type: text/plain; charset="{charset}"\n'
    )
    raw = message(headers, "").replace(b"\n\n", b"\n\n?\n\xe9t\xe9\n", 1)

    mail = parse_mail(raw)

    assert mail.note.startswith("?")
    assert mail.header("subject-extra").startswith("caf")


def test_windows_874_is_read_as_thai() -> None:
    raw = message(BASIC + 'Content-Type: text/plain; charset="Windows-874"\n', "").replace(
        b"\n\n", b"\n\n" + "สวัสดี".encode("cp874"), 1
    )

    assert parse_mail(raw).text == "สวัสดี"


def test_a_date_with_an_unknown_zone_is_still_aware() -> None:
    mail = parse_mail(message(BASIC.replace("+0000", "-0000")))

    assert mail.date == datetime(2026, 11, 23, 9, 12, 41, tzinfo=UTC)


def test_a_date_with_an_offset_keeps_it() -> None:
    mail = parse_mail(message(BASIC.replace("+0000", "+0100")))

    assert mail.date is not None
    assert mail.date.utcoffset() == timedelta(hours=1)


def test_an_unreadable_date_is_none() -> None:
    assert parse_mail(message(BASIC.replace("Mon, 23 Nov 2026 09:12:41 +0000", "yesterday-ish"))).date is None


def test_a_message_without_headers_parses_to_empty_fields() -> None:
    mail = parse_mail(b"just a body line\n")

    assert mail.from_ is None
    assert mail.message_id == ""
    assert mail.subject == ""
    assert mail.date is None
    assert "MissingHeaderBodySeparatorDefect" in mail.defects


def test_empty_input_parses_to_an_empty_mail() -> None:
    mail = parse_mail(b"")

    assert mail.text == ""
    assert mail.note == ""
    assert mail.forwarded is None


@pytest.mark.parametrize("newline", ["\r\n", "\r"], ids=["crlf", "cr-only"])
def test_crlf_and_cr_only_input_parse_like_lf(newline: str) -> None:
    lf = (MAIL / "gmail-forward.eml").read_bytes()
    other = lf.replace(b"\n", newline.encode())

    assert parse_mail(other) == parse_mail(lf)


def test_references_are_split_into_ids() -> None:
    raw = message(
        BASIC
        + "References: <a@x.example>\n <b@x.example>\tgarbage <c@x.example>\nIn-Reply-To: <c@x.example> (c)\n"
    )

    mail = parse_mail(raw)

    assert mail.references == ("a@x.example", "b@x.example", "c@x.example")
    assert mail.in_reply_to == "c@x.example"


def test_a_multipart_without_a_boundary_is_recorded_as_a_defect() -> None:
    mail = parse_mail(message(BASIC + "Content-Type: multipart/mixed\n", "?\n"))

    assert "NoBoundaryInMultipartDefect" in mail.defects


def _mixed(*parts: str) -> bytes:
    body = "".join(f"--b1\n{part}\n" for part in parts) + "--b1--\n"
    return message(BASIC + 'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b1"\n', body)


INNER = (
    "From: Jordan Buyer <jordan@shop.example>\nSubject: Charged twice\n"
    "Date: Thu, 19 Nov 2026 18:03:05 +0100\n\nHello\n"
)


def test_a_base64_encoded_rfc822_part_is_decoded_before_parsing() -> None:
    encoded = base64.encodebytes(INNER.encode()).decode()
    raw = _mixed(
        "Content-Type: text/plain\n\n?\n",
        f"Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n{encoded}",
    )

    original = parse_mail(raw).forwarded

    assert original is not None
    assert original.shape == "attached"
    assert original.sender == Address(email="jordan@shop.example", name="Jordan Buyer")
    assert original.raw is not None
    assert original.raw.startswith(b"From: Jordan Buyer <jordan@shop.example>\r\n")


def test_an_eml_file_attached_as_octet_stream_counts_as_the_original() -> None:
    encoded = base64.encodebytes(INNER.encode()).decode()
    raw = _mixed(
        "Content-Type: text/plain\n\n?\n",
        "Content-Type: application/octet-stream; name=complaint.eml\n"
        "Content-Disposition: attachment; filename=complaint.eml\n"
        f"Content-Transfer-Encoding: base64\n\n{encoded}",
    )

    original = parse_mail(raw).forwarded

    assert original is not None
    assert original.subject == "Charged twice"
    assert original.body == "Hello"


def test_the_first_of_several_attached_messages_is_the_original() -> None:
    second = INNER.replace("jordan@shop.example", "other@shop.example")
    raw = _mixed(
        "Content-Type: text/plain\n\n?\n",
        f"Content-Type: message/rfc822\n\n{INNER}",
        f"Content-Type: message/rfc822\n\n{second}",
    )

    original = parse_mail(raw).forwarded

    assert original is not None
    assert original.sender is not None
    assert original.sender.email == "jordan@shop.example"


def test_an_inline_forward_wins_over_an_attachment_the_customer_sent() -> None:
    gmail_text = (MAIL / "gmail-forward.eml").read_text().split("\n\n", 1)[1]
    raw = _mixed("Content-Type: text/plain\n\n" + gmail_text, f"Content-Type: message/rfc822\n\n{INNER}")

    original = parse_mail(raw).forwarded

    assert original is not None
    assert original.shape == "gmail"


def test_text_attachments_are_not_part_of_the_body() -> None:
    raw = _mixed(
        "Content-Type: text/plain\n\n?\n",
        "Content-Type: text/plain; name=log.txt\n"
        "Content-Disposition: attachment; filename=log.txt\n\nERROR 42\n",
    )

    mail = parse_mail(raw)

    assert "ERROR 42" not in mail.text
    assert mail.note == "?"


def test_inline_text_parts_split_by_an_image_are_joined() -> None:
    raw = _mixed(
        "Content-Type: text/plain\n\n?\n",
        "Content-Type: image/png; name=a.png\nContent-Disposition: inline; filename=a.png\n"
        "Content-Transfer-Encoding: base64\n\niVBORw0KGgo=\n",
        "Content-Type: text/plain\n\nsecond part\n",
    )

    assert parse_mail(raw).text == "?\n\nsecond part\n"


def test_a_transfer_encoding_with_odd_case_and_spaces_is_still_decoded() -> None:
    raw = message(
        BASIC + "Content-Transfer-Encoding:  BASE64 \n", base64.b64encode(b"?\nfrom base64\n").decode()
    )

    assert parse_mail(raw).text == "?\nfrom base64\n"


# -- failure handling -------------------------------------------------------------------------


def test_non_bytes_input_is_unparseable() -> None:
    with pytest.raises(Unparseable) as caught:
        parse_mail("From: a@b.example\n\n?\n")  # type: ignore[arg-type]

    assert "bytes" in caught.value.reason


def test_when_the_stdlib_path_fails_mail_parser_still_yields_a_mail(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> InboundMail:
        raise LookupError("unknown encoding: x-broken")

    monkeypatch.setattr(parse_module, "_build", broken)

    mail = parse_mail((MAIL / "gmail-forward.eml").read_bytes())

    assert mail.from_ == DANA
    assert mail.subject == "Fwd: Charged twice for invoice 4411"
    assert mail.forwarded is not None
    assert mail.forwarded.sender is not None
    assert mail.forwarded.sender.email == "jordan@shop.example"
    assert mail.header("authentication-results") == AUTH_PASS


def test_when_both_parsers_fail_the_error_is_unparseable_with_a_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: object, **kwargs: object) -> InboundMail:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(parse_module, "_build", broken)
    monkeypatch.setattr(parse_module, "_assemble", broken)

    with pytest.raises(Unparseable) as caught:
        parse_mail((MAIL / "gmail-forward.eml").read_bytes())

    assert "RecursionError" in caught.value.reason
    assert caught.value.reason == str(caught.value)
