"""Machine-mail recognition: each check names its reason."""

from datetime import UTC, datetime

from pipeline.machine import machine_reason
from pipeline.mail import Address, Envelope, InboundMail


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


def test_x_auto_response_suppress_alone_is_not_machine_mail():
    assert machine_reason(mail([("x-auto-response-suppress", "All")]), envelope()) is None
