"""The typed values of the rules language read from YAML nodes: emails, durations, hours, zones, ...

:class:`RulesFile` is a :class:`~rules.yamlfile.YamlFile` that also reads the
values inside it. Every reader takes a node and a context (``route "billing":
deadline``) and returns the plain value, or records a problem with the node's
line and a fix and returns None.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar
from zoneinfo import available_timezones

from yaml.nodes import Node, SequenceNode

from rules.durations import DURATION_EXAMPLES, Duration, parse_duration
from rules.errors import did_you_mean
from rules.holidays import holiday_code_problem, holiday_region, public_holidays
from rules.hours import WorkingHours, parse_working_hours
from rules.timezones import zone
from rules.yamlfile import YamlFile, say, shown

T = TypeVar("T")

_EMAIL = re.compile(r"[^@\s<>()\[\],;:\"\\]+@[^@\s<>()\[\],;:\"\\]+")
_PERCENT = re.compile(r"\s*(\d+(?:\.\d+)?)\s*%\s*")
_SECTION_KEY = re.compile(r"[a-z][a-z0-9_]*")
MAX_NAME = 200  # what escalations.owner_name and executive_name hold


class RulesFile(YamlFile):
    """A rules YAML file that also reads typed values: ``file.get(entry, "owner", file.email, context)``."""

    def string(self, node: Node, context: str) -> str | None:
        value = self.value(node)
        if isinstance(value, str) and value.strip():
            return value.strip()
        self.problem(node, say(context, f"must be text, not {shown(node)}"), "write it as a quoted string")
        return None

    def person_name(self, node: Node, context: str) -> str | None:
        """A person's display name: text of at most MAX_NAME characters (the database keeps that many)."""
        text = self.string(node, context)
        if text is not None and len(text) > MAX_NAME:
            message = f"is {len(text)} characters long, over {MAX_NAME}"
            self.problem(node, say(context, message), f"shorten it to {MAX_NAME} characters or fewer")
            return None
        return text

    def parsed(self, node: Node, context: str, parse: Callable[[str], T], fix: str) -> T | None:
        """``parse`` applied to a string scalar as written; its ValueError becomes the problem's message."""
        if self.string(node, context) is None:
            return None
        try:
            return parse(self.value(node))
        except ValueError as exc:
            self.problem(node, say(context, str(exc)), fix)
            return None

    def email(self, node: Node, context: str) -> str | None:
        return self.parsed(node, context, _email, "write one plain address like pat.owner@acme.test")

    def duration(self, node: Node, context: str) -> Duration | None:
        return self.parsed(node, context, _duration, f"use a number and a unit, e.g. {DURATION_EXAMPLES}")

    def regex(self, node: Node, context: str) -> re.Pattern[str] | None:
        fix = r"fix the regular expression (Python syntax; write \. \( \[ to match . ( [ literally)"
        return self.parsed(node, context, _regex, fix)

    def hours(self, node: Node, context: str) -> WorkingHours | None:
        fix = 'write days and times like "Mon-Fri 09:00-18:00" or "Mon-Thu 08:00-17:00, Fri 08:00-13:00"'
        return self.parsed(node, context, _hours, fix)

    def timezone(self, node: Node, context: str) -> str | None:
        text = self.string(node, context)
        try:
            return None if text is None else zone(text).key
        except ValueError:
            close = did_you_mean(text or "", available_timezones(), limit=2)
            fix = f"did you mean {' or '.join(close)}?" if close else 'use an IANA name like "Europe/Berlin"'
            self.problem(node, say(context, f'"{text}" is not an IANA timezone'), fix)
            return None

    def holidays(self, node: Node, context: str) -> str | None:
        """A public-holiday code (``DE``, ``US-NY``), spelt the canonical way."""
        text = self.string(node, context)
        if text is None:
            return None
        try:
            public_holidays(text, ())  # builds the calendar, so any code the package refuses fails here
            return holiday_region(text)
        except ValueError:
            message, fix = holiday_code_problem(text)
            self.problem(node, say(context, message), fix)
            return None

    def section_key(self, node: Node, context: str) -> str | None:
        return self.parsed(node, context, _section_key, "write e.g. root_cause")

    def flag(self, node: Node, context: str) -> bool | None:
        value = self.value(node)
        if isinstance(value, bool):
            return value
        self.problem(node, say(context, f"must be true or false, not {shown(node)}"), "write true or false")
        return None

    def count(self, node: Node, context: str) -> int | None:
        value = self.value(node)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            return value
        self.problem(
            node, say(context, f"must be a whole number of at least 1, not {shown(node)}"), "write e.g. 10"
        )
        return None

    def texts(self, node: Node, context: str) -> tuple[str, ...] | None:
        items = self.sequence(node, context, '["Five whys"]')
        texts = [self.string(item, context) for item in items or []]
        return tuple(text for text in texts if text) if items is not None and None not in texts else None

    def fractions(self, node: Node, context: str) -> tuple[float, ...] | None:
        values: list[float] = []
        for item in self.sequence(node, context, "[50%, 90%]") or []:
            value = self.value(item)
            if isinstance(value, str) and (percent := _PERCENT.fullmatch(value)):
                value = float(percent.group(1)) / 100
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
                message = say(context, f"{shown(item)} is not a fraction of the deadline between 0 and 1")
                self.problem(item, message, "write percentages like [50%, 90%] or fractions like [0.5, 0.9]")
                return None
            values.append(float(value))
        if len(set(values)) < len(values):
            self.problem(node, say(context, "lists the same moment twice"), "list each reminder once")
            return None
        return tuple(sorted(values)) if isinstance(node, SequenceNode) else None


def _email(text: str) -> str:
    if not _EMAIL.fullmatch(text) or any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise ValueError(f'"{text}" is not a plain email address')
    return text.lower()


def _duration(text: str) -> Duration:
    try:
        duration = parse_duration(text)
    except ValueError:
        raise ValueError(f'"{text}" is not a duration') from None
    if not (duration.seconds or duration.business_hours or duration.business_days):
        raise ValueError(f'"{text}" is zero; it must be longer than that')
    return duration


def _regex(text: str) -> re.Pattern[str]:
    try:
        return re.compile(text)
    except re.error as exc:
        raise ValueError(f"/{text}/ is not a valid regular expression: {exc}") from None


def _hours(text: str) -> WorkingHours:
    try:
        return parse_working_hours(text)
    except ValueError as exc:
        raise ValueError(f'"{text}" are not working hours: {exc}') from None


def _section_key(text: str) -> str:
    if not _SECTION_KEY.fullmatch(text):
        raise ValueError(f'"{text}" is not a section key (lower-case letters, digits and _)')
    return text
