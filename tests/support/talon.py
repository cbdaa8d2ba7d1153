"""talon's standard replies, and what "exact" means for qmark's quote stripping.

One definition, shared by tests/faults/test_f25_reply_stripping.py (which asserts a floor) and
bench/quotes_accuracy.py (which prints the figures). Exact: both texts with CRLF
as LF, trailing spaces removed from every line and outer blank lines dropped;
talon's expectation is cut at the signature qmark removes ("-- " or "Sent from my").
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path


def plain_body(path: Path) -> str | None:
    """The first text/plain part, decoded; None when there is none or it cannot be decoded."""
    try:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for part in message.walk():
            if part.get_content_type() == "text/plain" and isinstance(part, EmailMessage):
                return str(part.get_content())
    except (LookupError, KeyError, ValueError, AttributeError, IndexError):
        return None
    return None


def normalised(text: str) -> str:
    lines = text.replace("\r\n", "\n").split("\n")
    return "\n".join(line.rstrip() for line in lines).strip("\n")


def without_signature(expected: str) -> str:
    """talon's expected text cut at the signature qmark removes."""
    lines = expected.split("\n")
    for i, line in enumerate(lines):
        if line.rstrip() == "--" or line.startswith("Sent from my "):
            return "\n".join(lines[:i])
    return expected


@dataclass(frozen=True)
class Score:
    """How many replies matched qmark's contract (``exact``) and talon's text as written (``as_is``)."""

    total: int
    exact: int
    as_is: int
    misses: tuple[str, ...]
    bodies: tuple[str, ...]


def standard_replies(corpora: Path) -> list[Path]:
    return sorted((corpora / "talon" / "tests" / "fixtures" / "standard_replies").glob("*.eml"))


def score(corpora: Path, extract: Callable[[str], str]) -> Score:
    """Run ``extract`` over every standard reply ("Hello" expected unless X_reply_text exists)."""
    paths = standard_replies(corpora)
    exact = as_is = 0
    misses: list[str] = []
    bodies: list[str] = []
    for path in paths:
        body = plain_body(path)
        if body is None:
            misses.append(f"{path.name}: no text/plain part")
            continue
        bodies.append(body)
        expected_file = path.with_name(f"{path.stem}_reply_text")
        expected = expected_file.read_text() if expected_file.exists() else "Hello"
        got = normalised(extract(body))
        as_is += got == normalised(expected)
        if got == normalised(without_signature(expected)):
            exact += 1
        else:
            misses.append(f"{path.name}: got {got[:80]!r}, expected {without_signature(expected)!r}")
    return Score(len(paths), exact, as_is, tuple(misses), tuple(bodies))
