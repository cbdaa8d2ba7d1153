"""A reply is tied to its escalation by token, then threading, then subject tag; forgeries are named."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipeline.inbound.limits import ParseLimits
from pipeline.inbound.matching import Role, match_reply, role_of
from pipeline.inbound.parse import parse_mail
from pipeline.model.mail import Envelope
from pipeline.model.tokens import reply_address

SECRET = b"unit-test-secret"
PAT = "pat.owner@acme.test"


def mail(*, to: str = "escalations@acme.test", sender: str = PAT, subject: str = "Re: hi", extra: str = ""):
    raw = f"From: {sender}\nTo: {to}\nSubject: {subject}\nMessage-ID: <r1@acme.test>\n{extra}\nbody\n"
    envelope = Envelope(sender, (to,), "test", datetime(2026, 11, 24, tzinfo=UTC), "smtp")
    return parse_mail(raw.encode(), ParseLimits()), envelope


def match(message, envelope):
    return match_reply(message, envelope, reply_local="escalations", domain="acme.test", secrets=(SECRET,))


def test_a_genuine_token_from_its_recipient_matches_first():
    address = reply_address(SECRET, 7, PAT, local="escalations", domain="acme.test")
    found = match(*mail(to=address, subject="Re: [Q-3] other"))
    assert (found.number, found.via, found.token_sender, found.forged) == (7, "token", True, None)


def test_a_genuine_token_from_someone_else_matches_but_is_not_theirs():
    address = reply_address(SECRET, 7, PAT, local="escalations", domain="acme.test")
    found = match(*mail(to=address, sender="eve@acme.test"))
    assert (found.number, found.token_sender) == (7, False)


@pytest.mark.parametrize(
    "address",
    ["escalations+q7-aaaaaaaaaaaaaaaabbbbbbbb@acme.test", "escalations+q8-garbage@acme.test"],
    ids=["signature that does not verify", "malformed token"],
)
def test_a_forged_token_is_named_and_matches_nothing_even_with_a_subject_tag(address):
    found = match(*mail(to=address, subject="Re: [Q-7] hi"))
    assert found.number is None and found.forged
    assert "not genuine" in found.reason


def test_threading_to_a_qmark_message_id_matches_without_a_token():
    found = match(*mail(extra="In-Reply-To: <qmark.q12.owner_forward.0123456789abcdef@acme.test>"))
    assert (found.number, found.via) == (12, "in-reply-to")


def test_a_message_id_of_another_domain_does_not_match():
    found = match(*mail(extra="In-Reply-To: <qmark.q12.owner_forward.0123456789abcdef@evil.test>"))
    assert found.number is None and not found.forged


def test_the_subject_tag_is_the_last_resort():
    found = match(*mail(subject="Re: [Q-41] Charged twice"))
    assert (found.number, found.via) == (41, "subject")


@pytest.mark.parametrize(
    ("sender", "expected"),
    [
        ("dana.chief@acme.test", Role.EXECUTIVE),
        ("PAT.OWNER@acme.test", Role.OWNER),
        ("sam.manager@acme.test", Role.OWNER),
        ("eve@acme.test", Role.STRANGER),
    ],
)
def test_roles_follow_the_escalation_and_the_ladder(sender, expected):
    role = role_of(
        sender,
        executive="dana.chief@acme.test",
        owner=PAT,
        ladder=["sam.manager@acme.test"],
        token_sender=False,
    )
    assert role is expected


def test_a_token_recipient_who_no_longer_takes_part_is_only_a_recipient():
    role = role_of("old.owner@acme.test", executive="d@acme.test", owner=PAT, ladder=[], token_sender=True)
    assert role is Role.RECIPIENT
