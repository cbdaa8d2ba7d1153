"""Machine-mail recognition: each check names its reason."""

from datetime import UTC, datetime

import pytest

from pipeline.inbound.machine import machine_reason
from pipeline.inbound.parse import parse_mail
from pipeline.model.mail import Address, Envelope, InboundMail


def mail(headers=(), subject="Hello", sender="pat.owner@acme.test", ctype="text/plain") -> InboundMail:
    return InboundMail(
        message_id="m@x",
        from_=Address(sender),
        to=(),
        cc=(),
        subject=subject,
        date=None,
        in_reply_to="",
        references=(),
        headers=tuple(headers),
        text="hi",
        note="hi",
        forwarded=None,
        content_type=ctype,
    )


def envelope(mail_from="pat.owner@acme.test") -> Envelope:
    return Envelope(mail_from, ("escalations@acme.test",), "127.0.0.1", datetime.now(UTC), "smtp")


def test_ordinary_mail_is_not_machine_mail():
    assert machine_reason(mail(), envelope()) is None


def test_an_empty_envelope_sender_is_machine_mail():
    assert machine_reason(mail(), envelope("<>"))[0] == "null_sender"
    assert machine_reason(mail(), envelope(""))[0] == "null_sender"


def test_auto_submitted_other_than_no_is_machine_mail():
    assert machine_reason(mail([("auto-submitted", "auto-replied")]), envelope())[0] == "auto_submitted"
    assert machine_reason(mail([("auto-submitted", "no")]), envelope()) is None


def test_delivery_reports_precedence_and_lists_are_machine_mail():
    assert machine_reason(mail(ctype="multipart/report"), envelope())[0] == "delivery_report"
    assert machine_reason(mail([("precedence", "bulk")]), envelope())[0] == "bulk_precedence"
    assert machine_reason(mail([("list-id", "<x.lists.example>")]), envelope())[0] == "mailing_list"


def test_mailer_daemon_senders_and_out_of_office_subjects_are_machine_mail():
    assert machine_reason(mail(sender="MAILER-DAEMON@mx.example"), envelope("x@y"))[0] == "machine_sender"
    assert machine_reason(mail(subject="Out of Office: back Monday"), envelope())[0] == "auto_subject"
    assert machine_reason(mail(subject="Abwesenheitsnotiz: Urlaub"), envelope())[0] == "auto_subject"


def test_x_auto_response_suppress_with_any_value_is_machine_mail():
    # The issue lists it: Exchange sets it on its auto-replies, reports and notifications.
    assert (
        machine_reason(mail([("x-auto-response-suppress", "All")]), envelope())[0] == "auto_response_suppress"
    )
    assert machine_reason(mail([("x-auto-response-suppress", "OOF, AutoReply")]), envelope())[0] == (
        "auto_response_suppress"
    )


def test_an_empty_x_auto_response_suppress_is_not_machine_mail():
    assert machine_reason(mail([("x-auto-response-suppress", "  ")]), envelope()) is None


@pytest.mark.parametrize(
    "subject",
    [
        "Out of Office: [Q-12] Charged twice",
        "Out of Office AutoReply: invoice 4411",
        "Out of office until Monday",
        "Automatic reply: [Q-12] Charged twice",
        "Auto-Reply: your message",
        "AutoRespons :Nyaan?",
        "Autosvar: Faktura 4411",
        "Automatisk svar: Faktura",
        "Abwesend: Rechnung 4411",
        "Abwesend bis 3. Dezember",
        "Abwesenheitsnotiz: Rechnung",
        "Automatische Antwort: Rechnung 4411",
        "Absence du bureau",
        "Absence du bureau : facture 4411",
        "Réponse automatique : facture 4411",
        "Respuesta automática: factura 4411",
        "Fuera de la oficina: factura",
        "Afwezig: factuur 4411",
        "Automatisch antwoord: factuur 4411",
        "Dana Chief is out of the office.",
        "Away until May 5",
        "Vacation: back on the 3rd",
    ],
)
def test_out_of_office_subjects_in_several_languages_are_machine_mail(subject):
    assert machine_reason(mail(subject=subject), envelope())[0] == "auto_subject"


@pytest.mark.parametrize(
    "subject",
    [
        "Re: out of office policy question",
        "Out of office policy question",
        "Fwd: Out of Office: Dana",
        "AW: Abwesenheitsnotiz: Rechnung",
        "Vacation request for December",
        "Absence of invoice in the portal",
        "Abwesenheit im Dezember planen",
        "Away game tickets for the team",
        "Automation of the billing run failed",
        "Re: [Q-12] Automatic reply received instead of an answer",
        "Delivery status of order 4411?",
        "Undelivered parcel, order 4411",
        "Returned goods: refund still missing",
        "Re: Undeliverable: invoice 4411",
    ],
)
def test_a_persons_subject_that_merely_mentions_absence_or_delivery_is_not_machine_mail(subject):
    assert machine_reason(mail(subject=subject), envelope()) is None


@pytest.mark.parametrize(
    "subject",
    [
        "Undeliverable: [Q-12] Charged twice",
        "Undelivered Mail Returned to Sender",
        "Returned mail: see transcript for details",
        "Mail delivery failed: returning message to sender",
        "Delivery Status Notification (Failure)",
        "Delivery Status Notification (Delay)",
        "Delivery Status",
        "Unzustellbar: Rechnung 4411",
        "Non remis : facture 4411",
        "Warning: message 1abc-0007jE-00 delayed 24 hours",
        "Mail could not be delivered",
    ],
)
def test_bounce_subjects_are_machine_mail(subject):
    assert machine_reason(mail(subject=subject), envelope())[0] == "auto_subject"


def test_more_list_and_report_headers_are_machine_mail():
    assert machine_reason(mail([("list-subscribe", "<mailto:x-join@lists.example>")]), envelope())[0] == (
        "mailing_list"
    )
    assert (
        machine_reason(mail([("x-failed-recipients", "pat@example.net")]), envelope())[0] == "report_headers"
    )
    assert machine_reason(mail([("x-ms-exchange-message-is-ndr", "")]), envelope())[0] == "report_headers"


def test_a_mailer_daemon_without_a_domain_and_a_post_master_are_mail_system_senders():
    assert machine_reason(mail(sender="MAILER-DAEMON"), envelope("x@y"))[0] == "machine_sender"
    assert (
        machine_reason(mail(sender="post_master@vtext.example.com"), envelope("x@y"))[0] == "machine_sender"
    )
    assert machine_reason(mail(sender="list-bounces@lists.example"), envelope("x@y"))[0] == "machine_sender"


# -- recognised by the body: a bounce that arrives from a person's address ----------------------------

PERSON = "Pat Owner <pat.owner@acme.test>"


def message(
    body: str, *, subject: str = "Re: [Q-12] Charged twice", sender: str = PERSON, extra: str = ""
) -> bytes:
    head = (
        f"From: {sender}\nTo: escalations+q12-tok@acme.test\nSubject: {subject}\n"
        "Date: Mon, 23 Nov 2026 16:40:00 +0000\nMessage-ID: <m1@example.net>\nMIME-Version: 1.0\n"
    )
    if not extra:
        extra = "Content-Type: text/plain; charset=utf-8\n"
    return (head + extra + "\n" + body).encode("utf-8")


def person() -> Envelope:
    return envelope("pat.owner@acme.test")


POSTFIX_TEXT = """This is the mail system at host mx.example.net.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

                   The mail system

<pat.owner@example.net>: host mx.example.net[192.0.2.1] said: 550 5.1.1
    <pat.owner@example.net>: Recipient address rejected: User unknown
"""


def test_a_bounce_sent_from_a_persons_address_is_recognised_by_its_wording():
    found = machine_reason(parse_mail(message(POSTFIX_TEXT, subject="Hello")), person())

    assert found is not None
    assert found[0] == "bounce_wording"


def test_delivery_status_fields_in_the_body_are_machine_mail():
    body = (
        "Your mail could not be sent.\n\nReporting-MTA: dns; mx.example.net\n\n"
        "Final-Recipient: rfc822; pat.owner@example.net\nAction: failed\nStatus: 5.1.1\n"
    )

    assert machine_reason(parse_mail(message(body, subject="Hello")), person())[0] == "dsn_fields"


def test_a_delivery_status_part_inside_a_mixed_message_is_machine_mail():
    body = (
        '--b\nContent-Type: text/plain; name="problems.txt"\n\n<pat.owner@example.net> Unknown user\n'
        "--b\nContent-Type: message/delivery-status\n\nOriginal-Recipient: <pat.owner@example.net>\n"
        "Action: failed\nDiagnostic-Code: smtp; 550 Unknown user\n\n--b--\n"
    )
    raw = message(body, subject="Hello", extra='Content-Type: multipart/mixed; boundary="b"\n')

    assert machine_reason(parse_mail(raw), person())[0] == "dsn_fields"


def test_an_smtp_reply_and_a_failure_sentence_together_are_machine_mail():
    body = (
        "Error: Invalid user address\n\nError message below:\n"
        "550 - Requested action not taken: no such user here\n\nMessage details:\n  Subject: Test\n"
    )

    assert machine_reason(parse_mail(message(body, subject="Re:Test")), person())[0] == "bounce_evidence"


# -- a person writing about bounces is not machine mail ------------------------------------------------


def test_an_owners_root_cause_about_a_bounce_is_not_machine_mail():
    body = (
        "What happened: the invoice email could not be delivered to the customer; their server\n"
        "answered 550 5.1.1 User unknown because the address had a typo.\n\n"
        "Impact: the customer never saw invoice 4411 and was charged twice.\n\n"
        "Root cause: our CRM kept the mistyped address; nothing checked it.\n"
    )

    assert machine_reason(parse_mail(message(body)), person()) is None


def test_an_owner_quoting_a_bounce_with_quote_marks_is_not_machine_mail():
    quoted = "\n".join("> " + line for line in POSTFIX_TEXT.splitlines())
    body = f"That bounce is ours, we fix the address today.\n\n{quoted}\n"

    assert machine_reason(parse_mail(message(body)), person()) is None


def test_history_under_an_attribution_line_is_not_the_owners_words_even_unquoted():
    body = "That bounce is ours.\n\nOn Mon, 23 Nov 2026 at 16:40, qmark <escalations@acme.test> wrote:\n"

    assert machine_reason(parse_mail(message(body + POSTFIX_TEXT)), person()) is None


@pytest.mark.parametrize(
    "history",
    [
        "From: qmark <escalations@acme.test>\nSent: Monday, 23 November 2026 16:40\n"
        "To: Pat Owner <pat.owner@acme.test>\nSubject: [Q-12] Charged twice\n",
        "From: qmark <escalations@acme.test>\nDate: Monday, 23 November 2026 16:40\n",
        "Fra: qmark <escalations@acme.test>\nSendt: mandag 23. november 2026 16:40\n",
    ],
)
def test_an_owner_replying_above_header_style_history_that_holds_a_bounce_is_not_machine_mail(history):
    body = "The customer's mailbox was full; we called them.\n\n" + history + "\n" + POSTFIX_TEXT

    assert machine_reason(parse_mail(message(body)), person()) is None


def test_an_executives_question_mark_above_a_forwarded_bounce_is_not_machine_mail():
    body = (
        "?\n\n---------- Forwarded message ---------\n"
        "From: Mail Delivery System <MAILER-DAEMON@example.net>\n"
        "Date: Mon, 23 Nov 2026 at 10:00\nSubject: Undelivered Mail Returned to Sender\n"
        "To: <customer@example.org>\n\n" + POSTFIX_TEXT
    )
    sender = "Dana Chief <dana.chief@acme.test>"

    mail_ = parse_mail(message(body, subject="Fwd: Undelivered Mail Returned to Sender", sender=sender))

    assert machine_reason(mail_, envelope("dana.chief@acme.test")) is None


def test_an_executives_question_mark_above_a_bounce_attached_as_a_message_is_not_machine_mail():
    attached = (
        "From: MAILER-DAEMON@example.net\nSubject: Undelivered Mail Returned to Sender\n"
        'MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary="r"\n\n'
        "--r\nContent-Type: text/plain\n\n"
        + POSTFIX_TEXT
        + "\n--r\nContent-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mx.example.net\n\nFinal-Recipient: rfc822; pat.owner@example.net\n"
        "Action: failed\nStatus: 5.1.1\n\n--r--\n"
    )
    body = (
        "--m\nContent-Type: text/plain\n\n?\n--m\nContent-Type: message/rfc822\n"
        'Content-Disposition: attachment; filename="bounce.eml"\n\n' + attached + "\n--m--\n"
    )
    raw = message(
        body,
        subject="Fwd: Undelivered Mail",
        sender="Dana Chief <dana.chief@acme.test>",
        extra='Content-Type: multipart/mixed; boundary="m"\n',
    )

    assert machine_reason(parse_mail(raw), envelope("dana.chief@acme.test")) is None


def test_a_customer_complaint_about_a_parcel_that_was_not_delivered_is_not_machine_mail():
    body = (
        "?\n\n---------- Forwarded message ---------\nFrom: Customer <customer@example.org>\n"
        "Date: Mon, 23 Nov 2026 at 10:00\nSubject: Delivery failed again\nTo: <support@acme.test>\n\n"
        "Your courier says delivery failed, the parcel was not delivered and is undeliverable.\n"
    )
    mail_ = parse_mail(
        message(body, subject="Fwd: Delivery failed again", sender="Dana <dana.chief@acme.test>")
    )

    assert machine_reason(mail_, envelope("dana.chief@acme.test")) is None
