"""Hostile input is refused by a byte scan before the email package sees it (pipeline.inbound.limits)."""

from __future__ import annotations

from pathlib import Path

import pytest

import pipeline.inbound.parse as parse_module
from pipeline.inbound.limits import ParseLimits, Unparseable, check_limits
from pipeline.inbound.parse import parse_mail

MAIL = Path(__file__).resolve().parents[1] / "mail"
TOP = "From: Dana Chief <dana.chief@acme.test>\nTo: escalations@acme.test\nSubject: Fwd: bomb\n"


def nested_multipart(depth: int) -> bytes:
    """A message whose multiparts nest ``depth`` deep (the top-level multipart counts as one)."""
    opening = "".join(
        f'--b{level}\nContent-Type: multipart/mixed; boundary="b{level + 1}"\n\n'
        for level in range(depth - 1)
    )
    closing = "".join(f"--b{level}--\n" for level in reversed(range(depth)))
    body = f"{opening}--b{depth - 1}\nContent-Type: text/plain\n\n?\n{closing}"
    return f'{TOP}MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b0"\n\n{body}'.encode()


def flat_multipart(parts: int) -> bytes:
    body = "".join(f"--flat\nContent-Type: text/plain\n\npart {n}\n" for n in range(parts)) + "--flat--\n"
    return f'{TOP}MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="flat"\n\n{body}'.encode()


def refused(raw: bytes, limits: ParseLimits | None = None) -> str:
    with pytest.raises(Unparseable) as caught:
        check_limits(raw, limits or ParseLimits())
    return caught.value.reason


# -- the classic bombs -------------------------------------------------------------------------


def test_a_one_megabyte_subject_is_refused() -> None:
    raw = TOP.replace("Subject: Fwd: bomb", "Subject: " + "a" * (1024 * 1024)).encode() + b"\n?\n"

    assert refused(raw) == "header block is 1.0 MB, over the 256 KB cap"


def test_ten_thousand_received_lines_are_refused() -> None:
    hop = (
        "Received: from relay{n}.spam.example (relay{n}.spam.example [192.0.2.{m}])\n"
        "\tby mx.acme.test (Postfix) with ESMTPS id 4Qx{n:05d}; Mon, 23 Nov 2026 09:12:00 +0000\n"
    )
    raw = ("".join(hop.format(n=n, m=n % 250) for n in range(10_000)) + TOP + "\n?\n").encode()

    assert "header block is" in refused(raw)


def test_multiparts_nested_five_hundred_deep_are_refused() -> None:
    assert refused(nested_multipart(500)) == "MIME parts are nested more than 20 deep"


def test_five_thousand_parts_are_refused() -> None:
    assert refused(flat_multipart(5_000)) == "message has more than 1000 MIME parts"


def test_parts_without_their_own_headers_are_counted_by_their_delimiters() -> None:
    body = "--flat\n\nbare part\n" * 5_000 + "--flat--\n"
    raw = f'{TOP}Content-Type: multipart/mixed; boundary="flat"\n\n{body}'.encode()

    assert refused(raw) == "message has more than 1000 MIME parts"


def test_dash_lines_in_a_body_are_not_parts() -> None:
    raw = (TOP + "\n?\n" + "--\n-- \n--------\n--flat\n" * 2_000).encode()

    check_limits(raw)


def test_a_from_header_with_twenty_thousand_dots_is_refused() -> None:
    raw = TOP.replace("From: Dana Chief", "From: " + "a." * 20_000).encode() + b"\n?\n"

    assert refused(raw) == "from header is 40 KB, over the 8 KB cap for address headers"


@pytest.mark.parametrize(
    "raw",
    [
        TOP.replace("Subject: Fwd: bomb", "Subject: " + "a" * (1024 * 1024)).encode() + b"\n?\n",
        nested_multipart(500),
        flat_multipart(5_000),
        TOP.replace("From: Dana Chief", "From: " + "a." * 20_000).encode() + b"\n?\n",
    ],
    ids=["subject", "nesting", "parts", "dots"],
)
def test_parse_mail_refuses_bombs_before_the_email_package_runs(
    raw: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_parsing(*args: object, **kwargs: object) -> None:
        raise AssertionError("the email package must not see this input")

    monkeypatch.setattr(parse_module, "BytesParser", no_parsing)

    with pytest.raises(Unparseable):
        parse_mail(raw)


# -- each cap on its own -----------------------------------------------------------------------


def test_a_single_header_over_its_cap_is_named_in_the_reason() -> None:
    raw = (TOP + "X-Long: " + "x" * (17 * 1024) + "\n\n?\n").encode()

    assert refused(raw) == "x-long header is 18 KB, over the 16 KB cap"


def test_a_folded_header_is_measured_unfolded() -> None:
    folded = "\n ".join(["word" * 250] * 17)  # 17 lines of 1000 characters, one header
    raw = (TOP + f"X-Folded: {folded}\n\n?\n").encode()

    assert refused(raw).startswith("x-folded header is 17 KB")


def test_a_long_recipient_list_is_held_to_the_address_cap() -> None:
    recipients = ", ".join(f"person{n}@shop.example" for n in range(500))
    raw = (TOP + f"Cc: {recipients}\n\n?\n").encode()

    assert refused(raw).endswith("over the 8 KB cap for address headers")


def test_a_header_just_under_its_cap_passes() -> None:
    check_limits((TOP + "X-Long: " + "x" * (15 * 1024) + "\n\n?\n").encode())


def test_nesting_at_the_cap_passes_and_one_more_level_is_refused() -> None:
    check_limits(nested_multipart(20))

    assert refused(nested_multipart(21)) == "MIME parts are nested more than 20 deep"


def test_nested_multiparts_within_the_cap_still_parse() -> None:
    assert parse_mail(nested_multipart(20)).note == "?"


def test_many_attached_messages_side_by_side_are_not_deep() -> None:
    attached = (
        "--outer\nContent-Type: message/rfc822\n\n"
        'From: c{n}@shop.example\nContent-Type: multipart/alternative; boundary="in{n}"\n\n'
        "--in{n}\nContent-Type: text/plain\n\nhello\n"
        "--in{n}\nContent-Type: text/html\n\n<p>hello</p>\n--in{n}--\n"
    )
    body = (
        "--outer\nContent-Type: text/plain\n\n?\n"
        + "".join(attached.format(n=n) for n in range(40))
        + "--outer--\n"
    )
    raw = f'{TOP}Content-Type: multipart/mixed; boundary="outer"\n\n{body}'.encode()

    check_limits(raw)
    forwarded = parse_mail(raw).forwarded
    assert forwarded is not None
    assert forwarded.sender is not None
    assert forwarded.sender.email == "c0@shop.example"


def test_limits_can_be_tightened() -> None:
    limits = ParseLimits(max_parts=3, max_depth=1, max_header_bytes=200)

    # the multipart container counts as a part too, as in Message.walk()
    assert refused(flat_multipart(3), limits) == "message has more than 3 MIME parts"
    assert refused(nested_multipart(2), limits) == "MIME parts are nested more than 1 deep"
    assert refused((TOP + "X-Pad: " + "p" * 200 + "\n\n?\n").encode(), limits).startswith("header block is")


def test_parse_mail_applies_the_limits_it_is_given() -> None:
    with pytest.raises(Unparseable) as caught:
        parse_mail(flat_multipart(3), ParseLimits(max_parts=3))

    assert caught.value.reason == "message has more than 3 MIME parts"
    assert parse_mail(flat_multipart(2), ParseLimits(max_parts=3)).note == "part 0\npart 1"


# -- line endings and where the header block ends ----------------------------------------------


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"], ids=["lf", "crlf", "cr-only"])
def test_a_large_body_is_not_counted_as_header_block(newline: bytes) -> None:
    body = b"".join(b"Looks-Like-A-Header: but it is body text %d\n" % n for n in range(20_000))
    raw = (TOP.encode() + b"\n" + body).replace(b"\n", newline)

    check_limits(raw)


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"], ids=["lf", "crlf", "cr-only"])
def test_a_huge_header_block_is_refused_with_any_line_ending(newline: bytes) -> None:
    headers = b"".join(b"X-Filler-%d: %s\n" % (n, b"f" * 60) for n in range(5_000))
    raw = (TOP.encode() + headers + b"\n?\n").replace(b"\n", newline)

    assert refused(raw).startswith("header block is")


def test_a_message_that_is_all_headers_is_measured_whole() -> None:
    raw = b"".join(b"X-Filler-%d: %s\n" % (n, b"f" * 60) for n in range(5_000))

    assert refused(raw).startswith("header block is")


def test_every_fixture_mail_is_within_the_limits() -> None:
    for path in sorted(MAIL.glob("*.eml")):
        check_limits(path.read_bytes())


# -- what the stdlib would choke on, refused or handled ------------------------------------------


def test_a_bomb_hidden_in_a_base64_attached_message_is_refused() -> None:
    import base64

    inner = base64.encodebytes(nested_multipart(100)).decode()
    raw = (
        f'{TOP}Content-Type: multipart/mixed; boundary="outer"\n\n'
        "--outer\nContent-Type: text/plain\n\n?\n"
        f"--outer\nContent-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n{inner}--outer--\n"
    ).encode()

    with pytest.raises(Unparseable) as caught:
        parse_mail(raw)

    assert caught.value.reason == "attached message: MIME parts are nested more than 20 deep"


def test_an_address_with_a_thousand_nested_comments_is_unparseable_not_a_crash() -> None:
    raw = TOP.replace("From: Dana Chief", "From: Dana " + "(" * 1000 + ")" * 1000).encode() + b"\n?\n"

    with pytest.raises(Unparseable) as caught:
        parse_mail(raw)

    assert "nested too deeply" in caught.value.reason


def test_check_limits_accepts_bytearray_and_memoryview() -> None:
    raw = flat_multipart(5_000)

    with pytest.raises(Unparseable):
        check_limits(bytearray(raw))  # type: ignore[arg-type]
    with pytest.raises(Unparseable):
        check_limits(memoryview(raw))  # type: ignore[arg-type]
