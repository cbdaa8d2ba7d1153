"""classify + routing on the fixture mails: every client shape, every note, every sender case."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipeline.decide.classify import Policy, Verdict, classify
from pipeline.inbound.parse import parse_mail
from pipeline.model.mail import Envelope
from rules.loader import load_rules
from rules.routing import Complaint, choose_route
from tests.conftest import ACME, mail_fixture

RULES = load_rules(ACME)
POLICY = Policy(
    intake_addresses=frozenset({"escalations@acme.test"}),
    domain="acme.test",
    trusted_authserv_ids=frozenset({"mx.acme.test"}),
    require_dmarc=True,
)


def decide(name: str, *, mail_from: str = "dana.chief@acme.test", policy: Policy = POLICY):
    mail = parse_mail(mail_fixture(name))
    envelope = Envelope(mail_from, ("escalations@acme.test",), "127.0.0.1", datetime.now(UTC), "smtp")
    return mail, classify(mail, envelope, RULES, policy)


def route_of(mail, disposition):
    original = mail.forwarded
    customer = original.sender.email if original.sender else ""
    return choose_route(RULES, Complaint(original.subject, original.body, customer), disposition.addressed)


@pytest.mark.parametrize(
    ("name", "shape", "route", "owner"),
    [
        ("gmail-forward.eml", "gmail", "billing", "pat.owner@acme.test"),
        ("gmail-forward-html.eml", "gmail", "billing", "pat.owner@acme.test"),
        ("outlook-forward.eml", "outlook", "defaults", "robin.support@acme.test"),
        ("outlook-html-only.eml", "outlook", "billing", "pat.owner@acme.test"),
        ("apple-forward.eml", "apple", "shipping", "lee.logistics@acme.test"),
        ("thunderbird-forward.eml", "thunderbird", "defaults", "robin.support@acme.test"),
        ("attached-rfc822.eml", "attached", "billing", "pat.owner@acme.test"),
        ("outlook-german.eml", "inline", "billing", "pat.owner@acme.test"),
        ("french-forward.eml", "inline", "billing", "pat.owner@acme.test"),
        ("ios-forward.eml", "apple", None, None),
        ("key-account.eml", "gmail", "key-account", "alex.vp@acme.test"),
        ("cc-owner.eml", "gmail", "addressed", "pat.owner@acme.test"),
    ],
)
def test_every_client_shape_becomes_an_escalation_routed_to_its_owner(name, shape, route, owner):
    mail, disposition = decide(name)
    assert disposition.verdict is Verdict.ESCALATE, disposition.reasons
    assert mail.forwarded is not None and mail.forwarded.shape == shape
    assert mail.forwarded.sender is not None and "@" in mail.forwarded.sender.email
    assert mail.forwarded.subject and mail.forwarded.body.strip()
    decision = route_of(mail, disposition)
    if route is not None:
        assert (decision.route, decision.owner.email) == (route, owner), decision.reasons


@pytest.mark.parametrize(
    "name", ["note-double-question.eml", "note-question-bang.eml", "note-with-signature.eml"]
)
def test_question_mark_variants_escalate_without_a_comment(name):
    _, disposition = decide(name)
    assert disposition.verdict is Verdict.ESCALATE
    assert disposition.comment == ""


def test_a_note_that_says_more_keeps_the_executives_comment():
    _, disposition = decide("note-with-comment.eml")
    assert disposition.verdict is Verdict.ESCALATE
    assert disposition.comment == "this is the third time this month"


def test_an_fyi_note_is_ignored_with_its_reason():
    _, disposition = decide("note-fyi.eml")
    assert disposition.verdict is Verdict.IGNORE
    assert disposition.rule == "not_a_question"
    assert "FYI" in disposition.reasons[0]


def test_a_bare_question_with_nothing_forwarded_is_ignored():
    _, disposition = decide("plain-question.eml")
    assert (disposition.verdict, disposition.rule) == (Verdict.IGNORE, "nothing_forwarded")


def test_an_executive_address_failing_dmarc_is_quarantined_as_a_possible_spoof():
    _, disposition = decide("no-dmarc.eml")
    assert disposition.verdict is Verdict.QUARANTINE
    assert "possible spoof" in disposition.reasons[0] and "dmarc=fail" in disposition.reasons[0]


def test_without_require_dmarc_the_same_mail_escalates():
    relaxed = Policy(POLICY.intake_addresses, POLICY.domain, POLICY.trusted_authserv_ids, require_dmarc=False)
    _, disposition = decide("no-dmarc.eml", policy=relaxed)
    assert disposition.verdict is Verdict.ESCALATE


def test_a_colleague_who_is_not_an_executive_is_ignored_with_the_reason():
    _, disposition = decide("not-executive.eml", mail_from="jamie.intern@acme.test")
    assert disposition.verdict is Verdict.IGNORE
    assert "jamie.intern@acme.test is not listed under executives" in disposition.reasons[0]


def test_an_executives_auto_reply_is_machine_mail_even_though_it_starts_with_a_question_mark():
    _, disposition = decide("auto-reply.eml")
    assert disposition.verdict is Verdict.MACHINE
    assert disposition.rule == "machine_mail:auto_submitted"


def test_mail_to_a_signed_reply_address_is_a_reply_not_a_new_escalation():
    mail = parse_mail(mail_fixture("gmail-forward.eml"))
    envelope = Envelope(
        "dana.chief@acme.test", ("escalations+q3-abc@acme.test",), "127.0.0.1", datetime.now(UTC), "smtp"
    )
    disposition = classify(mail, envelope, RULES, POLICY)
    assert disposition.verdict is Verdict.REPLY


# -- a spoofed executive behind a machine-looking envelope is held, not filed as machine mail (issue 13)


def decide_bytes(raw: bytes, *, mail_from: str, policy: Policy = POLICY):
    mail = parse_mail(raw)
    envelope = Envelope(mail_from, ("escalations@acme.test",), "127.0.0.1", datetime.now(UTC), "smtp")
    return classify(mail, envelope, RULES, policy)


@pytest.mark.parametrize("mail_from", ["bounce@spoof.example", "", "<>", "MAILER-DAEMON@spoof.example"])
def test_an_executive_from_failing_dmarc_is_held_as_a_spoof_whatever_the_envelope_sender(mail_from):
    # Given Dana's From, DMARC failed at our MX, and an envelope sender that looks like a mail system
    disposition = decide_bytes(mail_fixture("no-dmarc.eml"), mail_from=mail_from)
    # Then it is held as a possible spoof, and the reason says why the machine look did not count
    assert (disposition.verdict, disposition.rule) == (Verdict.QUARANTINE, "spoofed_executive")
    held, machine_look = disposition.reasons
    assert held.startswith("possible spoof: mail claims to be from executive dana.chief@acme.test but ")
    assert "dmarc=fail" in held and "by mx.acme.test" in held
    assert machine_look.startswith("held although it looks like machine mail (")


def test_a_spoof_with_a_bounce_envelope_names_the_bounce_address_in_its_reason():
    disposition = decide_bytes(mail_fixture("no-dmarc.eml"), mail_from="bounce@spoof.example")
    assert disposition.reasons[1] == (
        "held although it looks like machine mail (the sender bounce@spoof.example is a mail system address)"
    )


def test_a_spoof_with_a_null_envelope_says_the_empty_sender_did_not_excuse_it():
    disposition = decide_bytes(mail_fixture("no-dmarc.eml"), mail_from="")
    assert disposition.verdict is Verdict.QUARANTINE
    assert "the envelope sender is empty (<>)" in disposition.reasons[1]


def test_a_spoof_wearing_auto_submitted_and_list_headers_is_still_held():
    raw = mail_fixture("no-dmarc.eml").replace(
        b"MIME-Version: 1.0\n",
        b"MIME-Version: 1.0\nAuto-Submitted: auto-replied\nPrecedence: bulk\nList-Id: <news.acme.test>\n",
        1,
    )
    disposition = decide_bytes(raw, mail_from="dana.chief@acme.test")
    assert disposition.verdict is Verdict.QUARANTINE
    assert "Auto-Submitted: auto-replied" in disposition.reasons[1]


def test_an_executive_from_without_any_authentication_results_and_a_daemon_envelope_is_held():
    raw = b"".join(
        line
        for line in mail_fixture("no-dmarc.eml").splitlines(keepends=True)
        if not line.startswith((b"Authentication-Results:", b" spf=fail"))
    )
    disposition = decide_bytes(raw, mail_from="mailer-daemon@spoof.example")
    assert disposition.verdict is Verdict.QUARANTINE
    assert "no Authentication-Results header from a trusted authserv-id" in disposition.reasons[0]


def test_an_authserv_we_do_not_trust_cannot_vouch_for_a_spoof_with_a_bounce_envelope():
    raw = mail_fixture("no-dmarc.eml").replace(
        b"Authentication-Results: mx.acme.test; dkim=none (message not signed);\n"
        b" spf=fail smtp.mailfrom=acme.test; dmarc=fail (p=reject dis=none) header.from=acme.test\n",
        b"Authentication-Results: mx.spoof.example; dmarc=pass header.from=acme.test\n",
    )
    disposition = decide_bytes(raw, mail_from="bounce@spoof.example")
    assert disposition.verdict is Verdict.QUARANTINE, disposition.reasons


@pytest.mark.parametrize("mail_from", ["dana.chief@acme.test", "", "bounce@acme.test"])
def test_an_executives_genuine_auto_reply_passing_dmarc_stays_machine_mail(mail_from):
    disposition = decide_bytes(mail_fixture("auto-reply.eml"), mail_from=mail_from)
    assert disposition.verdict is Verdict.MACHINE, disposition.reasons
    assert disposition.rule.startswith("machine_mail:")


def test_a_real_dsn_from_mailer_daemon_stays_machine_mail_although_it_returns_an_executives_mail():
    disposition = decide_bytes(mail_fixture("dsn-mailer-daemon.eml"), mail_from="")
    assert (disposition.verdict, disposition.rule) == (Verdict.MACHINE, "machine_mail:null_sender")


def test_a_real_dsn_with_a_mailer_daemon_envelope_stays_machine_mail():
    disposition = decide_bytes(mail_fixture("dsn-mailer-daemon.eml"), mail_from="MAILER-DAEMON@mx.acme.test")
    assert disposition.verdict is Verdict.MACHINE, disposition.reasons
    assert disposition.rule == "machine_mail:auto_submitted"


def test_without_require_dmarc_a_spoof_with_a_bounce_envelope_is_machine_mail_as_documented():
    relaxed = Policy(POLICY.intake_addresses, POLICY.domain, POLICY.trusted_authserv_ids, require_dmarc=False)
    disposition = decide_bytes(mail_fixture("no-dmarc.eml"), mail_from="bounce@spoof.example", policy=relaxed)
    assert (disposition.verdict, disposition.rule) == (Verdict.MACHINE, "machine_mail:machine_sender")
