"""rca.yaml's section kinds, actions: and not_causes: (rules/rca_yaml.py): values, defaults, mistakes."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from rules.loader import check_rules, load_rules
from rules.rca_yaml import default_kind
from rules.schema import DEFAULT_ACTION_RULES, DEFAULT_NOT_CAUSES
from tests.support.rules import ACME, acme_rules

SECTIONS = """\
policy: close_when_complete
sections:
  - key: why
    title: Why
  - key: fixes
    title: Fixes
    kind: actions
"""


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    return acme_rules(tmp_path / "acme")


def write_rca(directory: Path, text: str) -> None:
    (directory / "rca.yaml").write_text(textwrap.dedent(text))


def problems(directory: Path) -> list[tuple[int | None, str, str]]:
    return [(error.line, error.message, error.fix) for error in check_rules(directory)]


def test_the_example_has_a_detection_section_and_spells_out_the_action_defaults() -> None:
    rca = load_rules(ACME).rca

    assert [(s.key, s.kind) for s in rca.sections] == [
        ("what_happened", "text"),
        ("impact", "text"),
        ("root_cause", "root_cause"),
        ("detection", "text"),
        ("corrective_actions", "actions"),
        ("preventive_actions", "actions"),
    ]
    assert next(s.title for s in rca.sections if s.key == "detection") == "Why wasn't it caught earlier?"
    assert rca.actions == DEFAULT_ACTION_RULES
    assert rca.not_causes == DEFAULT_NOT_CAUSES


def test_a_section_without_kind_takes_the_default_of_its_key(rules_dir: Path) -> None:
    write_rca(rules_dir, SECTIONS.replace("    kind: actions\n", "") + "  - key: root_cause\n    title: RC\n")

    rca = load_rules(rules_dir).rca

    assert [(s.key, s.kind) for s in rca.sections] == [
        ("why", "text"),
        ("fixes", "text"),
        ("root_cause", "root_cause"),
    ]
    assert (default_kind("preventive_actions"), default_kind("impact")) == ("actions", "text")


def test_a_kind_given_overrides_the_default(rules_dir: Path) -> None:
    write_rca(rules_dir, SECTIONS.replace("title: Why\n", "title: Why\n    kind: root_cause\n"))

    assert [s.kind for s in load_rules(rules_dir).rca.sections] == ["root_cause", "actions"]


def test_an_unknown_kind_is_a_problem_at_its_line_listing_the_kinds(rules_dir: Path) -> None:
    write_rca(rules_dir, SECTIONS.replace("kind: actions", "kind: todo"))

    assert problems(rules_dir) == [
        (
            7,
            'section "fixes": kind "todo" is not a kind of section',
            "write kind: text or kind: root_cause or kind: actions.",
        )
    ]


def test_actions_left_out_take_the_defaults(rules_dir: Path) -> None:
    write_rca(rules_dir, SECTIONS)

    rca = load_rules(rules_dir).rca

    assert rca.actions == DEFAULT_ACTION_RULES
    assert rca.not_causes == DEFAULT_NOT_CAUSES


def test_actions_keys_are_read_and_each_left_out_keeps_its_default(rules_dir: Path) -> None:
    write_rca(rules_dir, SECTIONS + 'actions:\n  max_due: "15d"\n  rechase_every: "3 business days"\n')

    actions = load_rules(rules_dir).rca.actions

    assert actions.max_due.seconds == 15 * 86400
    assert actions.rechase_every.business_days == 3
    assert actions.remind_before == DEFAULT_ACTION_RULES.remind_before


def test_an_action_duration_that_is_none_is_a_problem_with_the_fix(rules_dir: Path) -> None:
    write_rca(rules_dir, SECTIONS + "actions:\n  max_due: soon\n")

    [(line, message, fix)] = problems(rules_dir)

    assert (line, message) == (9, 'actions: max_due "soon" is not a duration')
    assert fix.startswith("use a number and a unit")


def test_an_unknown_actions_key_suggests_the_close_one(rules_dir: Path) -> None:
    write_rca(rules_dir, SECTIONS + "actions:\n  max_dues: 10d\n")

    assert problems(rules_dir) == [(9, 'actions: unknown key "max_dues"', 'did you mean "max_due"?')]


def test_actions_must_be_a_mapping(rules_dir: Path) -> None:
    write_rca(rules_dir, SECTIONS + "actions: 30d\n")

    [(line, message, _)] = problems(rules_dir)

    assert (line, message) == (
        8,
        'actions: must be a mapping of max_due, remind_before, rechase_every, not "30d"',
    )


def test_not_causes_are_read_lower_cased_and_an_empty_list_is_allowed(rules_dir: Path) -> None:
    write_rca(rules_dir, SECTIONS + 'not_causes: ["Human  Error", "Pilot error"]\n')
    assert load_rules(rules_dir).rca.not_causes == ("human error", "pilot error")

    write_rca(rules_dir, SECTIONS + "not_causes: []\n")
    assert load_rules(rules_dir).rca.not_causes == ()


def test_not_causes_must_be_a_list_of_texts_without_repeats(rules_dir: Path) -> None:
    write_rca(rules_dir, SECTIONS + "not_causes: human error\n")
    assert [(line, message) for line, message, _ in problems(rules_dir)] == [
        (8, 'not_causes: must be a list, not "human error"')
    ]

    write_rca(rules_dir, SECTIONS + 'not_causes:\n  - "human error"\n  - 3\n')
    assert [(line, message) for line, message, _ in problems(rules_dir)] == [
        (10, "not_causes: must be text, not 3")
    ]

    write_rca(rules_dir, SECTIONS + 'not_causes:\n  - "human error"\n  - "Human Error"\n')
    assert [(line, message) for line, message, _ in problems(rules_dir)] == [
        (10, 'not-cause "human error" is listed twice (first on line 9)')
    ]
