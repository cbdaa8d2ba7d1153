"""Text helpers for the bodies of qmark's mails: templates, dates, names and untrusted text.

Shared by :mod:`pipeline.outbound.opening` and :mod:`pipeline.outbound.followups`. Nothing here
writes headers; every string returned is meant for a ``text/plain`` body.
Untrusted text (notes, explanations, writeups) goes through :func:`plain` or
:func:`indented`, which drop control characters but tab and line breaks.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache
from importlib import resources
from string import Template

from pipeline.model.mail import Address
from pipeline.outbound.headers import clean_text
from rules.timezones import zone

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # Unicode category Cc, less tab and LF


@cache
def template(filename: str) -> Template:
    """The ``string.Template`` in ``pipeline/templates/<filename>``."""
    text = resources.files("pipeline.outbound").joinpath("templates", filename).read_text(encoding="utf-8")
    return Template(text)


def when(moment: datetime, zone_name: str) -> str:
    """``Tue 24 Nov 2026 14:30 CET``: English names whatever the locale, zone abbreviation last."""
    if moment.utcoffset() is None:
        raise ValueError("a time shown in a mail must be timezone-aware")
    local = moment.astimezone(zone(zone_name))
    stamp = f"{_DAYS[local.weekday()]} {local.day} {_MONTHS[local.month - 1]} {local.year} {local:%H:%M}"
    return f"{stamp} {local.tzname()}"


def name_of(addr: Address) -> str:
    """The display name, or the address when there is none; one clean line."""
    return clean_text(addr.name, max_len=200) or clean_text(addr.email, max_len=254)


def display(addr: Address) -> str:
    """``Name <email>``, or the bare address when there is no name; one clean line."""
    shown_name, email = clean_text(addr.name, max_len=200), clean_text(addr.email, max_len=254)
    return f"{shown_name} <{email}>" if shown_name else email


def subject(text: str) -> str:
    """A complaint's subject as shown in subjects and bodies: one clean line, "(no subject)" if empty."""
    return clean_text(text, max_len=200) or "(no subject)"


def plain(text: str) -> str:
    """Body text with every line break as \\n, no other control characters but tab, no outer blank lines."""
    lines = (_CONTROL.sub("", line) for line in text.splitlines())
    return "\n".join(line.rstrip() for line in lines).strip("\n")


def indented(text: str, *, empty: str = "(empty)") -> str:
    """:func:`plain` ``text`` indented four spaces (blank lines stay empty); ``empty`` when there is none."""
    shown = plain(text) or empty
    return "\n".join(f"    {line}" if line else "" for line in shown.split("\n"))
