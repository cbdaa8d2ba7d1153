"""Real mail from public projects (../shared/corpora) parses, or is refused cleanly, and forwards are found.

The corpora are read in place, never copied. Outside CI a missing folder skips these
tests; on CI (env ``CI`` set) a missing folder is a failure.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

import pytest

from pipeline.inbound.limits import Unparseable
from pipeline.inbound.parse import parse_mail
from pipeline.model.mail import InboundMail

CORPORA = Path(__file__).resolve().parents[3] / "shared" / "corpora"
FOLDERS = sorted(p.name for p in CORPORA.iterdir() if p.is_dir()) if CORPORA.is_dir() else []
DISCOURSE = CORPORA / "discourse-forwards"
DISCOURSE_MAIL = DISCOURSE / "spec" / "fixtures" / "emails"
JETBRAINS_FWD = CORPORA / "jetbrains-email-parser" / "src" / "main" / "resources" / "fwd"
SISIMAI = CORPORA / "sisimai-set-of-emails" / "maildir"


def require_corpora() -> None:
    if CORPORA.is_dir():
        return
    if os.environ.get("CI"):
        pytest.fail(f"{CORPORA} is missing; the corpus tests must run on CI")
    pytest.skip(f"{CORPORA} is absent (allowed outside CI)")


def outcome(path: Path) -> InboundMail | Unparseable:
    """What parse_mail makes of one file; any exception other than Unparseable propagates."""
    try:
        return parse_mail(path.read_bytes())
    except Unparseable as refused:
        return refused


def well_formed(mail: InboundMail) -> bool:
    return (
        all(
            isinstance(name, str) and isinstance(value, str) and name == name.lower()
            for name, value in mail.headers
        )
        and (mail.date is None or (isinstance(mail.date, datetime) and mail.date.tzinfo is not None))
        and (mail.from_ is None or mail.from_.email == mail.from_.email.lower())
        and "\r" not in mail.text
        and not mail.message_id.startswith("<")
    )


def test_the_corpora_are_present() -> None:
    require_corpora()

    assert FOLDERS


@pytest.mark.parametrize("folder", FOLDERS or ["(corpora absent)"])
def test_every_corpus_file_parses_or_is_refused_with_a_reason(folder: str) -> None:
    require_corpora()
    failures: list[str] = []
    files = sorted(path for path in (CORPORA / folder).rglob("*") if path.is_file())
    for path in files:
        try:
            result = outcome(path)
        except Exception as error:  # the point of the test: nothing but Unparseable may escape
            failures.append(f"{path.relative_to(CORPORA)}: {type(error).__name__}: {error}")
            continue
        if isinstance(result, Unparseable):
            if not result.reason:
                failures.append(f"{path.relative_to(CORPORA)}: Unparseable without a reason")
        elif not well_formed(result):
            failures.append(f"{path.relative_to(CORPORA)}: malformed InboundMail")

    assert files
    assert failures == []


def test_no_real_mail_in_the_corpora_is_refused() -> None:
    require_corpora()

    refused = [
        f"{path.relative_to(CORPORA)}: {result.reason}"
        for path in sorted(CORPORA.rglob("*"))
        if path.is_file() and isinstance(result := outcome(path), Unparseable)
    ]

    assert refused == []


def discourse_cases() -> list[tuple[str, dict[str, str]]]:
    if not (DISCOURSE / "expected.json").is_file():
        return []
    expected = json.loads((DISCOURSE / "expected.json").read_text(encoding="utf-8"))
    return [(name, case) for name, case in sorted(expected.items()) if not name.startswith("_")]


@pytest.mark.parametrize(("name", "case"), discourse_cases() or [("(corpora absent)", {})])
def test_discourse_inline_forwards_match_the_expectations(name: str, case: dict[str, str]) -> None:
    require_corpora()

    mail = parse_mail((DISCOURSE_MAIL / name).read_bytes())

    assert mail.from_ is not None
    assert mail.from_.email == case["forwarder"]
    assert mail.note == case["comment"]
    assert mail.subject.startswith(case["subject_prefix"])
    assert mail.forwarded is not None
    assert mail.forwarded.raw is None
    assert mail.forwarded.sender is not None
    assert mail.forwarded.sender.email == case["original_from"]
    assert mail.forwarded.subject == case["original_subject"]
    assert mail.forwarded.body.startswith(("Hello Ba Bar,", "Bonjour,"))


def test_discourse_forwards_get_the_shape_their_client_wrote() -> None:
    require_corpora()

    shapes = {}
    for path in sorted(DISCOURSE_MAIL.glob("*.eml")):
        forwarded = parse_mail(path.read_bytes()).forwarded
        shapes[path.name] = forwarded.shape if forwarded else None

    assert shapes == {
        "forwarded_email_1.eml": "outlook",
        "forwarded_email_2.eml": "outlook",
        "forwarded_email_3.eml": "inline",
        "forwarded_email_4.eml": "gmail",
    }


def test_jetbrains_real_forwards_are_all_found_with_their_original_sender() -> None:
    require_corpora()

    senders = {}
    for path in sorted(JETBRAINS_FWD.glob("*.eml")):
        mail = parse_mail(path.read_bytes())
        assert mail.forwarded is not None, path.name
        assert mail.forwarded.sender is not None, path.name
        senders[path.name] = mail.forwarded.sender.email

    assert senders == {
        "Fwd_gmail_tb.eml": "ppzhuk@gmail.com",
        "Fwd_gmail_wc.eml": "ppzhuk@gmail.com",
        "Fwd_mail_tb.eml": "ppzhuk@gmail.com",
        "Fwd_mail_wc.eml": "ppzhuk@gmail.com",
        "Fwd_yam_tb.eml": "pav9147@yandex.ru",
    }


def test_a_real_forward_as_attachment_is_found() -> None:
    require_corpora()

    mail = parse_mail((SISIMAI / "not" / "is-not-bounce-02.eml").read_bytes())

    assert mail.forwarded is not None
    assert mail.forwarded.shape == "attached"
    assert mail.forwarded.subject == "original"
    assert mail.forwarded.raw is not None
    assert mail.note == "it shouldn't be considered as bounce"


def test_the_windows_874_message_is_decoded_not_refused() -> None:
    require_corpora()

    path = CORPORA / "jetbrains-email-parser" / "src" / "test" / "resources" / "testEmls" / "SL" / "17444.eml"
    mail = parse_mail(path.read_bytes())

    assert mail.text.strip()
    assert "\ufffd" not in mail.text


def lf_bytes(path: Path) -> bytes:
    return path.read_bytes().replace(b"\r\n", b"\n").replace(b"\r", b"\n")


def test_crlf_and_cr_only_copies_parse_like_the_lf_originals() -> None:
    require_corpora()
    compared = 0
    for crlf in sorted((SISIMAI / "dos").iterdir()):
        copies = [SISIMAI / "mac" / crlf.name, SISIMAI / "bsd" / crlf.name]
        same = [path for path in copies if path.is_file() and lf_bytes(path) == lf_bytes(crlf)]
        first = outcome(crlf)
        assert isinstance(first, InboundMail), crlf.name
        for path in same:
            other = outcome(path)
            assert isinstance(other, InboundMail), path.name
            assert (other.subject, other.from_, other.to, other.text, other.note) == (
                first.subject, first.from_, first.to, first.text, first.note,
            ), f"{path.parent.name}/{path.name}"  # fmt: skip
            assert (other.forwarded is None) == (first.forwarded is None), f"{path.parent.name}/{path.name}"
            compared += 1

    assert compared >= 140  # 80 CR-only copies and the LF originals whose bytes match
