"""Signed reply addresses: issued per (escalation, recipient), checked without a database."""

from __future__ import annotations

import re

import pytest

from pipeline.model.tokens import (
    TokenCheck,
    check_token,
    check_token_with_keys,
    make_token,
    reply_address,
    token_from_address,
)

SECRET = b"test-secret-key-0123456789abcdef"
OWNER = "pat.owner@acme.test"


def test_a_token_is_lower_case_base32_after_the_escalation_number() -> None:
    token = make_token(SECRET, 12, OWNER)

    assert re.fullmatch(r"q12-[a-z2-7]{24}", token)


def test_the_reply_address_puts_the_token_after_a_plus_in_the_intake_local_part() -> None:
    address = reply_address(SECRET, 12, OWNER, local="escalations", domain="acme.test")

    assert address == f"escalations+{make_token(SECRET, 12, OWNER)}@acme.test"


def test_the_local_part_stays_well_under_64_characters_even_for_huge_numbers() -> None:
    address = reply_address(SECRET, 999_999_999_999, OWNER, local="escalations", domain="acme.test")

    assert len(address.partition("@")[0]) <= 52


def test_a_token_verifies_for_the_recipient_it_was_issued_to() -> None:
    token = make_token(SECRET, 12, OWNER)

    assert check_token(SECRET, token, OWNER) == TokenCheck(12, genuine=True, recipient_ok=True, reason="ok")


def test_the_recipient_binding_ignores_the_case_of_the_address() -> None:
    token = make_token(SECRET, 12, "Pat.Owner@ACME.test")

    assert check_token(SECRET, token, " pat.owner@acme.TEST ").recipient_ok


def test_a_token_upper_cased_by_an_mta_still_verifies() -> None:
    token = make_token(SECRET, 12, OWNER).upper()

    assert check_token(SECRET, token, OWNER).recipient_ok


def test_a_genuine_token_replayed_by_someone_else_is_genuine_but_not_theirs() -> None:
    token = make_token(SECRET, 12, OWNER)

    result = check_token(SECRET, token, "mallory@evil.example")

    assert (result.number, result.genuine, result.recipient_ok) == (12, True, False)
    assert "different recipient" in result.reason


def test_a_token_moved_to_another_escalation_number_is_a_forgery() -> None:
    token = make_token(SECRET, 12, OWNER).replace("q12-", "q13-")

    result = check_token(SECRET, token, OWNER)

    assert (result.number, result.genuine, result.recipient_ok) == (None, False, False)


def test_a_token_with_one_character_changed_is_a_forgery() -> None:
    token = make_token(SECRET, 12, OWNER)
    flipped = token[:-20] + ("a" if token[-20] != "a" else "b") + token[-19:]

    assert not check_token(SECRET, flipped, OWNER).genuine


def test_a_token_signed_with_another_secret_is_a_forgery() -> None:
    token = make_token(b"some-other-secret", 12, OWNER)

    result = check_token(SECRET, token, OWNER)

    assert not result.genuine
    assert result.reason == "signature does not verify"


@pytest.mark.parametrize(
    "token",
    [
        "",
        "q12",
        "q12-",
        "q0-" + "a" * 24,
        "q012-" + "a" * 24,
        "x12-" + "a" * 24,
        "q12-" + "a" * 23,
        "q12-" + "a" * 24 + "1",
        "q12-" + "a" * 23 + "=",
        "q-1-x",
    ],
)
def test_malformed_tokens_are_rejected_with_a_reason_and_no_number(token: str) -> None:
    result = check_token(SECRET, token, OWNER)

    assert result == TokenCheck(None, genuine=False, recipient_ok=False, reason="malformed token")


def test_issuing_a_token_needs_a_secret_and_a_positive_number() -> None:
    with pytest.raises(ValueError, match="secret"):
        make_token(b"", 12, OWNER)
    with pytest.raises(ValueError, match="number"):
        make_token(SECRET, 0, OWNER)
    with pytest.raises(ValueError, match="number"):
        make_token(SECRET, True, OWNER)


def test_the_token_is_read_back_from_a_reply_address_in_any_case_and_with_brackets() -> None:
    token = make_token(SECRET, 12, OWNER)
    address = f"<Escalations+{token.upper()}@ACME.test>"

    assert token_from_address(address, local="escalations", domain="acme.test") == token


@pytest.mark.parametrize(
    "address",
    [
        "escalations@acme.test",
        "escalations+@acme.test",
        "escalations+q12-abc@other.test",
        "sales+q12-abc@acme.test",
        "escalationsx+q12-abc@acme.test",
        "not an address",
    ],
)
def test_addresses_without_our_local_part_plus_a_token_yield_none(address: str) -> None:
    assert token_from_address(address, local="escalations", domain="acme.test") is None


# Key rotation -------------------------------------------------------------------------------------

NEW = b"the-new-secret-key-0123456789abc"


def test_a_token_signed_with_an_older_listed_key_still_verifies_for_its_recipient() -> None:
    token = make_token(SECRET, 12, OWNER)

    result = check_token_with_keys((NEW, SECRET), token, OWNER)

    assert result == TokenCheck(12, genuine=True, recipient_ok=True, reason="ok")


def test_a_token_signed_with_the_newest_key_verifies_under_the_list() -> None:
    token = make_token(NEW, 12, OWNER)

    assert check_token_with_keys((NEW, SECRET), token, OWNER).recipient_ok


def test_an_older_keys_token_replayed_by_someone_else_is_genuine_but_not_theirs() -> None:
    token = make_token(SECRET, 12, OWNER)

    result = check_token_with_keys((NEW, SECRET), token, "mallory@evil.example")

    assert (result.number, result.genuine, result.recipient_ok) == (12, True, False)


def test_a_token_whose_key_was_removed_from_the_list_is_a_forgery() -> None:
    token = make_token(SECRET, 12, OWNER)

    result = check_token_with_keys((NEW,), token, OWNER)

    assert (result.genuine, result.reason) == (False, "signature does not verify")


def test_checking_against_no_keys_is_refused() -> None:
    with pytest.raises(ValueError, match="secret"):
        check_token_with_keys((), make_token(SECRET, 12, OWNER), OWNER)
