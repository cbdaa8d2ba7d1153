"""Machine-mail recognition over the shared corpora: every bounce and auto-reply, and no person's mail.

The corpora are read in place (the ``corpora`` fixture skips outside CI when they are
absent and fails on CI). Only whole RFC 5322 messages are read: a file counts when it
opens with a header block of two or more fields ended by a blank line; licences,
READMEs, HTML snippets and bare reply bodies are not messages.

Each bounce and auto-reply is tried twice:

* as recorded: the envelope sender is the file's Return-Path (``<>`` is empty), else its From;
* from a person: From (and a non-empty Return-Path) rewritten to ``pat.owner@acme.test``, the
  envelope sender that address too, unless the Return-Path was empty, which stays empty.
  What is left to recognise it by is the message's structure and words.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parseaddr
from pathlib import Path

import pytest

from pipeline.inbound.machine import machine_reason
from pipeline.inbound.parse import parse_mail
from pipeline.model.mail import Envelope
from tests.conftest import MAIL
from tests.support.corpora import SKIP_NAMES

BOUNCE_CORPORA = ("sisimai-set-of-emails", "flufl-bounce")
HUMAN_CORPORA = (
    "talon",
    "crisp-email-reply-parser",
    "mail-parser-reply",
    "discourse-forwards",
    "jetbrains-email-parser",
)
PERSON = "pat.owner@acme.test"

# Files of the bounce corpora that a person wrote. They must NOT be machine mail.
PERSON_WROTE = {
    # sisimai's own labels: messages it must not parse as bounces (SOURCES.md).
    "sisimai-set-of-emails/maildir/not/is-not-bounce-01.eml": "ordinary mail",
    "sisimai-set-of-emails/maildir/not/is-not-bounce-02.eml": "a person forwarding a message attached",
    # "Fwd: Returned mail: ..." from an Apple Mail user whose note is "Forward the message.": the
    # bounce is inside the forward. Flagging it would also drop an executive's "?" above a customer's
    # complaint that forwards a bounce, so forwarded content is never read by the body checks.
    "sisimai-set-of-emails/maildir/bsd/lhost-sendmail-14.eml": "a person forwarding a bounce",
}
# Bounces recognised as recorded (their sender is post_master@...), but not from a person's address:
# the inner multipart/alternative puts its boundary parameter on an unfolded line, so parse_mail finds
# no text part and the InboundMail has an empty body. What is left - subject "Re:Test message" /
# "Re:Nyaan", From and envelope a person - is a person's empty reply. machine_reason sees only the
# InboundMail, so there is nothing to recognise them by; a body that parses would be (see
# test_machine.test_an_smtp_reply_and_a_failure_sentence_together_are_machine_mail, the same text).
UNREADABLE_BODY = {
    "sisimai-set-of-emails/maildir/bsd/lhost-apachejames-01.eml",
    "sisimai-set-of-emails/maildir/dos/lhost-apachejames-01.eml",
    "sisimai-set-of-emails/maildir/mac/lhost-apachejames-01.eml",
    "sisimai-set-of-emails/maildir/bsd/lhost-verizon-02.eml",
}
# Messages of the human corpora that are machine mail after all (list mail with List-Id, ...): none.
HUMAN_BUT_MACHINE: dict[str, str] = {}

_FIELD = re.compile(rb"^[!-9;-~]+[ \t]*:")
_TEMPLATE_REPLY = (
    b"From: Pat Owner <pat.owner@acme.test>\nTo: escalations+q12-tok@acme.test\n"
    b"Subject: Re: [Q-12] Charged twice\nDate: Mon, 23 Nov 2026 16:40:00 +0000\n"
    b"Message-ID: <reply@acme.test>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n"
)


def lf(raw: bytes) -> bytes:
    return raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")


def is_message(raw: bytes) -> bool:
    """A header block of two or more fields (continuation lines allowed) ended by a blank line."""
    data = lf(raw)
    if b"\n\n" not in data:
        return False
    lines = data.split(b"\n\n", 1)[0].split(b"\n")
    if lines[0].startswith(b"From "):  # an mbox separator line
        lines = lines[1:]
    fields = 0
    for line in lines:
        if _FIELD.match(line):
            fields += 1
        elif not (line[:1] in (b" ", b"\t") and fields):
            return False
    return fields >= 2


def header_fields(raw: bytes) -> dict[str, str]:
    """The first value of each top-level header field, names lower-cased."""
    fields: dict[str, str] = {}
    for line in lf(raw).split(b"\n\n", 1)[0].decode("latin-1").split("\n"):
        name, sep, value = line.partition(":")
        if sep and not line[:1].isspace():
            fields.setdefault(name.strip().lower(), value.strip())
    return fields


def recorded_sender(raw: bytes) -> str:
    """What the MTA said in MAIL FROM: the Return-Path when the file kept one, else the From address."""
    fields = header_fields(raw)
    if "return-path" in fields:
        return parseaddr(fields["return-path"])[1]
    return parseaddr(fields.get("from", ""))[1]


def empty_return_path(raw: bytes) -> bool:
    return "return-path" in header_fields(raw) and recorded_sender(raw) == ""


def from_a_person(raw: bytes) -> bytes:
    """``raw`` with every top-level From field, and a non-empty Return-Path, saying pat.owner@acme.test."""
    head, sep, body = lf(raw).partition(b"\n\n")
    out: list[bytes] = []
    replacing = False
    wrote_from = False
    for line in head.split(b"\n"):
        if replacing and line[:1] in (b" ", b"\t"):
            continue
        replacing = False
        name = line.split(b":", 1)[0].strip().lower() if b":" in line else b""
        if name == b"from":
            if not wrote_from:
                out.append(b"From: Pat Owner <" + PERSON.encode() + b">")
                wrote_from = True
            replacing = True
        elif name == b"return-path" and line.split(b":", 1)[1].strip(b" \t<>"):
            out.append(b"Return-Path: <" + PERSON.encode() + b">")
            replacing = True
        else:
            out.append(line)
    if not wrote_from:
        out.append(b"From: Pat Owner <" + PERSON.encode() + b">")
    return b"\n".join(out) + sep + body


def envelope(mail_from: str) -> Envelope:
    return Envelope(mail_from, ("escalations@acme.test",), "corpus", datetime.now(UTC), "smtp")


def messages(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name not in SKIP_NAMES)
    return [p for p in files if is_message(p.read_bytes())]


def name_of(path: Path, corpora: Path) -> str:
    return path.relative_to(corpora).as_posix()


@pytest.mark.parametrize("corpus", BOUNCE_CORPORA)
def test_every_bounce_and_auto_reply_is_machine_mail_from_its_recorded_sender(corpora, corpus):
    paths = [p for p in messages(corpora / corpus) if name_of(p, corpora) not in PERSON_WROTE]

    missed = [
        name_of(p, corpora)
        for p in paths
        if machine_reason(parse_mail(p.read_bytes()), envelope(recorded_sender(p.read_bytes()))) is None
    ]

    print(f"{corpus} as recorded: {len(paths) - len(missed)}/{len(paths)} recognised")
    assert len(paths) > 100
    assert missed == []


@pytest.mark.parametrize("corpus", BOUNCE_CORPORA)
def test_every_bounce_and_auto_reply_is_machine_mail_from_a_persons_address(corpora, corpus):
    paths = [p for p in messages(corpora / corpus) if name_of(p, corpora) not in PERSON_WROTE]
    missed = []
    for path in paths:
        raw = path.read_bytes()
        sender = "" if empty_return_path(raw) else PERSON
        if machine_reason(parse_mail(from_a_person(raw)), envelope(sender)) is None:
            missed.append(name_of(path, corpora))

    expected = sorted(name for name in UNREADABLE_BODY if name.startswith(corpus + "/"))
    print(f"{corpus} from a person: {len(paths) - len(missed)}/{len(paths)} recognised, missed {missed}")
    assert sorted(missed) == expected  # an entry that is recognised now must leave UNREADABLE_BODY


@pytest.mark.parametrize("corpus", BOUNCE_CORPORA)
def test_most_bounces_are_recognised_even_without_their_sender_and_subject(corpora, corpus):
    # Harder than any real bounce (they come with an empty envelope sender): a person's address in
    # From and envelope, and a plain subject. Only the body and the MIME structure are left.
    paths = [p for p in messages(corpora / corpus) if name_of(p, corpora) not in PERSON_WROTE]
    paths = [
        p for p in paths if "/dos/" not in p.as_posix() and "/mac/" not in p.as_posix()
    ]  # copies of bsd/
    found = 0
    for path in paths:
        head, sep, body = from_a_person(path.read_bytes()).partition(b"\n\n")
        lines = [line for line in head.split(b"\n") if not line.lower().startswith(b"subject:")]
        raw = b"\n".join([*lines, b"Subject: Hello"]) + sep + body
        found += machine_reason(parse_mail(raw), envelope(PERSON)) is not None

    print(f"{corpus} by body and structure alone: {found}/{len(paths)}")
    assert found >= 0.95 * len(paths)


def test_the_person_written_mail_in_the_bounce_corpora_is_not_machine_mail(corpora):
    flagged = {}
    for name in PERSON_WROTE:
        raw = (corpora / name).read_bytes()
        found = machine_reason(parse_mail(raw), envelope(recorded_sender(raw)))
        if found:
            flagged[name] = found

    assert flagged == {}


@pytest.mark.parametrize("corpus", HUMAN_CORPORA)
def test_no_whole_message_in_the_human_corpora_is_machine_mail(corpora, corpus):
    paths = messages(corpora / corpus)
    flagged = {}
    for path in paths:
        raw = path.read_bytes()
        sender = parseaddr(header_fields(raw).get("from", ""))[1]
        found = machine_reason(parse_mail(raw), envelope(sender))
        if found and name_of(path, corpora) not in HUMAN_BUT_MACHINE:
            flagged[name_of(path, corpora)] = found

    print(f"{corpus}: {len(paths)} whole messages, {len(flagged)} flagged as machine mail")
    assert flagged == {}


def test_the_human_corpora_hold_the_whole_messages_we_expect(corpora):
    # crisp-email-reply-parser and mail-parser-reply hold reply bodies only; they are read below.
    counts = {corpus: len(messages(corpora / corpus)) for corpus in HUMAN_CORPORA}

    assert counts["crisp-email-reply-parser"] == counts["mail-parser-reply"] == 0
    assert counts["talon"] >= 14
    assert counts["discourse-forwards"] == 4
    assert counts["jetbrains-email-parser"] >= 75


@pytest.mark.parametrize("corpus", ("crisp-email-reply-parser", "mail-parser-reply", "talon"))
def test_reply_bodies_from_the_reply_corpora_sent_by_a_person_are_not_machine_mail(corpora, corpus):
    bodies = [
        p
        for p in sorted((corpora / corpus).rglob("*"))
        if p.is_file() and p.name not in SKIP_NAMES and p.suffix != ".html" and not is_message(p.read_bytes())
    ]
    flagged = {}
    for path in bodies:
        found = machine_reason(parse_mail(_TEMPLATE_REPLY + lf(path.read_bytes())), envelope(PERSON))
        if found:
            flagged[name_of(path, corpora)] = found

    print(f"{corpus}: {len(bodies)} reply bodies as a person's reply, {len(flagged)} flagged")
    assert bodies
    assert flagged == {}


def test_the_fixture_mails_are_not_machine_mail_except_the_auto_reply_and_the_dsn():
    flagged = {}
    for path in sorted(MAIL.glob("*.eml")):
        raw = path.read_bytes()
        found = machine_reason(parse_mail(raw), envelope(parseaddr(header_fields(raw).get("from", ""))[1]))
        if found:
            flagged[path.name] = found[0]

    assert flagged == {"auto-reply.eml": "auto_submitted", "dsn-mailer-daemon.eml": "auto_submitted"}
