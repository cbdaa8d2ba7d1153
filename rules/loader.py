"""Load a rules directory (people, routing, rca) into :class:`Rules`, or say exactly what is wrong where.

Each file has its reader (:mod:`rules.people_yaml`, :mod:`rules.routing_yaml`,
:mod:`rules.rca_yaml`); every problem is reported at the line of the offending
key or value, with a fix. ``check_rules`` collects every problem (for ``qmark
rules check``); ``load_rules`` raises the first.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import MappingProxyType

from rules.errors import RulesError
from rules.people_yaml import read_people
from rules.rca_yaml import read_rca
from rules.routing_yaml import read_routing
from rules.rulesfile import RulesFile
from rules.schema import Rules

#: The files of a rules directory and what each must hold (quoted when one is missing or empty).
FILES = {
    "people.yaml": "executives: (email, name) and "
    "people: (email, name, manager, timezone, working_hours, holidays)",
    "routing.yaml": "defaults: (owner, deadline, remind_at, rechase_every, acknowledge_executive) "
    "and routes: (name, match, owner, deadline)",
    "rca.yaml": "policy: close_when_complete or executive_approves, and optionally deadline: and sections:",
}


def _collect(directory: str | Path, default_timezone: str) -> tuple[Rules | None, list[RulesError]]:
    folder = Path(directory)
    if not folder.is_dir():
        return None, [_not_found(folder)]
    files = [RulesFile(folder / name) for name in FILES]
    rules = _read(folder, files, default_timezone)
    problems = [error for file in files for error in sorted(file.problems, key=lambda error: error.line or 0)]
    return (None, problems) if problems or rules is None else (rules, [])


def _read(folder: Path, files: list[RulesFile], timezone: str) -> Rules | None:
    """The rules in ``files`` (people, routing, rca); None when a part of them could not be read."""
    people_file, routing_file, rca_file = files
    people_root, routing_root, rca_root = (file.compose(FILES[file.path.name]) for file in files)
    executives, people = read_people(people_file, people_root, timezone) if people_root else ({}, None)
    defaults, routes = (
        (None, []) if routing_root is None else read_routing(routing_file, routing_root, people)
    )
    rca = read_rca(rca_file, rca_root) if rca_root else None
    if people is None or defaults is None or rca is None:
        return None
    return Rules(
        folder,
        MappingProxyType(executives),
        MappingProxyType(people),
        defaults,
        tuple(routes),
        rca,
        version=fingerprint(files),
    )


def fingerprint(files: list[RulesFile]) -> str:
    """12 hex digits of SHA-256 over each file's name and the text read from it: same text, same name."""
    digest = hashlib.sha256()
    for file in files:
        for part in (file.path.name, file.text or ""):
            digest.update(part.encode("utf-8") + b"\0")
    return digest.hexdigest()[:12]


def _not_found(folder: Path) -> RulesError:
    fix = f"create it with {', '.join(FILES)} (copy rules/examples/acme), or set [rules] path in qmark.toml"
    return RulesError(str(folder), None, "rules directory not found", fix)


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
