"""Public holidays by country code (the ``holidays`` package), for business-time arithmetic.

A person's ``holidays:`` in people.yaml names a country ("DE") or a country and
region ("DE-BY"); :func:`holidays_near` gives the dates ``pipeline.model.deadlines``
skips like weekends; :func:`holiday_code_problem` says what is wrong with a code it
does not know, and the closest codes it does. Pure apart from the package's data; cached.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from functools import lru_cache

import holidays as holiday_data
from holidays.registry import COUNTRIES

from rules.errors import did_you_mean

#: How a valid public-holiday code looks; used in error messages here and by the loaders.
HOLIDAY_CODE_EXAMPLES = '"DE", "US", or a country and region like "DE-BY" or "US-NY"'


def holiday_region(code: str) -> str:
    """``code`` as the canonical ``"DE"`` or ``"DE-BY"``; ValueError when ``holidays`` does not know it.

    ``code`` is an ISO 3166-1 alpha-2 country code, optionally followed by ``-``
    and one of that country's subdivisions; case does not matter.
    """
    if not isinstance(code, str) or not code.strip():
        raise ValueError(f"a public-holiday code must be a country code such as {HOLIDAY_CODE_EXAMPLES}")
    country, dash, subdivision = code.strip().partition("-")
    country = country.strip().upper()
    regions = holiday_data.list_supported_countries(include_aliases=False).get(country)
    if regions is None:
        raise ValueError(
            f'"{code.strip()}" is not a country with known public holidays; '
            f"use an ISO 3166 country code such as {HOLIDAY_CODE_EXAMPLES}"
        )
    if not dash:
        return country
    if not regions:
        raise ValueError(f'"{code.strip()}": {country} has no regions with their own holidays; use {country}')
    by_lower = {region.lower(): region for region in regions}
    region = by_lower.get(subdivision.strip().lower())
    if region is None:
        raise ValueError(
            f'"{code.strip()}" is not a region of {country} with known public holidays; '
            f"use {country} alone or one of {', '.join(f'{country}-{r}' for r in regions)}"
        )
    return f"{country}-{region}"


@lru_cache(maxsize=256)
def _public_holidays(region: str, years: tuple[int, ...]) -> frozenset[date]:
    country, _, subdivision = region.partition("-")
    found = holiday_data.country_holidays(country, subdiv=subdivision or None, years=years)
    return frozenset(found)


def public_holidays(code: str, years: Iterable[int]) -> frozenset[date]:
    """The public holidays (local dates, observed days included) in ``code``'s place during ``years``.

    ``code`` is read by :func:`holiday_region` (``"DE"``, ``"us-ny"``); ValueError
    for a country or region the ``holidays`` package does not know. Cached.
    """
    return _public_holidays(holiday_region(code), tuple(sorted(set(years))))


def holidays_near(code: str | None, moment: datetime) -> frozenset[date]:
    """The public holidays of ``code`` from the year before ``moment`` to two years after; empty for None.

    That span covers any deadline qmark computes from ``moment``.
    """
    if code is None:
        return frozenset()
    return public_holidays(code, range(moment.year - 1, moment.year + 3))


def holiday_code_problem(text: str) -> tuple[str, str]:
    """What is wrong with a refused public-holiday code, and the fix: the closest codes, else the choices."""
    country, _, region = (part.strip() for part in text.partition("-"))
    supported = holiday_data.list_supported_countries(include_aliases=False)
    code = country.upper()
    if code not in supported:
        names: dict[str, str] = {}
        for key, (_, alpha2, *aliases) in COUNTRIES.items():
            names.update({key.replace("_", " "): alpha2} | dict.fromkeys(aliases, alpha2))
        close = _closest(country.replace("_", " "), names)
        message = f'"{text}" is not a country code with known public holidays'
        fix = f"use an ISO 3166 country code such as {HOLIDAY_CODE_EXAMPLES}"
        return message, f"did you mean {' or '.join(close)}?" if close else fix
    message = f'"{text}" is not a region of {code} with known public holidays'
    if not supported[code]:
        return message, f"use {code}; the holidays package has no regions of {code}"
    regions = dict(zip(supported[code], supported[code], strict=True))
    regions |= holiday_data.country_holidays(code).subdivisions_aliases
    close = [f"{code}-{found}" for found in _closest(region, regions)]
    fix = f"use {code} alone or one of {', '.join(f'{code}-{r}' for r in supported[code])}"
    return message, f"did you mean {' or '.join(close)}?" if close else fix


def _closest(word: str, choices: Mapping[str, str]) -> list[str]:
    """The values of the ``choices`` keys matching ``word``: exactly (any case), or closely if it is long."""
    exact = {key.lower(): value for key, value in choices.items()}
    if word.lower() in exact:
        return [exact[word.lower()]]
    if len(word) <= 3:  # a short code is close to too many others to guess from
        return []
    return list(dict.fromkeys(choices[key] for key in did_you_mean(word, choices, limit=2)))
