"""Header-injection-proof values: every text or address qmark puts in a header passes here.

Three layers keep outgoing headers to the set we intend (reliability-security F24):
``clean_text`` and ``clean_address`` remove what could start a new line or smuggle
one in; :class:`HeaderBlock` writes each field itself (folded at spaces, RFC 2047
encoded where the text is not ASCII) and cleans every value it is given; and
``check_generated`` re-reads the finished bytes and fails closed if the header
set differs from the plan or a value decodes to a control character.
"""

from __future__ import annotations

import binascii
import re
import unicodedata
from collections.abc import Iterable
from email import policy
from email.header import Header
from email.parser import BytesHeaderParser
from email.utils import formataddr

from pipeline.model.mail import Address

MAX_LINE_OCTETS = 998
FOLD_COLUMNS = 78  # where header lines are folded when they can be (RFC 5322 §2.1.1)
_ENCODED_WORD_COLUMNS = 75  # the longest encoded word RFC 2047 §2 allows
_CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
# An RFC 2047 encoded-word opener ("=?charset?Q?"). The stdlib parser decodes such
# words even where we meant literal text, which turns "=0D=0A" back into CR LF.
_ENCODED_WORD_OPENER = re.compile(r"=\?(?=[^?\s]*\?[bq]\?)", re.IGNORECASE)
# Every encoded word a lenient decoder could find, anywhere, overlapping ones included.
_ANY_ENCODED_WORD = re.compile(rb"(?==\?([^?\s]*)\?([bq])\?([^?\s]*)\?=)", re.IGNORECASE)
_ASCII_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")
_FOLD = re.compile(rb"\r\n[ \t]")
_FIELD_NAME = re.compile(r"[!-9;-~]{1,76}")
_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+")  # RFC 5322 atext
_ADDRESS_FORBIDDEN = frozenset('<>()[],;:"\\')
# A subset of what _address_problem accepts, so the common case costs one match.
_PLAIN_ATOM = r"[!#-'*+\-/-9=?A-Z^-~]+"
_PLAIN_EMAIL = re.compile(rf"(?=.{{1,254}}$)[!#-'*+\-.-9=?A-Z^-~]+@{_PLAIN_ATOM}(?:\.{_PLAIN_ATOM})*")
_COMPAT32_PARSER = BytesHeaderParser(policy=policy.compat32)


class HeaderInjectionError(ValueError):
    """The generated message's headers are not the ones we meant to write."""


def clean_text(value: str, *, max_len: int = 998) -> str:
    """One safe header line: no control or line-breaking characters, single spaces, <= max_len chars."""
    if max_len < 1:
        raise ValueError("max_len must be at least 1")
    text = value
    if not text.isprintable():  # only then can it hold a character of _CONTROL_CATEGORIES
        text = "".join(" " if unicodedata.category(ch) in _CONTROL_CATEGORIES else ch for ch in text)
    if "=?" in text:
        text = _ENCODED_WORD_OPENER.sub("= ?", text)
    text = " ".join(text.split())
    if len(text) > max_len:
        text = text[: max_len - 1].rstrip() + "…"
    return text


def clean_address(addr: Address) -> Address:
    """``addr`` with a validated, lower-cased email and a cleaned display name; ValueError if unsafe."""
    email = addr.email.strip().lower()
    if not _PLAIN_EMAIL.fullmatch(email):
        local, _, domain = email.partition("@")
        problem = _address_problem(email, local, domain)
        if problem:
            raise ValueError(f"unsafe email address {email[:80]!r}: {problem}")
    return Address(email=email, name=clean_text(addr.name, max_len=200))


def format_address(addr: Address) -> str:
    """A header value for ``addr``: ``Name <email>``, the name quoted or RFC 2047-encoded as needed."""
    safe = clean_address(addr)
    return formataddr((safe.name, safe.email), charset="utf-8")


class HeaderBlock:
    """A message's header fields, written straight to wire form (ASCII, CRLF, folded, <= 998 octets).

    Every value goes through :func:`clean_text` or :func:`clean_address` here,
    whatever the caller did, so no value can end its field early. ``names`` is
    the plan :func:`check_generated` compares the finished message against.
    """

    def __init__(self) -> None:
        self.names: list[str] = []
        self._fields: list[str] = []

    def text(self, name: str, value: str, *, max_len: int = 998) -> None:
        """An unstructured field (Subject, X-...): folded at spaces, non-ASCII words RFC 2047-encoded."""
        limit = MAX_LINE_OCTETS - len(name) - 2
        words = clean_text(value, max_len=max_len).split(" ")
        self._add(name, _encode_runs(words, [word.isascii() and len(word) <= limit for word in words]))

    def address(self, name: str, addr: Address) -> None:
        """One mailbox: ``Name <email>``, the name quoted, or RFC 2047-encoded when it is not ASCII."""
        safe = clean_address(addr)
        if not safe.name:
            self._add(name, [safe.email])
        elif safe.name.isascii():  # quoted if it holds a special; never folded inside the quotes
            quoted = formataddr((safe.name, safe.email)).rsplit(" ", 1)[0]
            phrase = [quoted] if quoted.startswith('"') else quoted.split(" ")
            self._add(name, [*phrase, f"<{safe.email}>"])
        else:  # atoms stay literal, the rest is encoded (never inside quotes: RFC 2047 §5)
            words = safe.name.split(" ")
            phrase = _encode_runs(words, [bool(_ATOM.fullmatch(word)) for word in words])
            self._add(name, [*phrase, f"<{safe.email}>"])

    def token(self, name: str, value: str) -> None:
        """A structured field qmark wrote itself (Message-ID, Date, Content-Type ...): printable ASCII."""
        if not (value.isascii() and value.isprintable()) or "  " in value:
            raise ValueError(f"{name}: {value[:80]!r} is not printable ASCII with single spaces")
        self._add(name, value.split(" "))

    def as_bytes(self) -> bytes:
        """The header block, each field ending in CRLF (the blank line that ends it is the caller's)."""
        return "".join(f"{field}\r\n" for field in self._fields).encode("ascii")

    def _add(self, name: str, words: list[str]) -> None:
        if not _FIELD_NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not a header field name")
        field = f"{name}: {' '.join(words)}"
        if len(field) > FOLD_COLUMNS:
            field = _fold(name, words)
        self.names.append(name)
        self._fields.append(field)


def check_generated(raw: bytes, expected: Iterable[str]) -> None:
    """Fail closed unless ``raw``'s top-level headers are exactly ``expected`` (any order, any case).

    Also rejects bare CR or LF anywhere, lines over 998 octets, 8-bit header bytes,
    and header values that hold a control character, literally or inside any
    RFC 2047 encoded word a decoder could find.
    """
    _check_lines(raw)
    end = raw.find(b"\r\n\r\n")
    head = raw[: end + 2] if end >= 0 else raw
    if not head.isascii():
        raise HeaderInjectionError("8-bit bytes in the header block")
    _check_header_set(head, expected)
    _check_values(head)


def _check_lines(raw: bytes) -> None:
    """Every line ends in CR LF and is at most 998 octets long."""
    crlf = raw.count(b"\r\n")
    if raw.count(b"\r") != crlf or raw.count(b"\n") != crlf:
        raise HeaderInjectionError("bare CR or LF in the message")
    lines = raw.split(b"\r\n")
    if max(map(len, lines)) > MAX_LINE_OCTETS:
        long_lines = [n for n, line in enumerate(lines, 1) if len(line) > MAX_LINE_OCTETS]
        raise HeaderInjectionError(f"lines over {MAX_LINE_OCTETS} octets: {long_lines[:5]}")


def _check_header_set(head: bytes, expected: Iterable[str]) -> None:
    """The header block parses cleanly into exactly the ``expected`` fields (any order, any case)."""
    parsed = _COMPAT32_PARSER.parsebytes(head + b"\r\n")
    found = sorted(name.lower() for name in parsed)
    wanted = sorted(name.lower() for name in expected)
    if found != wanted:
        raise HeaderInjectionError(f"header set {found} differs from the intended {wanted}")
    if parsed.defects:
        raise HeaderInjectionError(f"the header block does not parse cleanly: {parsed.defects}")


def _check_values(head: bytes) -> None:
    """No header value holds a control character, literally or inside an encoded word."""
    values = _FOLD.sub(b" ", head).replace(b"\r\n", b"\n")
    if _ASCII_CONTROL.search(values.replace(b"\n", b"")):
        raise HeaderInjectionError("a header value holds a control character")
    for match in _ANY_ENCODED_WORD.finditer(values):
        if any(unicodedata.category(ch) in _CONTROL_CATEGORIES for ch in _decoded_word(match)):
            raise HeaderInjectionError("a header value decodes to a control character")


def _fold(name: str, words: list[str]) -> str:
    """``Name: words`` folded before a word wherever a line would pass 78 columns; never past 998."""
    lines = [f"{name}: {words[0]}"]
    for word in words[1:]:
        if len(lines[-1]) + 1 + len(word) <= FOLD_COLUMNS:
            lines[-1] += f" {word}"
        else:
            lines.append(f" {word}")
    if max(map(len, lines)) > MAX_LINE_OCTETS:
        raise ValueError(f"{name}: a word does not fit in {MAX_LINE_OCTETS} octets")
    return "\r\n".join(lines)


def _encode_runs(words: list[str], literal: list[bool]) -> list[str]:
    """``words`` with each run of non-``literal`` ones replaced by UTF-8 RFC 2047 encoded words.

    A run is encoded whole, spaces inside it included, so decoders agree on its
    text; it becomes several encoded words only when one would exceed 75 characters.
    """
    out: list[str] = []
    run: list[str] = []
    for word, keep in zip(words, literal, strict=True):
        if keep:
            if run:
                out += _encoded_words(" ".join(run))
                run = []
            out.append(word)
        else:
            run.append(word)
    if run:
        out += _encoded_words(" ".join(run))
    return out


def _encoded_words(text: str) -> list[str]:
    return Header(text, "utf-8", maxlinelen=_ENCODED_WORD_COLUMNS).encode(linesep="\r\n").split()


def _decoded_word(match: re.Match[bytes]) -> str:
    """The text of one encoded word, as leniently as any decoder would read it; fails closed."""
    charset, encoding, payload = (part.decode("ascii") for part in match.groups())
    try:
        if encoding.lower() == "q":
            data = binascii.a2b_qp(payload, header=True)
        else:
            data = binascii.a2b_base64(payload + "==")
    except binascii.Error as exc:
        word = f"=?{charset}?{encoding}?{payload}?="
        raise HeaderInjectionError(f"undecodable encoded word {word[:80]!r}") from exc
    if _ASCII_CONTROL.search(data):  # what a decoder falling back to ASCII would find
        raise HeaderInjectionError("a header value decodes to a control character")
    try:
        return data.decode(charset.partition("*")[0], errors="replace")
    except (LookupError, UnicodeError, ValueError):
        return data.decode("latin-1")  # C1 controls count as controls: odd charsets fail closed


def _address_problem(email: str, local: str, domain: str) -> str:
    """What makes ``email`` unsafe in a header, the first problem found; '' when nothing does."""
    return _shape_problem(email, local, domain) or _character_problem(email) or _domain_problem(domain)


def _shape_problem(email: str, local: str, domain: str) -> str:
    if email.count("@") != 1 or not local or not domain:
        return "needs exactly one @ between a local part and a domain"
    if len(email) > 254:
        return "longer than 254 characters"
    return ""


def _character_problem(email: str) -> str:
    if not email.isascii():
        return "non-ASCII addresses are not supported"
    if any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in email):
        return "contains whitespace or a control character"
    if any(ch in _ADDRESS_FORBIDDEN for ch in email):
        return "contains an angle bracket, comma, quote, semicolon or other special"
    return ""


def _domain_problem(domain: str) -> str:
    if ".." in domain or domain.startswith(".") or domain.endswith("."):
        return "domain is malformed"
    return ""
