"""Find the owner's new words in a reply body: drop quoted history, reply headers and signatures.

One job: :func:`latest_reply` takes the plain text of a reply (callers convert HTML first)
and returns only what the sender wrote this time. mail-parser-reply is the engine that
recognises reply headers in many languages ("On ... wrote:", "Am ... schrieb ...:",
"Le ... a écrit :", Outlook "From:/Sent:" blocks, "-----Original Message-----"). Around it,
each rule measured on the shared reply corpora (``bench/quotes_accuracy.py``):

* lines are kept as written (the engine strips every line) and nothing is cut for looking
  like a hyphen list or starting with "Thanks," (the engine's signature rules do both);
* an engine header must carry a digit or an "@" (a date, an address): prose such as
  "On the whole, the customer wrote:" is not one;
* headers the engine misses, in any language: an attribution line above a ">" block
  ("... <bob@example.com> написал:"), a dated "... <address>:" or "... wrote" line, an
  Outlook field block that starts with a "from" field ("De : ...", "Fra: ..."), localised
  "Original Message" separators and Outlook's underscore line above a header field;
* ">" quoting: quoted lines (and the wrapped tails of long quoted lines) are never the
  owner's words; when the history under the first header is ">"-quoted, unquoted lines in
  it are inline or bottom-posted answers and are kept;
* signatures: what is left of the owner's words loses its signature
  (:func:`pipeline.inbound.signatures.strip_signature`).

It never raises (an unexpected failure returns the input stripped) and reads at most
:data:`MAX_CHARS` characters, so hostile input costs bounded time.
"""

from __future__ import annotations

import bisect
import re
import warnings
from collections.abc import Sequence
from functools import lru_cache
from typing import cast

from mailparser_reply import EmailMessage, EmailReplyParser

from pipeline.inbound.signatures import strip_signature

# es/it/nl changed no corpus output (the language-free rules catch those headers) and cost
# ~60% more time per reply; pass them, or others the engine knows, where they matter.
DEFAULT_LANGUAGES: tuple[str, ...] = ("en", "de", "fr")
# Only the start of a body is read: the new words come first, and it bounds the time.
MAX_CHARS = 100_000
# The engine's "On ... wrote:" pattern is quadratic in the line length: longer lines are cut
# before matching (no real reply header is that long).
_MAX_MATCH_LINE = 300
_MAX_HEADER_LINE = 200

Span = tuple[int, int]  # first and last line of a header, inclusive

_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")
_QUOTED = re.compile(r"\s*>")
_DIGIT_OR_AT = re.compile(r"[\d@]")
_ADDRESS = re.compile(r"\S+@\S+")
_RULE = re.compile(r"[-_=*~]{3,}")
_DECORATION = "-=_* "
_SEPARATOR = re.compile(
    r"[-_=*]{2,}\s*(?:original message|ursprüngliche nachricht|original-nachricht|message d'origine"
    r"|message original|mensaje original|messaggio originale|oorspronkelijk bericht|forwarded message"
    r"|weitergeleitete nachricht|message transféré|mensaje reenviado|messaggio inoltrato"
    r"|doorgestuurd bericht|oprindelig (?:besked|meddelelse)|opprinnelig melding"
    r"|ursprungligt meddelande|videresendt (?:besked|melding))\s*:?\s*[-_=*]{2,}"
    r"|(?:begin forwarded message|anfang der weitergeleiteten nachricht|début du message réexpédié)\s*:",
    re.IGNORECASE,
)
_TITLE_RULE = re.compile(r"[-_=*]{3,}[^-_=*]{1,40}[-_=*]{3,}")
_UNDERSCORES = re.compile(r"_{10,}")
_FROM_FIELD = re.compile(
    r"\**(?:from|von|de|da|van|fra|från|od|expéditeur|absender|remitente|mittente|afzender"
    r"|lähettäjä|feladó|от|发件人|寄件者|差出人)\s?\**\s?:",
    re.IGNORECASE,
)
_FIELD = re.compile(r"\**[^\W\d_][^\W\d_.'-]{0,24}(?:\s[^\W\d_]{1,12}){0,2}\**\s?:")
_VERBS = (
    r"wrote|writes|schrieb|schreibt|a écrit|écrit|escribió|ha scritto|scrisse|schreef|skrev|kirjoitti"
    r"|napisał(?:\(a\))?|napisała|napsal(?:\(a\))?|написал|написала|escreveu|írta|yazdı"
)
_WROTE = re.compile(rf"(?:{_VERBS})\b", re.IGNORECASE)
_TAIL = re.compile(rf"(?:@\S*|\b(?:{_VERBS}))\s*:?$", re.IGNORECASE)


def latest_reply(text: str, *, languages: Sequence[str] = DEFAULT_LANGUAGES) -> str:
    """The new text of a plain-text reply body: no quoted history, reply headers or signature.

    ``languages`` picks the engine's header patterns (``en`` is always included; unknown
    codes are ignored); the other rules apply whatever it says. A body that is only a quote
    gives "".
    """
    try:
        return _latest_reply(text, tuple(languages))
    except Exception:
        return text.strip() if isinstance(text, str) else ""


def _latest_reply(text: str, languages: tuple[str, ...]) -> str:
    lines = _normalise(text)
    spans = _merge(_engine_headers(lines, languages) + _own_headers(lines))
    if not spans:
        return _join([_own_words(lines, range(len(lines)))])
    first, rest = spans[0], spans[1:]
    parts = [_own_words(lines, range(first[0]))]
    if _quote_follows(lines, first[1]):
        # ">"-quoted history: unquoted lines in it are inline or bottom-posted answers.
        end = next((s[0] for s in rest if not _quote_follows(lines, s[1])), len(lines))
        inside = {i for s in rest if s[0] < end for i in range(s[0], s[1] + 1)}
        parts.append(_own_words(lines, [i for i in range(first[1] + 1, end) if i not in inside]))
    return _join(parts)


def _normalise(text: str) -> list[str]:
    text = text[:MAX_CHARS].replace("\r\n", "\n").replace("\r", "\n")
    text = _INVISIBLE.sub("", text).replace("\xa0", " ")
    return [line.rstrip() for line in text.split("\n")]


# -- where the history starts ------------------------------------------------------------


@lru_cache(maxsize=32)
def _header_pattern(languages: tuple[str, ...]) -> re.Pattern[str]:
    """The engine's compiled header pattern for these languages (built once per tuple)."""
    accepted = EmailReplyParser(languages=list(languages)).languages
    with warnings.catch_warnings():
        # mail-parser-reply 1.36 passes re.sub's count positionally (deprecated in Python 3.13).
        warnings.simplefilter("ignore", DeprecationWarning)
        message = EmailMessage(text="", languages=list(accepted))
    return cast("re.Pattern[str]", message.HEADER_REGEX)


def _engine_headers(lines: list[str], languages: tuple[str, ...]) -> list[Span]:
    """Unquoted reply headers the engine finds, if they name a date or an address."""
    # The engine matches stripped lines; long ones are cut so its patterns stay fast.
    stripped = [_match_line(line) for line in lines]
    text = "\n".join(stripped)
    starts = [0]
    for line in stripped[:-1]:
        starts.append(starts[-1] + len(line) + 1)
    spans: list[Span] = []
    for match in _header_pattern(languages).finditer(text):
        header = match.group().strip("\n")
        if not header:
            continue
        first = bisect.bisect_right(starts, match.start() + match.group().index(header)) - 1
        if stripped[first].startswith(">"):
            continue  # a header inside quoted history is quoted history
        if _DIGIT_OR_AT.search(header) or _SEPARATOR.fullmatch(stripped[first]):
            spans.append((first, first + header.count("\n")))
    return spans


def _match_line(line: str) -> str:
    line = line.strip()
    return line if len(line) <= _MAX_MATCH_LINE else line[:_MAX_MATCH_LINE] + " …"


def _own_headers(lines: list[str]) -> list[Span]:
    """Headers and separators the engine's patterns miss, whatever the language."""
    spans = (_own_header_at(lines, i) for i in range(len(lines)))
    return [span for span in spans if span is not None]


def _own_header_at(lines: list[str], i: int) -> Span | None:
    """The header or separator that starts at line ``i`` (None when it is quoted or none).

    A localised separator, Outlook's underscore line above a field, a field block that
    starts with a "from" field, or an attribution line.
    """
    bare = lines[i].strip()
    if not bare or bare.startswith(">"):
        return None
    if _SEPARATOR.fullmatch(bare):
        return i, i
    if _UNDERSCORES.fullmatch(bare):
        return (i, i) if _field_follows(lines, i) else None
    if _FROM_FIELD.match(bare):
        return _field_block(lines, i)
    if len(bare) <= _MAX_HEADER_LINE:
        return _attribution(lines, i)
    return None


def _field_follows(lines: list[str], i: int) -> bool:
    following = _next_text(lines, i)
    return following is not None and bool(_FIELD.match(lines[following].strip()))


def _field_block(lines: list[str], i: int) -> Span | None:
    """An Outlook-style block: a "from" field and another field within three lines."""
    below = [j for j in range(i + 1, min(i + 4, len(lines))) if _FIELD.match(lines[j].strip())]
    if not below or not _DIGIT_OR_AT.search(" ".join(lines[i : below[-1] + 1])):
        return None
    start = i
    while start > max(0, i - 3) and _is_block_top(lines[start - 1].strip()):
        start -= 1
    return start, below[-1]


def _is_block_top(line: str) -> bool:
    """Lines directly above a field block that belong to it: more fields, a titled rule."""
    return bool(line) and bool(_FIELD.match(line) or _RULE.fullmatch(line) or _TITLE_RULE.fullmatch(line))


def _attribution(lines: list[str], i: int) -> Span | None:
    """ "On <date>, <name> <address> wrote:" in any language, wrapped over up to three lines."""
    core = lines[i].strip().strip(_DECORATION)
    tail = _TAIL.search(core) is not None
    if not core.endswith(":") and not tail:
        return None
    start = _wrapped_start(lines, i)
    block = " ".join(line.strip() for line in lines[start : i + 1])
    if _introduces_quote(lines, i, core, block) or (tail and _names_address_and_date(block)):
        return start, i
    return None


def _wrapped_start(lines: list[str], i: int) -> int:
    """The first line of a header that a client may have wrapped over up to three lines ending at ``i``."""
    start = i
    while start > max(0, i - 2) and _continues(lines[start - 1], lines[start]):
        start -= 1
    return start


def _introduces_quote(lines: list[str], i: int, core: str, block: str) -> bool:
    """A line ending in ":" above a ">" block, with an address or a "wrote" in its header."""
    return core.endswith(":") and _quote_follows(lines, i) and ("@" in block or bool(_WROTE.search(block)))


def _names_address_and_date(block: str) -> bool:
    return "@" in block and _has_date(block)


def _continues(above: str, line: str) -> bool:
    """``above`` is the first half of a header a client wrapped before ``line``."""
    above, line = above.strip(), line.strip()
    if not above or above.startswith(">") or len(above) > _MAX_HEADER_LINE:
        return False
    if above.endswith((".", "!", "?", ":", ";")) or not _DIGIT_OR_AT.search(above):
        return False
    return above.endswith((",", "<", "(")) or line.startswith(("<", "(")) or line[:1].islower()


def _has_date(text: str) -> bool:
    return any(ch.isdigit() for ch in _ADDRESS.sub("", text))


def _merge(spans: list[Span]) -> list[Span]:
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _next_text(lines: list[str], after: int) -> int | None:
    return next((j for j in range(after + 1, len(lines)) if lines[j].strip()), None)


def _quote_follows(lines: list[str], after: int) -> bool:
    following = _next_text(lines, after)
    return following is not None and bool(_QUOTED.match(lines[following]))


# -- what is left of the owner's words ---------------------------------------------------


def _own_words(lines: list[str], indexes: Sequence[int]) -> list[str]:
    """The unquoted lines among ``indexes``, without their signature."""
    kept: list[str] = []
    for i in indexes:
        if _QUOTED.match(lines[i]) or _wrapped_quote(lines, i):
            continue
        kept.append(lines[i])
    return strip_signature(kept)


def _wrapped_quote(lines: list[str], i: int) -> bool:
    """The tail of a long quoted line that a client wrapped without its ">" marker."""
    above = lines[i - 1] if i > 0 else ""
    return bool(_QUOTED.match(above)) and len(above) >= 60 and lines[i].lstrip()[:1].islower()


def _join(parts: list[list[str]]) -> str:
    """The parts, one blank line between paragraphs, none around the text."""
    out: list[str] = []
    for line in [line for part in parts for line in [*part, ""]]:
        if line.strip():
            out.append(line)
        elif out and out[-1]:
            out.append("")
    return "\n".join(out).strip()
