"""Read a due date as people write it: ``2026-12-20``, ``20 Dec``, ``in 2 weeks``, ``next Friday``.

Used by ``#due`` (a new date for an action). ISO dates are read directly; anything else
goes to dateparser (English, German, French; day before month), relative to the
writer's ``today`` and preferring the future. dateparser is imported on first use: it
is slow to import and most qmark processes never read a date.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Any

_ISO = re.compile(r"\d{4}-\d{2}-\d{2}")
_LANGUAGES = ["en", "de", "fr"]


def read_date(text: str, *, today: date) -> date | None:
    """The date ``text`` names, as of ``today``; None when it names none."""
    text = " ".join(text.split()).strip(" .,;:")
    if not text or len(text) > 80:
        return None
    if _ISO.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            return None
    parsed = _parser().parse(text, languages=_LANGUAGES, settings=_settings(today))
    return parsed.date() if isinstance(parsed, datetime) else None


def _settings(today: date) -> dict[str, Any]:
    return {
        "PREFER_DATES_FROM": "future",
        "RELATIVE_BASE": datetime.combine(today, time(12, 0)),
        "DATE_ORDER": "DMY",
    }


def _parser() -> Any:
    import dateparser

    return dateparser
