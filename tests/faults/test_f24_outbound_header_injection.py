"""F24: hostile owner names and subjects cannot add a header to the mail qmark sends.

Injected through the rules and the inbound mail: the owner's display name in
``people.yaml`` and the complaint's subject (the forward's Subject header, RFC 2047
encoded where it carries a control character, and the forwarded ``Subject:`` line in
the body) each carry ``Bcc: eve@evil.example`` behind a CR, an LF, U+2028, an encoded
newline (``=?utf-8?q?=0A?=``) or a 10 KB word (in the name cut to the 200 characters
a name may have: a longer one is refused when the rules load, see
tests/unit/test_rules_loader.py). Dana's forward then goes through the real process
and send steps, over SMTP to the relay sink.

Invariants: the bytes the relay receives re-parse to exactly the intended header set
(the same fields, in the same order, as qmark writes for any escalation), no line is
over 998 octets, no value decodes to a line break, and each mail goes to its one
intended recipient only (I3, I4: nobody else is mailed).
"""

from __future__ import annotations

import email
import email.policy
import json
import re
from email.message import EmailMessage
from email.utils import getaddresses

import pytest

from tests.conftest import mail_fixture
from tests.integration.test_replies import DANA, PAT, make_life
from tests.support.life import Life
from tests.support.rules import edit_rules
from tests.support.runners import settings_from

pytestmark = pytest.mark.integration

EVIL = "Bcc: eve@evil.example"
ATTACKS = {
    "CR": ("\r", "=?utf-8?q?_=0D?="),
    "LF": ("\n", "=?utf-8?q?_=0A?="),
    "CRLF": ("\r\n", "=?utf-8?q?_=0D=0A?="),
    "U+2028": ("\u2028", "=?utf-8?b?4oCo?="),
    "encoded newline": (" =?utf-8?q?=0A?=", " =?utf-8?q?=3D=3Futf-8=3Fq=3F=3D0A=3F=3D?="),
    "10 KB word": (" " + "a" * 10_240 + " ", " " + "a" * 10_240 + " "),
}
COMMON = ["From", "To", "Subject", "Date", "Message-ID", "Reply-To", "X-Qmark-Escalation", "Auto-Submitted"]
INTENDED = {
    PAT: [*COMMON, "X-Auto-Response-Suppress", "MIME-Version", "Content-Type"],
    DANA: [*COMMON, "X-Auto-Response-Suppress", "MIME-Version", "Content-Type", "Content-Transfer-Encoding"],
}
_BREAKS = re.compile("[\r\n\u2028\u2029\x85\x0b\x0c]")


def hostile_forward(literal: str, encoded: str) -> bytes:
    """Dana's forward whose Subject header (encoded) and forwarded Subject line (literal) carry EVIL."""
    raw = mail_fixture("gmail-forward.eml")
    raw = raw.replace(
        b"Subject: Fwd: Charged twice for invoice 4411",
        f"Subject: Fwd: Charged twice{encoded} {EVIL}".encode(),
    )
    return raw.replace(
        b"Subject: Charged twice for invoice 4411", f"Subject: Charged twice{literal}{EVIL}".encode()
    )


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_f24_hostile_names_and_subjects_reach_the_relay_with_exactly_the_intended_headers(
    attack, database_url, redis_url, relay_sink, tmp_path
):
    literal, encoded = ATTACKS[attack]
    first = make_life(database_url, redis_url, relay_sink, tmp_path)
    # Given Pat's display name in people.yaml carries the attack (a YAML string may hold any character)
    # (a name over 200 characters is refused when the rules load, so the 10 KB word is cut to fit)
    name = ("Pat" + literal + EVIL)[:200]
    edit_rules(tmp_path / "rules" / "people.yaml", "name: Pat Owner", f"name: {json.dumps(name)}")
    from workers.bootstrap import build

    life = Life(build(settings=settings_from(first.env)), relay_sink, database_url)
    # When Dana forwards a complaint whose subject carries it too
    life.deliver(hostile_forward(literal, encoded))
    # Then the owner's forward and Dana's acknowledgement leave with exactly the intended headers
    sent = life.new_mail(2)
    assert sorted(m.rcpt_tos for m in sent) == [(DANA,), (PAT,)]
    for mail in sent:
        (rcpt,) = mail.rcpt_tos
        head = mail.data.split(b"\r\n\r\n", 1)[0]
        assert all(len(line) <= 998 for line in head.split(b"\r\n")), attack
        assert head.isascii()
        message = email.message_from_bytes(mail.data, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        assert list(message.keys()) == INTENDED[rcpt], (attack, rcpt)
        for name, value in message.items():
            assert not _BREAKS.search(str(value)), (attack, name, str(value)[:200])
        addresses = getaddresses([str(v) for k in ("To", "Cc", "Bcc") for v in message.get_all(k, [])])
        assert [a for _, a in addresses] == [rcpt]
        if rcpt == PAT:  # the hostile name was used, as text
            assert addresses[0][0].startswith("Pat ")
        assert "Charged twice" in str(message["Subject"])
