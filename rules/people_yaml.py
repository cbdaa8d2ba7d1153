"""Read people.yaml: the executives, the people with their zones, hours and holidays, and their ladders.

Every manager must be a person, and no chain of managers may lead back to where
it started; each such mistake is a problem at its line (see :mod:`rules.loader`).
"""

from __future__ import annotations

from collections.abc import Mapping

from yaml.nodes import Node

from rules.errors import did_you_mean
from rules.rulesfile import RulesFile
from rules.schema import Executive, Person
from rules.yamlfile import Entry

_PERSON_KEYS = ("email", "name", "manager", "timezone", "working_hours", "holidays")


def read_people(file: RulesFile, root: Node, timezone: str) -> tuple[dict[str, Executive], dict[str, Person]]:
    """The executives and the people by email; ``timezone`` is for people without ``timezone:``."""
    top = file.mapping(root, "", ("executives", "people"), ("executives", "people")) or {}
    executives = _read_executives(file, top)
    people: dict[str, Person] = {}
    managers: dict[str, Node] = {}
    emails: list[tuple[str, Node]] = []
    for where, entry in file.entries(top, "people", _PERSON_KEYS, ("email",), "- email: pat.owner@acme.test"):
        email = file.get(entry, "email", file.email, where)
        if email is None:
            continue
        emails.append((email, entry["email"]))
        person = _read_person(file, entry, email, timezone)
        if person.manager:
            managers.setdefault(email, entry["manager"])
        people.setdefault(email, person)
    file.once(emails, "person")
    _check_managers_known(file, people, managers)
    _check_no_cycles(file, people, managers)
    return executives, people


def _read_executives(file: RulesFile, top: Entry) -> dict[str, Executive]:
    executives: dict[str, Executive] = {}
    emails: list[tuple[str, Node]] = []
    for context, entry in file.entries(
        top, "executives", ("email", "name"), ("email",), "- email: a@acme.test"
    ):
        email = file.get(entry, "email", file.email, context)
        if email:
            emails.append((email, entry["email"]))
            executives.setdefault(
                email,
                Executive(email, file.get(entry, "name", file.person_name, context, nullable=True) or ""),
            )
    file.once(emails, "executive")
    return executives


def _read_person(file: RulesFile, entry: Entry, email: str, timezone: str) -> Person:
    context = f"person {email}:"
    manager = file.get(entry, "manager", file.email, context, nullable=True)
    name = file.get(entry, "name", file.person_name, context, nullable=True) or ""
    tz = file.get(entry, "timezone", file.timezone, context, nullable=True) or timezone
    hours = file.get(entry, "working_hours", file.hours, context, nullable=True)
    region = file.get(entry, "holidays", file.holidays, context, nullable=True)
    return Person(email, name, manager, tz, hours, region)


def _check_managers_known(
    file: RulesFile, people: Mapping[str, Person], managers: Mapping[str, Node]
) -> None:
    """Every manager is in people."""
    for email, node in managers.items():
        manager = people[email].manager or ""
        if manager not in people:
            close = did_you_mean(manager, people)
            fix = f"add {manager} under people:" + (
                f", or did you mean {' or '.join(close)}?" if close else ""
            )
            file.problem(node, f'person {email}: manager "{manager}" is not in people', fix)


def _check_no_cycles(file: RulesFile, people: Mapping[str, Person], managers: Mapping[str, Node]) -> None:
    """No chain of managers leads back to where it started; each cycle is reported once."""
    reported: set[str] = set()
    for email in people:
        path = [email]
        while (manager := people[path[-1]].manager or "") in people and manager not in path:
            path.append(manager)
        if manager in path and manager not in reported:
            cycle = path[path.index(manager) :]
            reported.update(cycle)
            fix = "remove one of these manager: entries; the top of a ladder has no manager"
            file.problem(managers[cycle[-1]], f"manager cycle: {' -> '.join([*cycle, manager])}", fix)
