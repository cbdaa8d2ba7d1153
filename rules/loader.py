"""Load a rules directory (people, routing, rca) into :class:`Rules`, or say exactly what is wrong where.

The YAML is composed, not loaded, so every node keeps its line: each problem is
reported at the line of the offending key or value, with a fix. ``check_rules``
collects every problem (for ``qmark rules check``); ``load_rules`` raises the first.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from yaml.nodes import Node

from rules.durations import Duration, parse_duration
from rules.errors import RulesError, did_you_mean
from rules.nodes import Entry, YamlFile, line_of, say, shown
from rules.schema import (
    RCA_POLICIES,
    Executive,
    Person,
    RcaRules,
    RcaSection,
    Route,
    RouteMatch,
    RoutingDefaults,
    Rules,
)

#: The files of a rules directory and what each must hold (quoted when one is missing or empty).
FILES = {
    "people.yaml": "executives: (email, name) and "
    "people: (email, name, manager, timezone, working_hours, holidays)",
    "routing.yaml": "defaults: (owner, deadline, remind_at, rechase_every, acknowledge_executive) "
    "and routes: (name, match, owner, deadline)",
    "rca.yaml": "policy: close_when_complete or executive_approves, and optionally deadline: and sections:",
}
DEFAULT_RCA_SECTIONS: tuple[RcaSection, ...] = (
    RcaSection("what_happened", "What happened", ("Summary", "Incident"), 10),
    RcaSection("impact", "Impact", ("Customer impact",), 10),
    RcaSection("root_cause", "Root cause (five whys)", ("Root cause", "Five whys", "5 whys"), 10),
    RcaSection("corrective_actions", "Corrective actions", ("Corrections", "Fix"), 10),
    RcaSection("preventive_actions", "Preventive actions", ("Prevention", "Follow-ups"), 10),
)
MATCH_KEYS = ("text", "customer", "customer_domain", "subject")


# people.yaml ---------------------------------------------------------------------------------------


def _read_people(file: YamlFile, root: Node, timezone: str) -> tuple[dict[str, Executive], dict[str, Person]]:
    top = file.mapping(root, "", ("executives", "people"), ("executives", "people")) or {}
    executives: dict[str, Executive] = {}
    emails: list[tuple[str, Node]] = []
    for context, entry in file.entries(
        top, "executives", ("email", "name"), ("email",), "- email: a@acme.test"
    ):
        email = file.get(entry, "email", file.email, context)
        if email:
            emails.append((email, entry["email"]))
            executives.setdefault(
                email, Executive(email, file.get(entry, "name", file.string, context, nullable=True) or "")
            )
    file.once(emails, "executive")
    people: dict[str, Person] = {}
    managers: dict[str, Node] = {}
    emails = []
    keys = ("email", "name", "manager", "timezone", "working_hours", "holidays")
    for where, entry in file.entries(top, "people", keys, ("email",), "- email: pat.owner@acme.test"):
        email = file.get(entry, "email", file.email, where)
        if email is None:
            continue
        emails.append((email, entry["email"]))
        context = f"person {email}:"
        manager = file.get(entry, "manager", file.email, context, nullable=True)
        if manager:
            managers.setdefault(email, entry["manager"])
        name = file.get(entry, "name", file.string, context, nullable=True) or ""
        tz = file.get(entry, "timezone", file.timezone, context, nullable=True) or timezone
        hours = file.get(entry, "working_hours", file.hours, context, nullable=True)
        region = file.get(entry, "holidays", file.holidays, context, nullable=True)
        people.setdefault(email, Person(email, name, manager, tz, hours, region))
    file.once(emails, "person")
    _check_ladders(file, people, managers)
    return executives, people


def _check_ladders(file: YamlFile, people: Mapping[str, Person], managers: Mapping[str, Node]) -> None:
    """Every manager is in people, and no chain of managers leads back to where it started."""
    for email, node in managers.items():
        manager = people[email].manager or ""
        if manager not in people:
            close = did_you_mean(manager, people)
            fix = f"add {manager} under people:" + (
                f", or did you mean {' or '.join(close)}?" if close else ""
            )
            file.problem(node, f'person {email}: manager "{manager}" is not in people', fix)
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


# routing.yaml --------------------------------------------------------------------------------------


def _owner(file: YamlFile, entry: Entry, context: str, people: Mapping[str, Person] | None) -> str | None:
    owner = file.get(entry, "owner", file.email, context)
    if owner is None or people is None or owner in people:
        return owner
    choices = did_you_mean(owner, people, limit=3)
    choices += [email for email in people if email not in choices]
    fix = f"add {owner} under people: in people.yaml"
    if choices:
        fix += f", or use one of: {', '.join(choices[:6])}"
    file.problem(entry["owner"], say(context, f'owner "{owner}" is not in people.yaml'), fix)
    return None


def _read_defaults(file: YamlFile, top: Entry, people: Mapping[str, Person] | None) -> RoutingDefaults | None:
    keys = ("owner", "deadline", "remind_at", "rechase_every", "acknowledge_executive")
    if "defaults" not in top:
        return None
    entry = file.mapping(top["defaults"], "defaults:", keys, ("owner", "deadline"))
    if entry is None:
        return None
    owner = _owner(file, entry, "defaults:", people)
    deadline = file.get(entry, "deadline", file.duration, "defaults:")
    remind_at = file.get(entry, "remind_at", file.fractions, "defaults:")
    rechase = file.get(entry, "rechase_every", file.duration, "defaults:") or deadline
    ack = file.get(entry, "acknowledge_executive", file.flag, "defaults:")
    if owner is None or deadline is None or rechase is None:
        return None
    return RoutingDefaults(
        owner, deadline, (0.5, 0.9) if remind_at is None else remind_at, rechase, ack is not False
    )


def _read_match(file: YamlFile, node: Node, context: str) -> RouteMatch | None:
    entry = file.mapping(node, f"{context} match:", MATCH_KEYS)
    if entry == {}:
        file.problem(
            node, f"{context} match: has no conditions", f"add at least one of {', '.join(MATCH_KEYS)}"
        )
    patterns = {key: file.regex(value, f"{context} match: {key}") for key, value in (entry or {}).items()}
    return RouteMatch(**patterns) if patterns and None not in patterns.values() else None


def _read_routes(
    file: YamlFile, top: Entry, people: Mapping[str, Person] | None, default: Duration | None
) -> list[Route]:
    """The routes in order; one without ``deadline:`` takes ``default`` (defaults.deadline)."""
    routes: list[Route] = []
    names: list[tuple[str, Node]] = []
    keys, required = ("name", "match", "owner", "deadline"), ("name", "match", "owner")
    for where, entry in file.entries(top, "routes", keys, required, "- name: billing"):
        name = file.get(entry, "name", file.string, where)
        context = f'route "{name}":' if name else where
        if name:
            names.append((name, entry["name"]))
        match = _read_match(file, entry["match"], context)
        owner = _owner(file, entry, context, people)
        deadline = file.get(entry, "deadline", file.duration, context) if "deadline" in entry else default
        if name and match and owner and deadline:
            routes.append(Route(name, match, owner, deadline, line_of(entry["name"])))
    file.once(names, "route")
    return routes


# rca.yaml ------------------------------------------------------------------------------------------


def _read_rca(file: YamlFile, root: Node) -> RcaRules | None:
    top = file.mapping(root, "", ("policy", "deadline", "sections"), ("policy",))
    if top is None or "policy" not in top:
        return None
    policy = next((p for p in RCA_POLICIES if p == file.value(top["policy"])), None)
    if policy is None:
        fix = f"write policy: {' or policy: '.join(RCA_POLICIES)}"
        file.problem(top["policy"], f"policy {shown(top['policy'])} is not a policy", fix)
    deadline = (
        file.get(top, "deadline", file.duration, "")
        if "deadline" in top
        else parse_duration("5 business days")
    )
    sections = _read_sections(file, top) if "sections" in top else DEFAULT_RCA_SECTIONS
    if policy is None or deadline is None or not sections:
        return None
    return RcaRules(policy, deadline, sections)


def _read_sections(file: YamlFile, top: Entry) -> tuple[RcaSection, ...]:
    sections: list[RcaSection] = []
    keys: list[tuple[str, Node]] = []
    headings: list[tuple[str, Node]] = []
    fields = ("key", "title", "aliases", "min_words")
    for where, entry in file.entries(top, "sections", fields, ("key", "title"), "- key: impact"):
        key = file.get(entry, "key", file.section_key, where)
        context = f'section "{key}":' if key else where
        title = file.get(entry, "title", file.string, context)
        aliases = file.get(entry, "aliases", file.texts, context) if "aliases" in entry else ()
        min_words = file.get(entry, "min_words", file.count, context) if "min_words" in entry else 10
        if key and title and aliases is not None and min_words:
            keys.append((key, entry["key"]))
            headings.append((title.lower(), entry["title"]))
            headings += [(alias.lower(), entry["aliases"]) for alias in aliases]
            sections.append(RcaSection(key, title, aliases, min_words))
    file.once(keys, "section key")
    file.once(headings, "section title or alias")
    return tuple(sections)


# the directory -------------------------------------------------------------------------------------


def _collect(directory: str | Path, default_timezone: str) -> tuple[Rules | None, list[RulesError]]:
    folder = Path(directory)
    if not folder.is_dir():
        fix = (
            f"create it with {', '.join(FILES)} (copy rules/examples/acme), or set [rules] path in qmark.toml"
        )
        return None, [RulesError(str(folder), None, "rules directory not found", fix)]
    people_file, routing_file, rca_file = files = [YamlFile(folder / name) for name in FILES]
    people_root, routing_root, rca_root = (file.compose(FILES[file.path.name]) for file in files)
    executives, people = (
        _read_people(people_file, people_root, default_timezone) if people_root else ({}, None)
    )
    defaults, routes = None, []
    if routing_root is not None:
        top = routing_file.mapping(routing_root, "", ("defaults", "routes"), ("defaults",)) or {}
        defaults = _read_defaults(routing_file, top, people)
        routes = _read_routes(routing_file, top, people, defaults.deadline if defaults else None)
    rca = _read_rca(rca_file, rca_root) if rca_root else None
    problems = [error for file in files for error in sorted(file.problems, key=lambda error: error.line or 0)]
    if problems or people is None or defaults is None or rca is None:
        return None, problems
    return Rules(
        folder, MappingProxyType(executives), MappingProxyType(people), defaults, tuple(routes), rca
    ), []


def check_rules(directory: str | Path, *, default_timezone: str = "UTC") -> list[RulesError]:
    """Every problem in a rules directory, file by file in line order; empty when it loads cleanly."""
    return _collect(directory, default_timezone)[1]


def load_rules(directory: str | Path, *, default_timezone: str = "UTC") -> Rules:
    """Load and check a rules directory; raise its first :class:`RulesError`.

    ``default_timezone`` (the service's ``[service] timezone``) applies to people without ``timezone:``.
    """
    rules, problems = _collect(directory, default_timezone)
    if rules is None:
        raise (
            problems[0]
            if problems
            else RulesError(str(directory), None, "could not be loaded", "run qmark rules check")
        )
    return rules
