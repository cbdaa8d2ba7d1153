"""Find the due date in an action line: the phrase ("due 20 Dec", "by Friday", "bis 20.12.") and its date.

A phrase is looked for, in this order, after a cue word (``due``, ``by``, ``until``,
``before``, ``bis``, ``fällig``, ``avant``, ``d'ici``, ``échéance``, ...), as a
relative span (``in 2 weeks``, ``dans 2 semaines``), as a whole segment of the line
(between dashes, commas, semicolons, bars, tabs or brackets), and last as the
line's trailing words. A phrase only counts when it looks like a date before it is
parsed (:func:`_looks_like_date`: a numeric date, a day with a month name, a
weekday, "tomorrow", or a count of days, weeks or months), since a date parser
alone reads "10" or "May" in "raise the limit to 10" as a date.

Numeric dates are read here: ISO ``2026-12-20``, else day first (``20.12.2026``,
``20/12``, ``20.12.``), month first only when the first number cannot be a month
(``12/20``); without a year the next such day from ``today`` on. Everything else
goes to dateparser (English, German, French; future dates preferred; relative to
``today`` at noon), imported on first use since it is slow to load. A year-less
date that dateparser puts almost a year ahead ("1 Dec" read on 2 Dec) is taken
as this year's, so that it is refused as past rather than as too far ahead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

_MONTHS = (
    r"jan(?:uary|uar|vier)?|j[aä]n(?:ner)?|feb(?:ruary|ruar)?|f[ée]v(?:rier)?|mar(?:ch|s)?|m[äa]r(?:z)?"
    r"|apr(?:il)?|avr(?:il)?|may|mai|jun(?:e|i)?|juin|jul(?:y|i)?|juil(?:let)?|aug(?:ust)?|ao[uû]t?"
    r"|sep(?:t(?:ember|embre)?)?|o[ck]t(?:ober|obre)?|nov(?:ember|embre)?|d[eé][cz](?:ember|embre)?"
)
_WEEKDAYS = (
    r"mon(?:day)?|tue(?:s(?:day)?)?|wed(?:nesday)?|thu(?:rs(?:day)?)?|fri(?:day)?|sat(?:urday)?|sun(?:day)?"
    r"|montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag"
    r"|lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche"
)
_UNITS = r"days?|weeks?|months?|tagen?|wochen?|monaten?|monate?|jours?|semaines?|mois"
_COUNTS = (
    r"\d+|an?|one|two|three|four|five|six|ein(?:e[mnr]?)?|zwei|drei|vier|f[üu]nf"
    r"|une?|deux|trois|quatre|cinq"
)
_DAY_WORDS = r"today|tomorrow|heute|morgen|[üu]bermorgen|aujourd['’]hui|demain|apr[eè]s-demain"
_NEXT = r"next|this|coming|n[äa]chste[nrs]?|kommende[nrs]?|prochaine?|cette|ce"

_NUMERIC = re.compile(r"(?<![\d.])(\d{1,2})[./](\d{1,2})(?:[./](\d{4}|\d{2}))?\.?(?![\d/])")
_ISO = re.compile(r"(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)")
_DAY_MONTH = re.compile(rf"\d{{1,2}}(?:st|nd|rd|th|er)?\.?\s*(?:of\s+)?(?:{_MONTHS})\.?\b", re.I)
_MONTH_DAY = re.compile(rf"\b(?:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?\b", re.I)
_WEEKDAY = re.compile(rf"\b(?:{_WEEKDAYS})\b\.?", re.I)
_RELATIVE = re.compile(
    rf"\b(?:{_DAY_WORDS})\b|\b(?:{_COUNTS}|{_NEXT})\s+(?:{_UNITS})\b|\b(?:{_UNITS})\s+prochaine?\b", re.I
)
_ORDINAL = re.compile(r"^(?:the\s+)?\d{1,2}(?:st|nd|rd|th)$", re.I)

_CUE = re.compile(
    r"(?<![\w@.])(?:due(?:\s+(?:on|by|date))?|by|until|till|before|no\s+later\s+than|deadline|target(?:\s+date)?"
    r"|within|when|date|bis(?:\s+(?:zum|spätestens|sp[äa]testens))?|sp[äa]testens|f[äa]llig(?:\s+(?:am|bis))?"
    r"|termin|frist|innerhalb(?:\s+von)?|avant(?:\s+le)?|d['’]ici(?:\s+(?:le|à))?|[ée]ch[ée]ance|pour\s+le"
    r"|jusqu['’]au|sous|au\s+plus\s+tard(?:\s+le)?)(?![\w@])\s*[:=]?\s*",
    re.I,
)
_IN = re.compile(
    rf"(?<![\w@.])(?:in|dans|within|innerhalb\s+von|sous)\s+(?:{_COUNTS})\s+(?:{_UNITS})\b", re.I
)
#: Where the parts of a line meet: spaced dashes and slashes, commas, semicolons, bars, tabs, brackets.
SEPARATOR = re.compile(r"\s+[-–—/]\s+|[;|()\[\]\t—–]|,(?!\s*\d{4}\b)")
_WORD = re.compile(r"\S+")
_MAX_PHRASE_WORDS = 5
_YEAR_BACK = timedelta(days=180)


@dataclass(frozen=True)
class DuePhrase:
    """A date found in a line: where its phrase (with its cue word) starts and ends, and the date."""

    start: int
    end: int
    due: date


def find_due(text: str, today: date) -> DuePhrase | None:
    """The due date of an action line, or None when the line names none; see the module docstring."""
    for cue in _CUE.finditer(text):
        found = _phrase_at(text, cue.end(), today)
        if found is not None:
            return DuePhrase(cue.start(), found[0], found[1])
    for span in _IN.finditer(text):
        parsed = parse_due(span.group(0), today)
        if parsed is not None:
            return DuePhrase(span.start(), span.end(), parsed)
    for start, end in reversed(segments(text)):
        parsed = parse_due(text[start:end], today)
        if parsed is not None:
            return DuePhrase(start, end, parsed)
    return _trailing(text, today)


def segments(text: str) -> list[tuple[int, int]]:
    """(start, end) of each part of ``text`` between :data:`SEPARATOR`\\ s, without surrounding spaces."""
    parts: list[tuple[int, int]] = []
    start = 0
    for stop in [*SEPARATOR.finditer(text), None]:
        end = stop.start() if stop else len(text)
        chunk = text[start:end]
        if chunk.strip():
            left = start + len(chunk) - len(chunk.lstrip())
            parts.append((left, left + len(chunk.strip())))
        start = stop.end() if stop else end
    return parts


def parse_due(phrase: str, today: date) -> date | None:
    """The date a phrase such as "20 Dec", "20.12.2026" or "next Friday" means, seen from ``today``."""
    phrase = phrase.strip().rstrip(".,;:!)").strip()
    if not phrase or not _looks_like_date(phrase):
        return None
    if _ISO.fullmatch(phrase) or _NUMERIC.fullmatch(phrase):
        return _numeric(phrase, today)
    return _parsed(phrase, today)


def _phrase_at(text: str, start: int, today: date) -> tuple[int, date] | None:
    """(end, date) of the longest date phrase of a few words starting at ``start``."""
    stop = SEPARATOR.search(text, start)
    words = list(_WORD.finditer(text, start, stop.start() if stop else len(text)))[:_MAX_PHRASE_WORDS]
    for count in range(len(words), 0, -1):
        end = words[count - 1].end()
        parsed = parse_due(text[start:end], today)
        if parsed is not None:
            return end, parsed
    return None


def _trailing(text: str, today: date) -> DuePhrase | None:
    words = list(_WORD.finditer(text))
    for count in range(min(_MAX_PHRASE_WORDS, len(words) - 1), 0, -1):
        start = words[-count].start()
        parsed = parse_due(text[start:], today)
        if parsed is not None:
            return DuePhrase(start, len(text), parsed)
    return None


def _looks_like_date(phrase: str) -> bool:
    return any(
        pattern.search(phrase) for pattern in (_ISO, _NUMERIC, _DAY_MONTH, _MONTH_DAY, _WEEKDAY, _RELATIVE)
    ) or bool(_ORDINAL.match(phrase))


def _numeric(phrase: str, today: date) -> date | None:
    """The date of a phrase that is only a numeric date; None when there is no such day."""
    iso = _ISO.fullmatch(phrase)
    if iso is not None:
        return _date(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)))
    numeric = _NUMERIC.fullmatch(phrase)
    if numeric is None:
        return None
    first, second = int(numeric.group(1)), int(numeric.group(2))
    day, month = (second, first) if first <= 12 < second else (first, second)
    year_text = numeric.group(3)
    if year_text is not None:
        return _date(int(year_text) + (2000 if len(year_text) == 2 else 0), month, day)
    this_year = _date(today.year, month, day)
    return this_year if this_year is None or this_year >= today else _date(today.year + 1, month, day)


def _date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _parsed(phrase: str, today: date) -> date | None:
    import dateparser  # slow to import; only a writeup with actions needs it

    settings = {
        "PREFER_DATES_FROM": "future",
        "RELATIVE_BASE": datetime.combine(today, time(12)),
        "DATE_ORDER": "DMY",
        "RETURN_TIME_AS_PERIOD": False,
    }
    moment: datetime | None = None
    for text in (phrase, _NEXT_WORD.sub("", phrase).strip()):
        moment = moment or dateparser.parse(text, languages=["en", "de", "fr"], settings=settings)
    if moment is None:
        return None
    found = moment.date()
    if not re.search(r"\d{4}", phrase) and found.year > today.year:
        earlier = _date(found.year - 1, found.month, found.day)
        named = _DAY_MONTH.search(phrase) or _MONTH_DAY.search(phrase)
        if earlier is not None and earlier >= today - _YEAR_BACK and named:
            return earlier
    return found


_NEXT_WORD = re.compile(rf"\b(?:{_NEXT})\b", re.I)
