"""Read routing.yaml: the defaults (owner, deadline, reminders) and the routes, in order.

Every owner must be a person in people.yaml; each mistake is a problem at its
line (see :mod:`rules.loader`). Choosing a route is :mod:`rules.routing`'s job.
"""

from __future__ import annotations

from collections.abc import Mapping

from yaml.nodes import Node

from rules.durations import Duration
from rules.errors import did_you_mean
from rules.rulesfile import RulesFile
from rules.schema import Person, Route, RouteMatch, RoutingDefaults
from rules.yamlfile import Entry, line_of, say

MATCH_KEYS = ("text", "customer", "customer_domain", "subject")
_DEFAULTS_KEYS = ("owner", "deadline", "remind_at", "rechase_every", "acknowledge_executive")


def read_routing(
    file: RulesFile, root: Node, people: Mapping[str, Person] | None
) -> tuple[RoutingDefaults | None, list[Route]]:
    """The defaults (None when they have a problem) and the routes that read cleanly.

    ``people`` is None when people.yaml could not be read: then owners are not checked.
    """
    top = file.mapping(root, "", ("defaults", "routes"), ("defaults",)) or {}
    defaults = _read_defaults(file, top, people)
    return defaults, _read_routes(file, top, people, defaults.deadline if defaults else None)


def _owner(file: RulesFile, entry: Entry, context: str, people: Mapping[str, Person] | None) -> str | None:
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


def _read_defaults(
    file: RulesFile, top: Entry, people: Mapping[str, Person] | None
) -> RoutingDefaults | None:
    if "defaults" not in top:
        return None
    entry = file.mapping(top["defaults"], "defaults:", _DEFAULTS_KEYS, ("owner", "deadline"))
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


def _read_match(file: RulesFile, node: Node, context: str) -> RouteMatch | None:
    entry = file.mapping(node, f"{context} match:", MATCH_KEYS)
    if entry == {}:
        file.problem(
            node, f"{context} match: has no conditions", f"add at least one of {', '.join(MATCH_KEYS)}"
        )
    patterns = {key: file.regex(value, f"{context} match: {key}") for key, value in (entry or {}).items()}
    return RouteMatch(**patterns) if patterns and None not in patterns.values() else None


def _read_routes(
    file: RulesFile, top: Entry, people: Mapping[str, Person] | None, default: Duration | None
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
