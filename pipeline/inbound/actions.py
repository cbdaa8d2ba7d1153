"""Read the action sections of a writeup: each action as what, an owner and a due date, or why not.

An action is one line or bullet (``-``, ``*``, ``•``, ``1.``, ``1)``, ``[ ]``), for
example ``- Add a run key to the invoice job — owner: pat@acme.test — due 20 Dec``.
Its parts may also come as

- a table pasted as text, one row per action: ``| what | owner | due |`` or cells
  split by tabs; a header row (cells such as What/Owner/Due, Maßnahme/
  Verantwortlich/Fällig, Action/Responsable/Échéance) names the columns and is
  skipped, as are ``|---|---|`` rules; without a header each cell is a part;
- "Owner:"/"Due:" lines under the action line (also Verantwortlich:, Fällig:,
  Responsable :, Échéance : ...); an indented line under a bullet continues it.

The owner is found by :mod:`pipeline.inbound.action_owners`, the date by
:mod:`pipeline.inbound.due_phrases`; the title is what is left of the line without
bullet, owner, date and their cue words, tidied. A line is refused, with the reason
and the fix in words, when it has no owner, an unknown or ambiguous owner, no due
date, a date before ``today`` or after ``today`` + ``actions.max_due``, or no what.

Not actions, and skipped without a word: blank lines, Markdown headings, table
header rows and rules, a line ending in ":" that names neither owner nor date
("We agreed on:"), and a line that is only a placeholder ("none", "n/a", "TBD",
"-", "keine", "aucune"): a section of only such lines gets a finding from
:func:`pipeline.model.rootcause.check_sections` (placeholder, or no actions),
so the owner is told once, not once per line.

``max_due`` in wall-clock time counts whole calendar days (rounded up); in business
days it counts that many weekdays ahead (public holidays are not skipped); business
hours count as days of 8 hours.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from pipeline.inbound.action_owners import find_owner
from pipeline.inbound.due_phrases import find_due
from pipeline.model.action_items import ActionItem, ActionProblem, ActionReading
from rules.durations import Duration
from rules.schema import RcaSection, Rules

_BULLET = re.compile(r"^\s*(?:[-*•·+–]\s+|\d{1,2}[.)]\s+|\(\d{1,2}\)\s+)?(?:\[[ xX✓]?\]\s*)?")
_FIELD = re.compile(
    r"^\s*(?:[-*•]\s*)?(?:owner|who|assignee|responsible|due(?:\s+date)?|deadline|when|by"
    r"|verantwortlich|zust[äa]ndig|f[äa]llig(?:\s+am)?|termin|frist|bis"
    r"|responsable|porteur|[ée]ch[ée]ance|date\s+limite|pour\s+le)\s*[:：]",
    re.I,
)
_WHAT = re.compile(r"^\s*(?:what|action|task|item|ma[ßs]nahme|aufgabe|was|t[âa]che|quoi)\s*[:：]\s*", re.I)
_TABLE_RULE = re.compile(r"^[\s|:+-]*-{3,}[\s|:+-]*$")
_PLACEHOLDERS = frozenset(
    {"", "none", "n a", "na", "tbd", "tba", "todo", "nothing", "keine", "nichts", "aucune", "aucun", "rien"}
)
_HEADER_WORDS = {
    "what": {"what", "action", "actions", "task", "item", "maßnahme", "massnahme", "aufgabe", "was",
             "tâche", "tache", "quoi", "title", "description", "corrective action", "preventive action",
             "#", "no", "nr"},
    "owner": {"owner", "who", "assignee", "responsible", "verantwortlich", "zuständig", "wer",
              "responsable", "porteur", "qui"},
    "due": {"due", "due date", "deadline", "when", "by", "date", "fällig", "fällig am", "termin", "frist",
            "bis", "wann", "échéance", "echeance", "date limite", "quand", "pour le"},
}  # fmt: skip
_ALNUM = re.compile(r"[^\W_]+")
_EDGE = " \t-–—,;:|/()[]{}.*_"
_BUSINESS_DAY_HOURS = 8


@dataclass
class _Entry:
    """The lines of one action as written, and the text its parts are read from."""

    written: str
    text: str
    bullet: bool


def read_writeup_actions(
    found: Mapping[str, str], rules: Rules, *, writer: str, today: date
) -> ActionReading:
    """:func:`read_actions` over every section of kind "actions" in ``found``, in rca order."""
    items: list[ActionItem] = []
    problems: list[ActionProblem] = []
    for section in rules.rca.sections:
        if section.kind == "actions" and found.get(section.key, "").strip():
            reading = read_actions(found[section.key], section, writer=writer, rules=rules, today=today)
            items += reading.items
            problems += reading.problems
    return ActionReading(tuple(items), tuple(problems))


def read_actions(text: str, section: RcaSection, *, writer: str, rules: Rules, today: date) -> ActionReading:
    """Each action in one section's ``text``: accepted items and refused lines, in order.

    ``writer`` is the writer's address ("me" is the writer); ``today`` the writer's local date.
    """
    items: list[ActionItem] = []
    problems: list[ActionProblem] = []
    latest = today + timedelta(days=days_ahead(rules.rca.actions.max_due, today))
    for entry in _entries(text):
        result = _read_entry(entry.text, rules, writer, today, latest)
        if isinstance(result, str):
            problems.append(ActionProblem(section.key, entry.written, result))
        elif result is not None:
            title, owner, due = result
            items.append(ActionItem(section.key, entry.written, title, owner, due))
    return ActionReading(tuple(items), tuple(problems))


def _read_entry(
    text: str, rules: Rules, writer: str, today: date, latest: date
) -> tuple[str, str, date] | str | None:
    """(title, owner, due), or the reason the action is refused, or None when it is no action."""
    owner = find_owner(text, rules.people, writer)
    rest = text if owner is None else _blank(text, owner.start, owner.end)
    due = find_due(rest, today)
    rest = rest if due is None else _blank(rest, due.start, due.end)
    title = _title(rest)
    if owner is None and due is None and text.rstrip().endswith((":", "：")):
        return None
    if not _ALNUM.search(title):
        return 'no action: say what will be done, e.g. "- Add a run key to the job — owner: me — due 20 Dec"'
    if owner is None:
        return f'no owner: add the owner\'s address, e.g. "owner: {writer.strip().lower()}", or "owner: me"'
    if owner.email is None:
        return owner.reason or "no owner"
    if due is None:
        return f'no due date: add one, e.g. "due {(today + timedelta(days=14)).isoformat()}"'
    if due.due < today:
        return f"due date {due.due.isoformat()} is in the past: give a date from {today.isoformat()} on"
    if due.due > latest:
        return (
            f"due date {due.due.isoformat()} is more than {rules.rca.actions.max_due} ahead: "
            f"give a date by {latest.isoformat()}, or split the action into steps"
        )
    return title, owner.email, due.due


def _entries(text: str) -> list[_Entry]:
    """The actions of a section's text: one per line, row or bullet, with its Owner:/Due: lines."""
    entries: list[_Entry] = []
    columns: dict[int, str] | None = None
    for raw in text.splitlines():
        line = raw.rstrip()
        cells = _cells(line)
        if cells is not None:
            if _TABLE_RULE.fullmatch(line):
                continue
            if (header := _header(cells)) is not None:
                columns = header
                continue
            entries.append(_Entry(line.strip(), _row_text(cells, columns), bullet=False))
        elif _skipped(line):
            continue
        elif entries and ((field := _is_field(line)) or _continues(line, entries[-1])):
            joiner = " / " if field else " "
            entries[-1].written += joiner + line.strip()
            entries[-1].text += (" — " if field else " ") + _BULLET.sub("", line).strip()
        else:
            entries.append(_Entry(line.strip(), _BULLET.sub("", line).strip(), _has_bullet(line)))
    return entries


def _has_bullet(line: str) -> bool:
    return bool(_BULLET.match(line).group(0).strip())  # type: ignore[union-attr]


def _is_field(line: str) -> bool:
    """An "Owner:"/"Due:" line that belongs to the action above: unbulleted, or an indented bullet."""
    return bool(_FIELD.match(line)) and (not _has_bullet(line) or line[:1] in (" ", "\t"))


def _skipped(line: str) -> bool:
    """Blank, a heading, a rule, or only a placeholder: no action and no problem."""
    stripped = line.strip()
    if not stripped or stripped.startswith("#") or _TABLE_RULE.fullmatch(stripped):
        return True
    return " ".join(_ALNUM.findall(_BULLET.sub("", line).casefold())) in _PLACEHOLDERS


def _continues(line: str, previous: _Entry) -> bool:
    """An indented line that is no bullet of its own, right under a bullet."""
    return previous.bullet and line[:1] in (" ", "\t") and not _has_bullet(line)


def _cells(line: str) -> list[str] | None:
    """The cells of a table row (``| a | b |`` or tab-separated), or None for other lines."""
    stripped = line.strip()
    if stripped.startswith("|") or stripped.count("|") >= 2:
        return [cell.strip() for cell in stripped.strip("|").split("|")]
    if "\t" in stripped:
        cells = [cell.strip() for cell in stripped.split("\t") if cell.strip()]
        return cells if len(cells) >= 2 else None
    return None


def _header(cells: list[str]) -> dict[int, str] | None:
    """Column -> role (what, owner, due) when every filled cell of a row is a column name."""
    roles: dict[int, str] = {}
    for index, cell in enumerate(cells):
        name = " ".join(cell.casefold().strip("*_: ").split())
        role = next((role for role, words in _HEADER_WORDS.items() if name in words), None)
        if role is None and name:
            return None
        if role is not None:
            roles[index] = role
    return roles if len(roles) >= 2 else None


def _row_text(cells: list[str], columns: dict[int, str] | None) -> str:
    """A row as one action line: labelled owner and due cells when a header named them."""
    if columns is None:
        return " — ".join(cell for cell in cells if cell)
    parts: list[str] = []
    for index, cell in enumerate(cells):
        if cell:
            role = columns.get(index, "what")
            parts.append({"owner": f"owner: {cell}", "due": f"due {cell}"}.get(role, cell))
    return " — ".join(parts)


def _blank(text: str, start: int, end: int) -> str:
    """``text`` with a part cut out and a separator left in its place."""
    return f"{text[:start]} | {text[end:]}"


def _title(rest: str) -> str:
    """What is left of a line once bullet, owner and date are cut out, tidied."""
    parts = [part.strip(_EDGE) for part in _WHAT.sub("", rest).split("|")]
    title = " ".join(" ".join(part for part in parts if part).split())
    return title[:1].upper() + title[1:]


def days_ahead(limit: Duration, today: date) -> int:
    """How many calendar days ahead ``limit`` reaches from ``today``."""
    if limit.seconds is not None:
        return math.ceil(limit.seconds / 86400)
    business = limit.business_days
    if business is None:
        business = (limit.business_hours or 0) / _BUSINESS_DAY_HOURS
    days, counted, day = 0, 0, today
    while counted < math.ceil(business):
        day += timedelta(days=1)
        days += 1
        counted += day.weekday() < 5
    return days
