"""Cut the signature off an owner's words: the "-- " delimiter, a client footer, a sign-off with its card.

Pure, no I/O. :mod:`pipeline.inbound.quotes` hands over the unquoted lines it kept of a
reply; :func:`strip_signature` returns them without the signature, each rule measured on
the shared reply corpora (``bench/quotes_accuracy.py``):

* everything from a "-- " delimiter line on;
* everything from a client footer on ("Sent from my iPhone", "Get Outlook for iOS<https://...>"),
  when the footer is short and no sentence;
* a closing sign-off ("Best regards,", "Mit freundlichen Grüßen", "Cordialement") with what
  follows it, when text stands above it and below it is at most a name and its card: six
  short lines, none a sentence, a question or a P.S., the first of them a name.
"""

from __future__ import annotations

import re

_MAX_CARD_LINES = 6  # name, title, company, phone, ... under a sign-off
_RULE = re.compile(r"[-_=*~]{3,}")
_CLIENT_FOOTER = re.compile(
    r"(?:sent from (?:my|a|an)|sent (?:from|with|via|using) (?:outlook|mail for|yahoo|gmail|aol|samsung"
    r"|blackberry|proton|sparrow|spark|airmail|typeapp)|get outlook for|von meinem"
    r"|gesendet (?:von|mit|vom) (?:meinem|der|outlook)"
    r"|envoyé (?:de|depuis|à partir de) (?:mon|ma|outlook|yahoo)|obtenir outlook pour"
    r"|enviado (?:desde|de) (?:mi|outlook|yahoo)|inviato da (?:il mio|iphone|outlook|yahoo)"
    r"|verzonden (?:vanaf|met) (?:mijn|outlook)|skickat från min|sendt fra min)\b(?P<rest>.*)",
    re.IGNORECASE,
)
_URL = re.compile(r"<[^>]*>|\([^)]*\)|\S+://\S+")
_SIGN_OFF = re.compile(
    r"(?i:(?:(?:many|best|kind|kindest|warm|warmest|with)\s+)?(?:thanks|thank you|regards|wishes)"
    r"(?:\s+(?:again|in advance|a lot|so much))?|best|cheers|sincerely|yours(?:\s+(?:sincerely|truly))?"
    r"|all the best|take care|thx"
    r"|(?:mit\s+)?(?:(?:freundlichen|besten|herzlichen|lieben|vielen|schönen|viele|beste|liebe|herzliche"
    r"|freundliche|schöne)\s+)?(?:grüßen|grüssen|gruessen|grüße|grüsse|gruesse|gruß|gruss)"
    r"|mfg|vg|lg|(?:vielen\s+)?dank|danke(?:\s+schön)?"
    r"|(?:bien\s+)?cordialement|bien à (?:vous|toi)|(?:meilleures\s+|sincères\s+)?salutations"
    r"|merci(?:\s+(?:beaucoup|d'avance|bien))?|amicalement|bonne (?:journée|soirée)"
    r"|saludos(?:\s+cordiales)?|un saludo|atentamente|gracias|cordialmente"
    r"|(?:cordiali|distinti)\s+saluti|saluti|grazie(?:\s+mille)?"
    r"|(?:met\s+)?vriendelijke\s+groet(?:en)?|groet(?:en|jes)?|bedankt|mvg"
    r"|(?:med\s+)?(?:venlig|vänliga|vennlig)\s+(?:hilsen|hälsningar)|(?:bästa\s+)?hälsningar|hilsen|mvh)"
    r"[,.!]*(?:\s*[,-]?\s*[A-Z][\w.'-]*(?:\s+[A-Z][\w.'-]*){0,2})?"
)
_NAME_PARTICLES = frozenset({"van", "von", "de", "der", "den", "da", "du", "la", "le", "di", "del", "dos"})
_POSTSCRIPT = re.compile(r"p\.?\s?s\b", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_]{2,}")


def strip_signature(lines: list[str]) -> list[str]:
    """Cut the "-- " signature, a client footer, and a closing sign-off with its name card."""
    for i, line in enumerate(lines):
        bare = line.strip()
        if bare == "--" or _is_client_footer(bare):
            lines = lines[:i]
            break
    while lines and _is_blank_or_rule(lines[-1].strip()):
        lines = lines[:-1]
    cut = _sign_off_at(lines)
    return lines if cut is None else lines[:cut]


def _is_client_footer(line: str) -> bool:
    """ "Sent from my iPhone", "Get Outlook for iOS<https://aka.ms/o0ukef>": short, no sentence."""
    match = _CLIENT_FOOTER.fullmatch(line)
    if match is None:
        return False
    rest = _URL.sub(" ", match.group("rest"))
    return len(rest.split()) <= 5 and not re.search(r"[,;:!?]", rest)


def _sign_off_at(lines: list[str]) -> int | None:
    """The last closing sign-off with text above it and, below it, at most a name and its card."""
    card: list[str] = []  # the lines below a sign-off, bottom up
    for i in range(len(lines) - 1, -1, -1):
        bare = lines[i].strip()
        if _is_blank_or_rule(bare):
            continue
        if _SIGN_OFF.fullmatch(bare):
            return i if _closes(lines, i, card) else None
        card.append(bare)
        if len(card) > _MAX_CARD_LINES or not _is_card_line(bare):
            return None
    return None


def _is_blank_or_rule(line: str) -> bool:
    return not line or bool(_RULE.fullmatch(line))


def _closes(lines: list[str], i: int, card: list[str]) -> bool:
    """The sign-off at ``i`` ends the words: text above it, and nothing or a name just below it."""
    named = not card or _is_name(card[-1])
    return named and any(line.strip() for line in lines[:i])


def _is_name(line: str) -> bool:
    """ "John", "Anne-Marie van Dijk", "J. Doe": a few words, none starting in lower case."""
    words = line.split()
    return 0 < len(words) <= 4 and all(not w[0].islower() or w in _NAME_PARTICLES for w in words)


def _is_card_line(line: str) -> bool:
    """A name, title, company, phone or address line: short and not a sentence."""
    sentence = line.endswith((".", "!")) and len(_WORD.findall(line)) >= 4
    return len(line) <= 60 and not line.endswith(("?", ":")) and not sentence and not _POSTSCRIPT.match(line)
