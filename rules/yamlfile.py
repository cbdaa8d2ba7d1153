"""Line-aware reading of composed YAML: typed readers that record a RulesError at the offending node.

Every reader takes a node and a context (``route "billing": deadline``), returns
the plain value, or records a problem with the node's line and a fix and
returns None, so one pass over a file can report every problem in it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import available_timezones

import holidays
import holidays.registry
import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from rules.durations import DURATION_EXAMPLES, Duration, parse_duration
from rules.errors import RulesError, did_you_mean
from rules.holidays import HOLIDAY_CODE_EXAMPLES, holiday_region, public_holidays
from rules.hours import WorkingHours, parse_working_hours
from rules.timezones import zone

T = TypeVar("T")
Entry = Mapping[str, Node]

_EMAIL = re.compile(r"[^@\s<>()\[\],;:\"\\]+@[^@\s<>()\[\],;:\"\\]+")
_PERCENT = re.compile(r"\s*(\d+(?:\.\d+)?)\s*%\s*")
_SECTION_KEY = re.compile(r"[a-z][a-z0-9_]*")
_YAML_FIX = 'check indentation and quoting on this line and the one above; quote values containing ": "'


def line_of(node: Node) -> int:
    """The node's 1-based line."""
    return int(node.start_mark.line) + 1


def shown(node: Node) -> str:
    """How a node reads in a message: its value, or "a mapping" / "a list"."""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if node.tag.endswith(":null"):
        return "nothing"
    return f'"{node.value}"' if node.tag.endswith(":str") else str(node.value)


def say(context: str, text: str) -> str:
    """``text`` after ``context`` (which may be empty)."""
    return f"{context} {text}" if context else text


class YamlFile:
    """One YAML file being read; ``problems`` collects what is wrong with it, in the order found."""

    def __init__(self, path: Path) -> None:
        self.path, self.name = path, str(path)
        self.problems: list[RulesError] = []
        self._constructor = SafeConstructor()

    def problem(self, at: Node | int | None, message: str, fix: str) -> None:
        line = line_of(at) if isinstance(at, Node) else at
        self.problems.append(RulesError(self.name, line, message, fix))

    def compose(self, what: str) -> Node | None:
        """The root node; None (with the reason recorded) when missing, unreadable or empty.

        ``what`` says what the file must contain, for the missing and empty cases.
        """
        if not self.path.is_file():
            self.problem(None, f"missing: a rules directory needs {self.path.name}", f"create it with {what}")
            return None
        try:
            text = self.path.read_text(encoding="utf-8")
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except UnicodeDecodeError as exc:
            self.problem(None, f"not UTF-8 text ({exc.reason} at byte {exc.start})", "save the file as UTF-8")
            return None
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            problem = exc.problem or exc.context or "invalid YAML"
            fix = "indent with spaces, not tabs" if "\\t" in problem else _YAML_FIX
            self.problem(mark.line + 1 if mark else None, f"YAML syntax error: {problem}", fix)
            return None
        except yaml.reader.ReaderError as exc:
            line = text.count("\n", 0, exc.position) + 1
            code = exc.character if isinstance(exc.character, int) else ord(exc.character)
            self.problem(line, f"YAML cannot contain the character U+{code:04X}", "remove it")
            return None
        if root is None:
            self.problem(1, "the file is empty", f"write {what}")
        return root

    def mapping(
        self, node: Node, context: str, keys: Sequence[str], required: Sequence[str] = ()
    ) -> Entry | None:
        """The known entries by key (None for a non-mapping); unknown, repeated, missing keys are problems."""
        if not isinstance(node, MappingNode):
            message = say(context, f"must be a mapping of {', '.join(keys)}, not {shown(node)}")
            self.problem(node, message, f"write `{(required or keys)[0]}: ...` on its own line")
            return None
        entries: dict[str, Node] = {}
        for key_node, value in node.value:
            key = str(key_node.value) if isinstance(key_node, ScalarNode) else shown(key_node)
            if key in entries:
                message = say(context, f'"{key}" appears twice (first on line {line_of(entries[key])})')
                self.problem(key_node, message, "keep one of them")
            elif key not in keys:
                close = did_you_mean(key, keys)
                fix = (
                    f'did you mean "{close[0]}"?'
                    if close
                    else f"remove it; the keys here are {', '.join(keys)}"
                )
                self.problem(key_node, say(context, f'unknown key "{key}"'), fix)
            else:
                entries[key] = value
        for key in required:
            if key not in entries:
                self.problem(node, say(context, f'"{key}" is missing'), f"add `{key}: ...`")
        return entries

    def sequence(self, node: Node, context: str, example: str) -> list[Node] | None:
        if isinstance(node, SequenceNode):
            return list(node.value)
        self.problem(node, say(context, f"must be a list, not {shown(node)}"), f"write e.g. {example}")
        return None

    def entries(
        self, top: Entry, kind: str, keys: Sequence[str], required: Sequence[str], example: str
    ) -> Iterator[tuple[str, Entry]]:
        """(context, mapping) for each entry of the list ``top[kind]`` that has the required keys."""
        if kind not in top:
            return
        items = self.sequence(top[kind], f"{kind}:", example)
        if items == []:
            self.problem(top[kind], f"{kind}: is empty", f"list at least one entry, e.g. {example}")
        for index, item in enumerate(items or [], start=1):
            entry = self.mapping(item, f"{kind}[{index}]:", keys, required)
            if entry is not None and all(key in entry for key in required):
                yield f"{kind}[{index}]:", entry

    def value(self, node: Node) -> Any:
        """The plain value of a scalar (str, int, float, bool, None, date); else the node itself."""
        if not isinstance(node, ScalarNode):
            return node
        try:
            return self._constructor.construct_object(node, deep=True)
        except yaml.YAMLError:  # a tag the safe constructor refuses, such as !!python/object
            return node

    def get(
        self,
        entry: Entry,
        key: str,
        read: Callable[[Node, str], T | None],
        context: str,
        *,
        nullable: bool = False,
    ) -> T | None:
        """``read`` applied to ``entry[key]``; None when the key is absent (or empty, if ``nullable``)."""
        node = entry.get(key)
        if node is None or (nullable and self.value(node) is None):
            return None
        return read(node, say(context, key))

    def string(self, node: Node, context: str) -> str | None:
        value = self.value(node)
        if isinstance(value, str) and value.strip():
            return value.strip()
        self.problem(node, say(context, f"must be text, not {shown(node)}"), "write it as a quoted string")
        return None

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
            message, fix = _holiday_problem(text)
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

    def once(self, items: Sequence[tuple[str, Node]], what: str) -> bool:
        """True when no name repeats; each repeat is a problem at its line."""
        first: dict[str, Node] = {}
        for name, node in items:
            if name in first:
                message = f'{what} "{name}" is listed twice (first on line {line_of(first[name])})'
                self.problem(node, message, "keep one of them")
            else:
                first[name] = node
        return len(first) == len(items)


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


def _holiday_problem(text: str) -> tuple[str, str]:
    """What is wrong with a refused public-holiday code, and the fix: the closest codes, else the choices."""
    country, _, region = (part.strip() for part in text.partition("-"))
    supported = holidays.list_supported_countries(include_aliases=False)
    code = country.upper()
    if code not in supported:
        names: dict[str, str] = {}
        for key, (_, alpha2, *aliases) in holidays.registry.COUNTRIES.items():
            names.update({key.replace("_", " "): alpha2} | dict.fromkeys(aliases, alpha2))
        close = _closest(country.replace("_", " "), names)
        message = f'"{text}" is not a country code with known public holidays'
        fix = f"use an ISO 3166 country code such as {HOLIDAY_CODE_EXAMPLES}"
        return message, f"did you mean {' or '.join(close)}?" if close else fix
    message = f'"{text}" is not a region of {code} with known public holidays'
    if not supported[code]:
        return message, f"use {code}; the holidays package has no regions of {code}"
    regions = dict(zip(supported[code], supported[code], strict=True))
    regions |= holidays.country_holidays(code).subdivisions_aliases
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


def _section_key(text: str) -> str:
    if not _SECTION_KEY.fullmatch(text):
        raise ValueError(f'"{text}" is not a section key (lower-case letters, digits and _)')
    return text
