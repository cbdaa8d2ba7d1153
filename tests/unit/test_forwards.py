"""Finding the forwarded original in a text body and splitting off the note (pipeline.inbound.forwards)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipeline.inbound.forwards import from_attached, split_inline
from pipeline.model.mail import Address, InboundMail

COMPLAINT = "Hello,\n\nI was charged twice for invoice 4411.\n\nJordan"

GMAIL = f"""?

---------- Forwarded message ---------
From: Jordan Buyer <jordan@shop.example>
Date: Mon, 23 Nov 2026 at 09:12
Subject: Charged twice for invoice 4411
To: Dana Chief <dana.chief@acme.test>


{COMPLAINT}
"""

OUTLOOK = f"""?

________________________________
From: Jordan Buyer <jordan@shop.example>
Sent: Monday, November 23, 2026 9:12 AM
To: Dana Chief <dana.chief@acme.test>
Cc: Pat Owner <pat.owner@acme.test>
Subject: Charged twice for invoice 4411

{COMPLAINT}
"""

OUTLOOK_CLASSIC = f"""?

-----Original Message-----
From: Jordan Buyer [mailto:jordan@shop.example]
Sent: Monday, November 23, 2026 9:12 AM
To: Dana Chief
Subject: Charged twice for invoice 4411

{COMPLAINT}
"""

OUTLOOK_NO_SEPARATOR = f"""?

From: Jordan Buyer <jordan@shop.example>
Sent: Monday, November 23, 2026 9:12 AM
To: Dana Chief <dana.chief@acme.test>
Subject: Charged twice for invoice 4411

{COMPLAINT}
"""

APPLE = f"""?

Begin forwarded message:

\u00a0 From:\u00a0Jordan Buyer <jordan@shop.example>
\u00a0 Subject:\u00a0Charged twice for invoice 4411
\u00a0 Date:\u00a023 November 2026 at 09:12:44 GMT
\u00a0 To:\u00a0Dana Chief <dana.chief@acme.test>

{COMPLAINT}
"""

THUNDERBIRD = f"""?


-------- Forwarded Message --------
Subject: \tCharged twice for invoice 4411
Date: \tMon, 23 Nov 2026 09:12:44 +0100
From: \tJordan Buyer <jordan@shop.example>
To: \tDana Chief <dana.chief@acme.test>



{COMPLAINT}
"""

IOS_QUOTED = """?

Sent from my iPhone

Begin forwarded message:

> From: Jordan Buyer <jordan@shop.example>
> Date: 23 November 2026 at 09:12:44 GMT
> To: Dana Chief <dana.chief@acme.test>
> Subject: Charged twice for invoice 4411
>
> Hello,
>
> I was charged twice for invoice 4411.
>
> Jordan
"""

GERMAN = f"""?

-----Ursprüngliche Nachricht-----
Von: Jordan Buyer <jordan@shop.example>
Gesendet: Montag, 23. November 2026 09:12
An: Dana Chief <dana.chief@acme.test>
Betreff: Charged twice for invoice 4411

{COMPLAINT}
"""

GERMAN_GMAIL = f"""?

---------- Weitergeleitete Nachricht ---------
Von: Jordan Buyer <jordan@shop.example>
Date: Mo., 23. Nov. 2026 um 09:12 Uhr
Subject: Charged twice for invoice 4411
To: <dana.chief@acme.test>


{COMPLAINT}
"""

FRENCH = f"""?

De : Jordan Buyer <jordan@shop.example>
Envoyé : lundi 23 novembre 2026 09:12
À : Dana Chief <dana.chief@acme.test>
Objet : Charged twice for invoice 4411

{COMPLAINT}
"""

OUTLOOK_BOLD_MARKS = f"""?

 ------------------------------

*From:* Jordan Buyer [mailto:jordan@shop.example]
*Sent:* Monday, November 23, 2026 9:12 AM
*To:* dana.chief@acme.test
*Subject:* Charged twice for invoice 4411

{COMPLAINT}
"""


@pytest.mark.parametrize(
    ("text", "shape"),
    [
        (GMAIL, "gmail"),
        (OUTLOOK, "outlook"),
        (OUTLOOK_CLASSIC, "outlook"),
        (OUTLOOK_NO_SEPARATOR, "outlook"),
        (OUTLOOK_BOLD_MARKS, "outlook"),
        (APPLE, "apple"),
        (THUNDERBIRD, "thunderbird"),
        (GERMAN, "inline"),
        (GERMAN_GMAIL, "inline"),
        (FRENCH, "inline"),
    ],
    ids=["gmail", "outlook", "outlook-classic", "outlook-bare", "outlook-bold", "apple", "thunderbird",
         "german-outlook", "german-gmail", "french-outlook"],
)  # fmt: skip
def test_each_client_shape_yields_the_customer_subject_and_body(text: str, shape: str) -> None:
    note, original = split_inline(text)

    assert note == "?"
    assert original is not None
    assert original.shape == shape
    assert original.sender is not None
    assert original.sender.email == "jordan@shop.example"
    assert original.subject == "Charged twice for invoice 4411"
    assert original.body == COMPLAINT
    assert original.raw is None


def test_gmail_forward_keeps_the_date_as_written_and_the_display_name() -> None:
    _, original = split_inline(GMAIL)

    assert original is not None
    assert original.date == "Mon, 23 Nov 2026 at 09:12"
    assert original.sender == Address(email="jordan@shop.example", name="Jordan Buyer")


def test_outlook_sent_line_is_the_date() -> None:
    _, original = split_inline(OUTLOOK)

    assert original is not None
    assert original.date == "Monday, November 23, 2026 9:12 AM"


def test_outlook_mailto_sender_is_read_without_the_brackets() -> None:
    _, original = split_inline(OUTLOOK_CLASSIC)

    assert original is not None
    assert original.sender == Address(email="jordan@shop.example", name="Jordan Buyer")


def test_quoted_ios_forward_loses_its_quote_marks() -> None:
    note, original = split_inline(IOS_QUOTED)

    assert note == "?\n\nSent from my iPhone"
    assert original is not None
    assert original.shape == "apple"
    assert original.subject == "Charged twice for invoice 4411"
    assert original.body == "Hello,\n\nI was charged twice for invoice 4411.\n\nJordan"


def test_the_note_keeps_the_signature_above_the_forward() -> None:
    text = "? \n-- \nDana Chief\nCEO, Acme\n\n" + GMAIL.removeprefix("?\n\n")

    note, original = split_inline(text)

    assert note == "? \n-- \nDana Chief\nCEO, Acme"
    assert original is not None


def test_an_unknown_separator_above_a_header_block_is_not_part_of_the_note() -> None:
    text = OUTLOOK_NO_SEPARATOR.replace("?\n\n", "?\n\n----- Message from the help desk -----\n", 1)

    note, original = split_inline(text)

    assert note == "?"
    assert original is not None
    assert original.shape == "outlook"


def test_a_forward_at_the_very_top_has_an_empty_note() -> None:
    note, original = split_inline(GMAIL.removeprefix("?\n\n"))

    assert note == ""
    assert original is not None
    assert original.shape == "gmail"


def test_text_without_a_forward_is_all_note() -> None:
    note, original = split_inline("\n?\n\nDana\n\n")

    assert note == "?\n\nDana"
    assert original is None


def test_a_lone_from_line_in_prose_is_not_a_forward() -> None:
    text = "?\n\nFrom: the customer, again.\nPlease look at this today.\n"

    assert split_inline(text)[1] is None


def test_a_bare_header_block_needs_a_subject_or_date_besides_the_sender() -> None:
    text = "?\n\nFrom: Jordan <jordan@shop.example>\nTo: Dana <dana.chief@acme.test>\n\nhello\n"

    assert split_inline(text)[1] is None


def test_a_marker_without_a_header_block_still_counts_as_a_forward() -> None:
    note, original = split_inline("?\n\n---------- Forwarded message ---------\n\nplain complaint text\n")

    assert note == "?"
    assert original is not None
    assert original.sender is None
    assert original.subject == ""
    assert original.body == "plain complaint text"


def test_the_first_marker_wins_when_forwards_are_nested() -> None:
    nested = GMAIL.replace(COMPLAINT, "see below\n\n" + OUTLOOK.removeprefix("?\n\n"))

    _, original = split_inline(nested)

    assert original is not None
    assert original.shape == "gmail"
    assert "________________________________" in original.body


def test_outlook_importance_and_attachments_lines_stay_in_the_header_block() -> None:
    text = OUTLOOK_NO_SEPARATOR.replace(
        "Subject: Charged twice for invoice 4411",
        "Subject: Charged twice for invoice 4411\nImportance: High\nAttachments: statement.pdf",
    )

    _, original = split_inline(text)

    assert original is not None
    assert original.body == COMPLAINT


def test_a_long_run_of_header_like_lines_without_a_sender_is_not_a_forward() -> None:
    text = "?\n\n" + "\n".join(f"To: person{n}@shop.example" for n in range(5000))

    assert split_inline(text) == (text.strip(), None)


def test_a_sender_without_an_address_is_none() -> None:
    text = OUTLOOK.replace("From: Jordan Buyer <jordan@shop.example>", "From: Jordan Buyer")

    _, original = split_inline(text)

    assert original is not None
    assert original.sender is None
    assert original.subject == "Charged twice for invoice 4411"


def test_a_wrapped_recipient_line_does_not_end_the_header_block() -> None:
    text = GMAIL.replace(
        "To: Dana Chief <dana.chief@acme.test>",
        "To: Dana Chief <dana.chief@acme.test>, Morgan Lee\n<morgan.cfo@acme.test>",
    )

    _, original = split_inline(text)

    assert original is not None
    assert original.subject == "Charged twice for invoice 4411"
    assert original.body == COMPLAINT


def test_sender_forms_seen_in_real_clients() -> None:
    forms = {
        "From: jordan@shop.example": Address("jordan@shop.example"),
        'From: "Buyer, Jordan" <Jordan@Shop.Example>': Address("jordan@shop.example", "Buyer, Jordan"),
        "From: Jordan Buyer < jordan@shop.example >": Address("jordan@shop.example", "Jordan Buyer"),
        "From: Jordan Buyer<mailto:jordan@shop.example>": Address("jordan@shop.example", "Jordan Buyer"),
        "From: jordan@shop.example <jordan@shop.example>": Address("jordan@shop.example"),
    }
    for line, expected in forms.items():
        text = GMAIL.replace("From: Jordan Buyer <jordan@shop.example>", line)

        _, original = split_inline(text)

        assert original is not None, line
        assert original.sender == expected, line


def test_an_attached_original_takes_sender_subject_date_and_body_from_the_inner_message() -> None:
    inner = InboundMail(
        message_id="a81c3f0e@shop.example",
        from_=Address("jordan@shop.example", "Jordan Buyer"),
        to=(Address("dana.chief@acme.test"),),
        cc=(),
        subject="Charged twice for invoice 4411",
        date=datetime(2026, 11, 19, 17, 3, tzinfo=UTC),
        in_reply_to="",
        references=(),
        headers=(("date", "Thu, 19 Nov 2026 18:03:05 +0100"),),
        text="\nHello,\n\ncharged twice.\n\n",
        note="Hello,\n\ncharged twice.",
        forwarded=None,
    )

    original = from_attached(inner, b"From: Jordan Buyer <jordan@shop.example>\r\n\r\nHello\r\n")

    assert original.shape == "attached"
    assert original.sender == Address("jordan@shop.example", "Jordan Buyer")
    assert original.subject == "Charged twice for invoice 4411"
    assert original.date == "Thu, 19 Nov 2026 18:03:05 +0100"
    assert original.body == "Hello,\n\ncharged twice."
    assert original.raw == b"From: Jordan Buyer <jordan@shop.example>\r\n\r\nHello\r\n"
