"""An executive's "?": whether their note is a question mark, and the comment written after it.

Pure, no I/O. Read by the classify chain (a forward with "?" above it is an escalation)
and by the answer to an executive's reply (a "?" sends a writeup back or reopens it).
"""

from __future__ import annotations

import re

_QUESTION_LINE = re.compile(r"^[?？][?？!¡\s]*(.*)$", re.S)
_SIGNATURE_START = re.compile(
    r"^(--\s*|__+|sent from my .*|get outlook for .*|von meinem .* gesendet)$", re.I
)


def split_question(note: str, signer_names: tuple[str, ...] = ()) -> tuple[bool, str]:
    """(is "?" note, the comment after the question mark) for an executive's note.

    "?", "??", "?!" and "? " count, with a signature below. Text after the marks
    up to the first blank line or signature delimiter is the executive's comment.
    """
    lines = _from_first_text(note)
    match = _QUESTION_LINE.match(lines[0].strip()) if lines else None
    if match is None:
        return False, ""
    names = {name.strip().lower() for name in signer_names if name.strip()}
    comment = [match.group(1).strip(), *_comment_lines(lines[1:], names)]
    return True, " ".join(part for part in comment if part).strip()


def _from_first_text(note: str) -> list[str]:
    """The lines of ``note`` from its first non-blank one on ([] when it is blank)."""
    lines = note.replace("\r\n", "\n").split("\n")
    first = next((index for index, line in enumerate(lines) if line.strip()), len(lines))
    return lines[first:]


def _comment_lines(lines: list[str], names: set[str]) -> list[str]:
    """The stripped lines up to a blank line, a signature start or the signer's name."""
    comment: list[str] = []
    for line in lines:
        stripped = line.strip()
        if _ends_comment(stripped, names):
            break
        comment.append(stripped)
    return comment


def _ends_comment(line: str, names: set[str]) -> bool:
    return not line or bool(_SIGNATURE_START.match(line)) or line.lower() in names
