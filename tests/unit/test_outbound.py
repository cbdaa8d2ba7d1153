"""The owner's forward and the executive's acknowledgement carry the DESIGN §4.4 mail contract."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import parseaddr
from typing import Any

import pytest

from pipeline.model.ids import parse_message_id
from pipeline.model.mail import Address, Original, OutgoingMail
from pipeline.model.tokens import check_token, token_from_address
from pipeline.outbound import compose, opening
from pipeline.outbound.compose import Identity
from pipeline.outbound.headers import clean_text
from pipeline.outbound.opening import EscalationFacts, render_executive_ack, render_owner_forward
from tests.support.mailcheck import body_text, parse

SECRET = b"unit-test-secret-0123456789abcdef"
IDENTITY = Identity(
    from_address=Address("escalations@acme.test", "qmark"),
    reply_local="escalations",
    domain="acme.test",
    secret=SECRET,
)
COMPLAINT_RAW = (
    b"From: Carla Customer <carla@customer.example>\n"
    b"To: support@acme.test\n"
    b"Subject: Invoice charged twice\n"
    b"Date: Tue, 24 Nov 2026 08:02:00 +0000\n"
    b"Message-ID: <c0ffee.42@customer.example>\n"
    b"Content-Type: text/plain; charset=utf-8\n"
    b"Content-Transfer-Encoding: 8bit\n"
    b"\n"
    b"You charged me twice. Gr\xc3\xbc\xc3\x9fe, Carla\n"
)
SECTIONS = ("What happened", "Impact", "Root cause (five whys)", "Corrective actions", "Preventive actions")
FACTS = EscalationFacts(
    ref="Q-12",
    number=12,
    executive=Address("dana.chief@acme.test", "Dana Chief"),
    owner=Address("pat.owner@acme.test", "Pat Owner"),
    owner_timezone="Europe/Berlin",
    deadline=datetime(2026, 11, 24, 13, 30, tzinfo=UTC),
    opened_at=datetime(2026, 11, 24, 9, 30, tzinfo=UTC),
    executive_note="? third time this month",
    complaint=Original(
        shape="attached",
        sender=Address("carla@customer.example", "Carla Customer"),
        date="Tue, 24 Nov 2026 08:02:00 +0000",
        subject="Invoice charged twice",
        body="You charged me twice. Grüße, Carla",
        raw=COMPLAINT_RAW,
    ),
    route="billing",
    route_reasons=("text matched /charged twice/", "customer domain customer.example"),
    rca_sections=SECTIONS,
)
INLINE = Original(
    shape="gmail",
    sender=Address("carla@customer.example", "Carla Customer"),
    date="Tue, 24 Nov 2026 08:02:00 +0000",
    subject="Invoice charged twice",
    body="You charged me twice.\nPlease fix it.",
)


def attachment(mail: OutgoingMail) -> EmailMessage:
    (part,) = parse(mail).iter_attachments()
    return part


@pytest.fixture(params=["forward", "ack"])
def rendered(request: pytest.FixtureRequest) -> tuple[OutgoingMail, Address]:
    if request.param == "forward":
        return render_owner_forward(FACTS, IDENTITY), FACTS.owner
    return render_executive_ack(FACTS, IDENTITY), FACTS.executive


def test_every_mail_carries_the_contract_headers(rendered: tuple[OutgoingMail, Address]) -> None:
    mail, recipient = rendered

    msg = parse(mail)

    assert "[Q-12]" in msg["Subject"]
    assert msg["X-Qmark-Escalation"] == "Q-12"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["X-Auto-Response-Suppress"] == "All"
    assert msg["MIME-Version"] == "1.0"
    assert msg["Date"].datetime.tzinfo is not None
    assert msg["From"].addresses[0].addr_spec == "escalations@acme.test"
    assert [a.addr_spec for a in msg["To"].addresses] == [recipient.email]
    assert mail.recipient == recipient.email
    assert msg["Message-ID"] == mail.message_id


def test_no_mail_is_marked_as_bulk(rendered: tuple[OutgoingMail, Address]) -> None:
    assert "Precedence" not in parse(rendered[0])


def test_the_reply_to_is_signed_for_this_escalation_and_this_recipient_only(
    rendered: tuple[OutgoingMail, Address],
) -> None:
    mail, recipient = rendered
    reply_to = parse(mail)["Reply-To"].addresses[0].addr_spec
    token = token_from_address(reply_to, local="escalations", domain="acme.test")
    assert token is not None

    mine = check_token(SECRET, token, recipient.email)
    someone_else = check_token(SECRET, token, "mallory@evil.example")

    assert (mine.number, mine.genuine, mine.recipient_ok) == (12, True, True)
    assert (someone_else.genuine, someone_else.recipient_ok) == (True, False)


def test_the_envelope_sender_is_the_signed_reply_address(rendered: tuple[OutgoingMail, Address]) -> None:
    mail, _ = rendered

    assert mail.envelope_from == parse(mail)["Reply-To"].addresses[0].addr_spec
    assert mail.envelope_from.startswith("escalations+q12-")


def test_the_owner_forward_and_the_ack_are_bound_to_different_recipients() -> None:
    forward = render_owner_forward(FACTS, IDENTITY)
    ack = render_executive_ack(FACTS, IDENTITY)

    assert forward.envelope_from != ack.envelope_from
    assert (forward.kind, ack.kind) == ("owner_forward", "executive_ack")


def test_the_subjects_follow_the_contract() -> None:
    assert parse(render_owner_forward(FACTS, IDENTITY))["Subject"] == "[Q-12] ? Invoice charged twice"
    assert (
        parse(render_executive_ack(FACTS, IDENTITY))["Subject"]
        == "[Q-12] Escalated to Pat Owner: Invoice charged twice"
    )


def test_the_message_id_names_escalation_and_kind_and_parses_back(
    rendered: tuple[OutgoingMail, Address],
) -> None:
    mail, _ = rendered

    assert re.fullmatch(rf"<qmark\.q12\.{mail.kind}\.[0-9a-f]{{16}}@acme\.test>", mail.message_id)
    assert parse_message_id(mail.message_id, domain="acme.test") == 12
    assert parse_message_id(mail.message_id.strip("<>").upper(), domain="ACME.test") == 12


@pytest.mark.parametrize(
    "mid",
    [
        "<qmark.q12.owner_forward.0123456789abcdef@other.test>",
        "<c0ffee.42@customer.example>",
        "<qmark.q0.owner_forward.0123456789abcdef@acme.test>",
        "<qmark.qx.owner_forward.0123456789abcdef@acme.test>",
        "",
    ],
)
def test_foreign_message_ids_are_not_ours(mid: str) -> None:
    assert parse_message_id(mid, domain="acme.test") is None


def test_two_renders_get_different_message_ids() -> None:
    assert (
        render_owner_forward(FACTS, IDENTITY).message_id != render_owner_forward(FACTS, IDENTITY).message_id
    )


def test_the_deadline_is_shown_in_the_owners_berlin_time_with_lead_time() -> None:
    text = body_text(render_owner_forward(FACTS, IDENTITY))

    assert "Deadline: Tue 24 Nov 2026 14:30 CET (Europe/Berlin), 4 hours after it reached you." in text


def test_the_deadline_is_shown_in_new_york_time_for_an_owner_there() -> None:
    facts = replace(FACTS, owner_timezone="America/New_York")

    text = body_text(render_owner_forward(facts, IDENTITY))

    assert "Deadline: Tue 24 Nov 2026 08:30 EST (America/New_York)" in text


def test_between_the_us_and_eu_clock_changes_new_york_is_on_summer_time_and_berlin_is_not() -> None:
    deadline = datetime(2026, 3, 20, 13, 30, tzinfo=UTC)
    facts = replace(FACTS, deadline=deadline, opened_at=deadline - timedelta(minutes=90))

    new_york = body_text(render_owner_forward(replace(facts, owner_timezone="America/New_York"), IDENTITY))
    berlin = body_text(render_owner_forward(facts, IDENTITY))

    assert "Deadline: Fri 20 Mar 2026 09:30 EDT (America/New_York), 1 hour 30 minutes after" in new_york
    assert "Deadline: Fri 20 Mar 2026 14:30 CET (Europe/Berlin)" in berlin


def test_a_summer_deadline_in_berlin_is_in_cest() -> None:
    deadline = datetime(2026, 7, 1, 6, 0, tzinfo=UTC)
    facts = replace(FACTS, deadline=deadline, opened_at=deadline - timedelta(days=2))

    text = body_text(render_owner_forward(facts, IDENTITY))

    assert "Deadline: Wed 1 Jul 2026 08:00 CEST (Europe/Berlin), 2 days after it reached you." in text


def test_the_forward_names_the_executive_and_keeps_their_note_verbatim() -> None:
    text = body_text(render_owner_forward(FACTS, IDENTITY))

    assert text.startswith("Dana Chief <dana.chief@acme.test> asked about the customer complaint")
    assert "\n    ? third time this month\n" in text


def test_the_forward_explains_how_to_answer_and_why_the_owner_got_it() -> None:
    text = body_text(render_owner_forward(FACTS, IDENTITY))

    assert "Reply to this mail" in text
    assert text.index("First, your explanation") < text.index("Later, the root-cause writeup")
    assert 'The "billing" route sent this to you:\n- text matched /charged twice/\n' in text
    assert "- customer domain customer.example\n" in text


def test_the_complaint_is_shown_plainly_under_its_own_line() -> None:
    text = body_text(render_owner_forward(FACTS, IDENTITY))

    complaint = text.split("---- The complaint ----\n", 1)[1]
    assert complaint.startswith(
        "From: Carla Customer <carla@customer.example>\n"
        "Date: Tue, 24 Nov 2026 08:02:00 +0000\n"
        "Subject: Invoice charged twice\n"
        "\n"
        "You charged me twice. Grüße, Carla\n"
    )
    assert "> You charged" not in text


def test_the_writeup_template_lists_every_section_as_a_heading_in_order() -> None:
    text = body_text(render_owner_forward(FACTS, IDENTITY))

    template = text.split("---- Root-cause writeup", 1)[1]
    assert re.findall(r"^## (.+)$", template, re.M) == list(SECTIONS)
    for title in SECTIONS:
        assert f"## {title}\n\n" in template


def test_the_original_is_attached_as_message_rfc822_and_reparses_to_the_complaint() -> None:
    part = attachment(render_owner_forward(FACTS, IDENTITY))

    assert part.get_content_type() == "message/rfc822"
    inner = part.get_content()
    assert inner["Subject"] == "Invoice charged twice"
    assert inner.get_content().replace("\r\n", "\n") == "You charged me twice. Grüße, Carla\n"


def test_the_attached_original_is_the_complaint_byte_for_byte_apart_from_line_endings() -> None:
    raw = render_owner_forward(FACTS, IDENTITY).raw

    assert COMPLAINT_RAW.replace(b"\n", b"\r\n") in raw
    assert b"Content-Transfer-Encoding: 8bit\r\n\r\nFrom: Carla Customer" in raw


def test_an_inline_forward_gets_a_rebuilt_original_attached() -> None:
    facts = replace(FACTS, complaint=INLINE)

    inner = attachment(render_owner_forward(facts, IDENTITY)).get_content()

    assert inner["From"].addresses[0].addr_spec == "carla@customer.example"
    assert inner["Subject"] == "Invoice charged twice"
    assert inner["Date"].datetime == datetime(2026, 11, 24, 8, 2, tzinfo=UTC)
    assert "inline forward (gmail)" in inner["X-Qmark-Reconstructed"]
    assert inner.get_content().replace("\r\n", "\n") == "You charged me twice.\nPlease fix it.\n"


def test_an_original_that_is_not_valid_mail_is_attached_as_an_eml_file() -> None:
    broken = replace(FACTS.complaint, raw=b"Subject: x\r\n\r\n" + b"y" * 5000 + b"\r\n")

    mail = render_owner_forward(replace(FACTS, complaint=broken), IDENTITY)

    part = attachment(mail)
    assert part.get_content_type() == "application/octet-stream"
    assert part.get_filename() == "complaint.eml"
    assert part.get_content() == broken.raw
    assert max(len(line) for line in mail.raw.split(b"\r\n")) <= 998


def test_references_points_at_the_complaints_own_message_id() -> None:
    assert parse(render_owner_forward(FACTS, IDENTITY))["References"] == "<c0ffee.42@customer.example>"
    assert "References" not in parse(render_owner_forward(replace(FACTS, complaint=INLINE), IDENTITY))


def test_the_ack_says_who_has_it_and_when_in_utc_and_in_the_owners_time() -> None:
    text = body_text(render_executive_ack(FACTS, IDENTITY))

    assert text.startswith(
        "Q-12 is with Pat Owner <pat.owner@acme.test>, due Tue 24 Nov 2026 13:30 UTC "
        "(Tue 24 Nov 2026 14:30 CET for them, Europe/Berlin)."
    )
    assert 'The "billing" route matched:\n- text matched /charged twice/\n' in text
    assert "You will hear back when Pat Owner explains." in text
    assert not list(parse(render_executive_ack(FACTS, IDENTITY)).iter_attachments())


def test_every_line_ends_in_crlf_and_fits_998_octets(rendered: tuple[OutgoingMail, Address]) -> None:
    raw = rendered[0].raw

    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert b"\r" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998


def test_a_non_ascii_body_is_quoted_printable_and_decodes_back() -> None:
    facts = replace(FACTS, owner=Address("zoe@acme.test", "Zoë Owner"))

    mail = render_executive_ack(facts, IDENTITY)

    assert parse(mail)["Content-Transfer-Encoding"] == "quoted-printable"
    assert body_text(mail).startswith("Q-12 is with Zoë Owner <zoe@acme.test>, due")
    assert parse(mail)["Subject"] == "[Q-12] Escalated to Zoë Owner: Invoice charged twice"


def test_facts_whose_ref_and_number_disagree_are_refused() -> None:
    with pytest.raises(ValueError, match="does not name"):
        replace(FACTS, ref="Q-13")


def test_facts_with_a_naive_deadline_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        replace(FACTS, deadline=datetime(2026, 11, 24, 13, 30))


def test_facts_with_an_unknown_timezone_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown IANA timezone"):
        replace(FACTS, owner_timezone="Mars/Olympus_Mons")


@pytest.mark.parametrize(
    ("field", "value"), [("reply_local", "esc+alations"), ("domain", "acme.test>"), ("secret", b"")]
)
def test_an_identity_that_would_break_the_reply_address_is_refused(field: str, value: Any) -> None:
    with pytest.raises(ValueError):
        replace(IDENTITY, **{field: value})


def header_block(mail: OutgoingMail) -> bytes:
    return mail.raw.split(b"\r\n\r\n", 1)[0]


def test_ordinary_header_lines_are_folded_to_78_columns(rendered: tuple[OutgoingMail, Address]) -> None:
    assert max(len(line) for line in header_block(rendered[0]).split(b"\r\n")) <= 78


@pytest.mark.parametrize(
    "name", ["Zoë Owner", "Jürgen Müller-Lüdenscheidt, Billing", "😀" * 60, "日本語 の名前"]
)
@pytest.mark.parametrize(
    "subject", ["Rückerstattung doppelt abgebucht", "Invoice charged twice", "très " * 60]
)
def test_non_ascii_names_and_subjects_decode_to_exactly_what_was_meant(name: str, subject: str) -> None:
    facts = replace(
        FACTS, owner=Address("zoe@acme.test", name), complaint=replace(FACTS.complaint, subject=subject)
    )
    shown_name, shown_subject = clean_text(name, max_len=200), clean_text(subject, max_len=200)

    forward, ack = render_owner_forward(facts, IDENTITY), render_executive_ack(facts, IDENTITY)

    for mail in (forward, ack):
        head = header_block(mail)
        assert head.isascii()
        assert re.search(rb"^Subject: \[Q-12\] ", head, re.M)  # the tag stays literal on the wire
        assert max(len(line) for line in head.split(b"\r\n")) <= 78
    assert parse(forward)["Subject"] == f"[Q-12] ? {shown_subject}"
    assert parse(ack)["Subject"] == f"[Q-12] Escalated to {shown_name}: {shown_subject}"
    (owner,) = parse(forward)["To"].addresses
    assert owner.addr_spec == "zoe@acme.test"
    raw_to = BytesHeaderParser(policy=policy.compat32).parsebytes(forward.raw)["To"]
    display, _ = parseaddr("".join(raw_to.splitlines()))
    assert str(make_header(decode_header(display))) == shown_name  # as an RFC 2047 reader shows it
    assert f"Q-12 is with {shown_name} <zoe@acme.test>, due" in body_text(ack)


def test_an_original_with_bare_cr_line_endings_is_attached_with_crlf() -> None:
    facts = replace(FACTS, complaint=replace(FACTS.complaint, raw=COMPLAINT_RAW.replace(b"\n", b"\r")))

    mail = render_owner_forward(facts, IDENTITY)

    assert COMPLAINT_RAW.replace(b"\n", b"\r\n") in mail.raw
    assert attachment(mail).get_content()["Subject"] == "Invoice charged twice"


def test_a_body_line_over_998_octets_goes_quoted_printable_and_decodes_back() -> None:
    facts = replace(FACTS, executive_note="x" * 1500)

    mail = render_executive_ack(facts, IDENTITY)

    assert parse(mail)["Content-Transfer-Encoding"] == "quoted-printable"
    assert f"\n    {'x' * 1500}\n" in body_text(mail)
    assert max(len(line) for line in mail.raw.split(b"\r\n")) <= 78


def test_the_opening_mails_module_defines_its_names_and_re_exports_none() -> None:
    assert (opening.OWNER_FORWARD, opening.EXECUTIVE_ACK) == ("owner_forward", "executive_ack")
    assert callable(opening.render_owner_forward) and callable(opening.render_executive_ack)
    # The Message-ID helpers live in model.ids and Identity in compose: one import path each
    for name in ("make_message_id", "parse_message_id", "__all__"):
        assert not hasattr(opening, name), name
    assert "Identity" in vars(compose) and compose.Identity.__module__ == compose.__name__


def compose_note(**changes: Any) -> OutgoingMail:
    fields: dict[str, Any] = {
        "number": 12,
        "ref": "Q-12",
        "kind": "executive_note",
        "recipient": FACTS.owner,
        "subject": "[Q-12] Note",
        "body": "Hello.",
    }
    return compose.compose(IDENTITY, **(fields | changes))


def test_compose_writes_the_contract_for_any_kind_of_mail() -> None:
    mail = compose_note()

    msg = parse(mail)
    assert (msg["Subject"], msg["X-Qmark-Escalation"], msg["Auto-Submitted"]) == (
        "[Q-12] Note",
        "Q-12",
        "auto-generated",
    )
    assert parse_message_id(mail.message_id, domain="acme.test") == 12
    assert mail.kind == "executive_note"
    assert body_text(mail) == "Hello.\n"


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"subject": "Note about Q-12"}, "must start with"),
        ({"subject": "[Q-13] Note"}, "must start with"),
        ({"ref": "Q-13"}, "does not name"),
        ({"kind": "Executive-Note"}, "kind"),
        ({"recipient": Address("pat@acme.test\r\nBcc: x@evil.example")}, "unsafe email address"),
    ],
)
def test_compose_refuses_a_mail_that_would_break_the_contract(changes: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        compose_note(**changes)
