"""Loading a rules directory, and the file, line and fix of every kind of mistake (rules/loader.py)."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from rules.errors import RulesError
from rules.loader import check_rules, load_rules
from rules.rca_yaml import DEFAULT_RCA_SECTIONS

ACME = Path(__file__).resolve().parents[2] / "rules" / "examples" / "acme"

PEOPLE = """\
executives:
  - email: dana.chief@acme.test
    name: Dana Chief
people:
  - email: pat.owner@acme.test
    name: Pat Owner
    manager: sam.manager@acme.test
    timezone: Europe/Berlin
    working_hours: "Mon-Fri 09:00-18:00"
  - email: sam.manager@acme.test
    name: Sam Manager
"""
ROUTING = """\
defaults:
  owner: sam.manager@acme.test
  deadline: 4h
routes:
  - name: billing
    match:
      text: '(?i)\\binvoice\\b'
    owner: pat.owner@acme.test
"""
RCA = "policy: close_when_complete\n"


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    """A small valid rules directory to break one file at a time."""
    for name, text in (("people.yaml", PEOPLE), ("routing.yaml", ROUTING), ("rca.yaml", RCA)):
        (tmp_path / name).write_text(text)
    return tmp_path


def write(directory: Path, name: str, text: str) -> None:
    (directory / name).write_text(textwrap.dedent(text))


def first_error(directory: Path) -> RulesError:
    with pytest.raises(RulesError) as caught:
        load_rules(directory)
    return caught.value


# The example organisation -------------------------------------------------------------------------


def test_the_acme_example_loads_cleanly() -> None:
    assert check_rules(ACME) == []
    rules = load_rules(ACME)
    assert set(rules.executives) == {"dana.chief@acme.test", "morgan.cfo@acme.test"}
    assert len(rules.people) == 5
    assert [route.name for route in rules.routes] == ["key-account", "billing", "shipping"]
    assert rules.defaults.owner == "robin.support@acme.test"
    assert rules.defaults.remind_at == (0.5, 0.9)
    assert rules.defaults.acknowledge_executive is True
    assert rules.rca.policy == "close_when_complete"
    assert {s.key: s.min_words for s in rules.rca.sections}["impact"] == 5


def test_the_acme_ladder_climbs_from_owner_to_vp() -> None:
    rules = load_rules(ACME)
    assert [p.email for p in rules.ladder("Pat.Owner@acme.test")] == [
        "sam.manager@acme.test",
        "alex.vp@acme.test",
    ]
    assert rules.ladder("alex.vp@acme.test") == ()
    assert rules.ladder("nobody@acme.test") == ()


def test_the_acme_people_have_their_timezones_and_hours() -> None:
    rules = load_rules(ACME)
    pat = rules.person("PAT.OWNER@acme.test")
    assert pat is not None and pat.timezone == "Europe/Berlin"
    assert pat.working_hours is not None and pat.working_hours.day_hours == 9
    assert pat.holidays == "DE"
    assert rules.person("lee.logistics@acme.test").holidays == "US-NY"  # type: ignore[union-attr]
    assert rules.person("robin.support@acme.test").holidays is None  # type: ignore[union-attr]
    assert rules.is_executive("Dana.Chief@acme.test") and not rules.is_executive("pat.owner@acme.test")
    shipping = rules.routes[2]
    assert shipping.deadline.business_hours == 8


def test_a_copy_of_acme_loads_from_any_directory(tmp_path: Path) -> None:
    shutil.copytree(ACME, tmp_path / "acme")
    assert load_rules(str(tmp_path / "acme")).directory == tmp_path / "acme"


# Defaults -----------------------------------------------------------------------------------------


def test_omitted_settings_take_their_defaults(rules_dir: Path) -> None:
    rules = load_rules(rules_dir, default_timezone="Europe/London")
    assert rules.person("sam.manager@acme.test").timezone == "Europe/London"  # type: ignore[union-attr]
    assert rules.person("sam.manager@acme.test").working_hours is None  # type: ignore[union-attr]
    assert rules.routes[0].deadline == rules.defaults.deadline
    assert rules.defaults.remind_at == (0.5, 0.9)
    assert rules.defaults.rechase_every == rules.defaults.deadline
    assert rules.rca.sections == DEFAULT_RCA_SECTIONS
    assert rules.rca.deadline.business_days == 5


def test_remind_at_takes_percentages_or_fractions(rules_dir: Path) -> None:
    write(
        rules_dir,
        "routing.yaml",
        ROUTING.replace("  deadline: 4h\n", "  deadline: 4h\n  remind_at: [90%, 0.25]\n"),
    )
    assert load_rules(rules_dir).defaults.remind_at == (0.25, 0.9)


# One test per kind of mistake ---------------------------------------------------------------------


def test_an_unknown_key_is_reported_with_a_suggestion(rules_dir: Path) -> None:
    write(rules_dir, "people.yaml", PEOPLE.replace("    manager: sam", "    manger: sam"))
    error = first_error(rules_dir)
    assert (error.file, error.line) == (str(rules_dir / "people.yaml"), 7)
    assert error.message == 'people[1]: unknown key "manger"'
    assert error.fix == 'did you mean "manager"?'


def test_a_name_longer_than_the_database_keeps_is_reported_at_its_line(rules_dir: Path) -> None:
    write(rules_dir, "people.yaml", PEOPLE.replace("name: Pat Owner", "name: Pat " + "a" * 10_240))
    error = first_error(rules_dir)
    assert (Path(error.file).name, error.line) == ("people.yaml", 6)
    assert error.message == "person pat.owner@acme.test: name is 10244 characters long, over 200"
    assert error.fix == "shorten it to 200 characters or fewer."


def test_an_unknown_top_level_key_is_reported_with_a_suggestion(rules_dir: Path) -> None:
    write(rules_dir, "routing.yaml", ROUTING.replace("routes:", "rutes:"))
    error = first_error(rules_dir)
    assert (Path(error.file).name, error.line, error.fix) == ("routing.yaml", 4, 'did you mean "routes"?')


def test_a_bad_regex_is_reported_at_its_line_with_the_regex_error(rules_dir: Path) -> None:
    write(rules_dir, "routing.yaml", ROUTING.replace("\\binvoice\\b", "(invoice"))
    error = first_error(rules_dir)
    assert (Path(error.file).name, error.line) == ("routing.yaml", 7)
    assert error.message.startswith(
        'route "billing": match: text /(?i)(invoice/ is not a valid regular expression'
    )
    assert "missing ), unterminated subpattern" in error.message
    assert "regular expression" in error.fix


def test_an_unknown_manager_is_reported_at_the_manager_line(rules_dir: Path) -> None:
    write(rules_dir, "people.yaml", PEOPLE.replace("manager: sam.manager", "manager: sam.manger"))
    error = first_error(rules_dir)
    assert (Path(error.file).name, error.line) == ("people.yaml", 7)
    assert error.message == 'person pat.owner@acme.test: manager "sam.manger@acme.test" is not in people'
    assert error.fix == "add sam.manger@acme.test under people:, or did you mean sam.manager@acme.test?"


def test_a_manager_cycle_is_reported_with_the_whole_loop(rules_dir: Path) -> None:
    write(rules_dir, "people.yaml", PEOPLE + "    manager: pat.owner@acme.test\n")
    error = first_error(rules_dir)
    assert (Path(error.file).name, error.line) == ("people.yaml", 12)
    assert (
        error.message == "manager cycle: pat.owner@acme.test -> sam.manager@acme.test -> pat.owner@acme.test"
    )
    assert "top of a ladder has no manager" in error.fix


def test_being_your_own_manager_is_a_cycle(rules_dir: Path) -> None:
    write(rules_dir, "people.yaml", PEOPLE + "    manager: Sam.Manager@acme.test\n")
    error = first_error(rules_dir)
    assert error.message == "manager cycle: sam.manager@acme.test -> sam.manager@acme.test"


def test_a_bad_timezone_is_reported_with_the_closest_names(rules_dir: Path) -> None:
    write(rules_dir, "people.yaml", PEOPLE.replace("Europe/Berlin", "Europe/Berln"))
    error = first_error(rules_dir)
    assert (Path(error.file).name, error.line) == ("people.yaml", 8)
    assert error.message == 'person pat.owner@acme.test: timezone "Europe/Berln" is not an IANA timezone'
    assert error.fix.startswith("did you mean Europe/Berlin")


def test_a_bad_duration_is_reported_with_examples(rules_dir: Path) -> None:
    write(rules_dir, "routing.yaml", ROUTING.replace("deadline: 4h", "deadline: 4 parsecs"))
    error = first_error(rules_dir)
    assert (Path(error.file).name, error.line) == ("routing.yaml", 3)
    assert str(error) == (
        f'{rules_dir / "routing.yaml"}:3: defaults: deadline "4 parsecs" is not a duration. '
        'Fix: use a number and a unit, e.g. "90s", "30m", "4h", "2d", "1h30m", "8 business hours" or '
        '"5 business days".'
    )


def test_a_number_without_a_unit_is_not_a_duration(rules_dir: Path) -> None:
    write(rules_dir, "routing.yaml", ROUTING.replace("deadline: 4h", "deadline: 4"))
    error = first_error(rules_dir)
    assert error.message == "defaults: deadline must be text, not 4"


def test_bad_working_hours_are_reported_with_the_reason(rules_dir: Path) -> None:
    write(rules_dir, "people.yaml", PEOPLE.replace("09:00-18:00", "18:00-09:00"))
    error = first_error(rules_dir)
    assert error.line == 9
    assert "working_hours" in error.message and "split a night shift" in error.message
    assert "Mon-Fri 09:00-18:00" in error.fix


def with_holidays(code: str) -> str:
    """PEOPLE with ``holidays: code`` on line 10, under pat.owner's working_hours."""
    return PEOPLE.replace('"Mon-Fri 09:00-18:00"\n', f'"Mon-Fri 09:00-18:00"\n    holidays: {code}\n')


def test_a_holiday_code_is_read_in_any_case_and_kept_in_its_canonical_spelling(rules_dir: Path) -> None:
    write(rules_dir, "people.yaml", with_holidays("de-by"))
    rules = load_rules(rules_dir)
    assert rules.person("pat.owner@acme.test").holidays == "DE-BY"  # type: ignore[union-attr]
    assert rules.person("sam.manager@acme.test").holidays is None  # type: ignore[union-attr]


def test_an_unknown_holiday_region_is_reported_with_the_regions_of_that_country(rules_dir: Path) -> None:
    write(rules_dir, "people.yaml", with_holidays("DE-XY"))
    error = first_error(rules_dir)
    assert str(error).startswith(
        f"{rules_dir / 'people.yaml'}:10: person pat.owner@acme.test: holidays "
        '"DE-XY" is not a region of DE with known public holidays. '
        "Fix: use DE alone or one of DE-BB, DE-BE, DE-BW, DE-BY, "
    )


def test_a_country_name_instead_of_a_holiday_code_gets_the_code_suggested(rules_dir: Path) -> None:
    write(rules_dir, "people.yaml", with_holidays("Germany"))
    error = first_error(rules_dir)
    assert (Path(error.file).name, error.line) == ("people.yaml", 10)
    assert error.message == (
        'person pat.owner@acme.test: holidays "Germany" is not a country code with known public holidays'
    )
    assert error.fix == "did you mean DE?"


def test_an_unknown_holiday_country_says_how_a_code_looks(rules_dir: Path) -> None:
    write(rules_dir, "people.yaml", with_holidays("XQ"))
    error = first_error(rules_dir)
    assert error.line == 10
    assert error.fix == (
        'use an ISO 3166 country code such as "DE", "US", or a country and region like "DE-BY" or "US-NY".'
    )


def test_norway_must_be_quoted_because_bare_no_is_false(rules_dir: Path) -> None:
    write(rules_dir, "people.yaml", with_holidays("NO"))
    assert first_error(rules_dir).message == "person pat.owner@acme.test: holidays must be text, not NO"
    write(rules_dir, "people.yaml", with_holidays('"NO"'))
    assert load_rules(rules_dir).person("pat.owner@acme.test").holidays == "NO"  # type: ignore[union-attr]


def test_a_yaml_syntax_error_is_reported_at_its_line(rules_dir: Path) -> None:
    write(rules_dir, "routing.yaml", ROUTING.replace("  deadline: 4h", "  deadline: 4h\n   bad: [indent"))
    error = first_error(rules_dir)
    assert (Path(error.file).name, error.line) == ("routing.yaml", 4)
    assert error.message.startswith("YAML syntax error:")
    assert "indentation" in error.fix


def test_a_tab_in_the_indentation_gets_its_own_fix(rules_dir: Path) -> None:
    write(rules_dir, "rca.yaml", "policy: close_when_complete\nsections:\n\t- key: x\n")
    error = first_error(rules_dir)
    assert (Path(error.file).name, error.line, error.fix) == ("rca.yaml", 3, "indent with spaces, not tabs.")


def test_a_missing_file_is_named_with_what_it_must_contain(rules_dir: Path) -> None:
    (rules_dir / "routing.yaml").unlink()
    error = first_error(rules_dir)
    assert (error.file, error.line) == (str(rules_dir / "routing.yaml"), None)
    assert error.message == "missing: a rules directory needs routing.yaml"
    assert error.fix.startswith("create it with defaults: (owner, deadline")


def test_an_empty_file_says_what_to_write(rules_dir: Path) -> None:
    write(rules_dir, "rca.yaml", "# nothing yet\n")
    error = first_error(rules_dir)
    assert (Path(error.file).name, error.line, error.message) == ("rca.yaml", 1, "the file is empty")
    assert "close_when_complete" in error.fix


def test_a_missing_directory_is_reported(tmp_path: Path) -> None:
    error = first_error(tmp_path / "nope")
    assert (error.file, error.line, error.message) == (
        str(tmp_path / "nope"),
        None,
        "rules directory not found",
    )


def test_a_route_owner_outside_people_lists_the_people(rules_dir: Path) -> None:
    write(rules_dir, "routing.yaml", ROUTING.replace("owner: pat.owner", "owner: pat"))
    error = first_error(rules_dir)
    assert str(error) == (
        f'{rules_dir / "routing.yaml"}:8: route "billing": owner "pat@acme.test" is not in people.yaml. '
        "Fix: add pat@acme.test under people: in people.yaml, or use one of: "
        "pat.owner@acme.test, sam.manager@acme.test."
    )


def test_an_executive_is_not_an_owner_unless_listed_in_people(rules_dir: Path) -> None:
    write(rules_dir, "routing.yaml", ROUTING.replace("owner: sam.manager", "owner: dana.chief"))
    error = first_error(rules_dir)
    assert (error.line, error.message) == (2, 'defaults: owner "dana.chief@acme.test" is not in people.yaml')


def test_a_bad_email_is_reported(rules_dir: Path) -> None:
    write(rules_dir, "people.yaml", PEOPLE.replace("dana.chief@acme.test", "Dana Chief <dana@acme.test>"))
    error = first_error(rules_dir)
    assert (error.line, error.message) == (
        2,
        'executives[1]: email "Dana Chief <dana@acme.test>" is not a plain email address',
    )


def test_a_person_listed_twice_is_reported_at_the_second_entry(rules_dir: Path) -> None:
    write(rules_dir, "people.yaml", PEOPLE + "  - email: PAT.OWNER@acme.test\n")
    error = first_error(rules_dir)
    assert (error.line, error.message) == (
        12,
        'person "pat.owner@acme.test" is listed twice (first on line 5)',
    )


def test_a_key_given_twice_is_reported(rules_dir: Path) -> None:
    write(rules_dir, "routing.yaml", ROUTING.replace("  deadline: 4h\n", "  deadline: 4h\n  deadline: 2h\n"))
    error = first_error(rules_dir)
    assert (error.line, error.message) == (4, 'defaults: "deadline" appears twice (first on line 3)')


def test_route_names_must_be_unique(rules_dir: Path) -> None:
    route = ROUTING[ROUTING.index("  - name: billing") :]
    write(rules_dir, "routing.yaml", ROUTING + route)
    error = first_error(rules_dir)
    assert (error.line, error.message) == (9, 'route "billing" is listed twice (first on line 5)')


def test_a_route_needs_at_least_one_condition(rules_dir: Path) -> None:
    write(
        rules_dir,
        "routing.yaml",
        ROUTING.replace("    match:\n      text: '(?i)\\binvoice\\b'\n", "    match: {}\n"),
    )
    error = first_error(rules_dir)
    assert (error.line, error.message) == (6, 'route "billing": match: has no conditions')


def test_a_route_without_an_owner_is_reported(rules_dir: Path) -> None:
    write(rules_dir, "routing.yaml", ROUTING.replace("    owner: pat.owner@acme.test\n", ""))
    error = first_error(rules_dir)
    assert (error.line, error.message, error.fix) == (5, 'routes[1]: "owner" is missing', "add `owner: ...`.")


@pytest.mark.parametrize("value", ["[0%, 50%]", "[50, 90]", "[1.5]", "[50%, 0.5]", "50%"])
def test_remind_at_must_be_fractions_strictly_between_0_and_1(rules_dir: Path, value: str) -> None:
    write(
        rules_dir,
        "routing.yaml",
        ROUTING.replace("  deadline: 4h\n", f"  deadline: 4h\n  remind_at: {value}\n"),
    )
    error = first_error(rules_dir)
    assert error.line == 4 and "remind_at" in error.message


def test_acknowledge_executive_must_be_true_or_false(rules_dir: Path) -> None:
    write(
        rules_dir,
        "routing.yaml",
        ROUTING.replace("  deadline: 4h\n", "  deadline: 4h\n  acknowledge_executive: maybe\n"),
    )
    error = first_error(rules_dir)
    assert error.message == 'defaults: acknowledge_executive must be true or false, not "maybe"'


def test_an_unknown_rca_policy_lists_the_policies(rules_dir: Path) -> None:
    write(rules_dir, "rca.yaml", "policy: close_whenever\n")
    error = first_error(rules_dir)
    assert (error.line, error.message) == (1, 'policy "close_whenever" is not a policy')
    assert error.fix == "write policy: close_when_complete or policy: executive_approves."


def test_rca_sections_need_a_positive_word_count_and_unique_headings(rules_dir: Path) -> None:
    write(
        rules_dir,
        "rca.yaml",
        """\
        policy: executive_approves
        sections:
          - key: impact
            title: Impact
            min_words: 0
          - key: cause
            title: Cause
            aliases: [impact]
        """,
    )
    errors = check_rules(rules_dir)
    assert [(e.line, e.message) for e in errors] == [
        (5, 'section "impact": min_words must be a whole number of at least 1, not 0'),
    ]
    write(rules_dir, "rca.yaml", (rules_dir / "rca.yaml").read_text().replace("min_words: 0", "min_words: 3"))
    assert [(e.line, e.message) for e in check_rules(rules_dir)] == [
        (8, 'section title or alias "impact" is listed twice (first on line 4)'),
    ]


def test_custom_rca_sections_replace_the_defaults(rules_dir: Path) -> None:
    write(
        rules_dir,
        "rca.yaml",
        "policy: executive_approves\ndeadline: 2d\nsections:\n  - {key: why, title: Why}\n",
    )
    rca = load_rules(rules_dir).rca
    assert (rca.policy, rca.deadline.seconds) == ("executive_approves", 172800)
    assert [(s.key, s.title, s.aliases, s.min_words) for s in rca.sections] == [("why", "Why", (), 10)]


# Collecting every problem -------------------------------------------------------------------------


def test_check_rules_reports_every_problem_in_file_and_line_order(rules_dir: Path) -> None:
    write(
        rules_dir,
        "people.yaml",
        PEOPLE.replace("Europe/Berlin", "Mars/Base").replace("name: Sam", "nmae: Sam"),
    )
    write(rules_dir, "routing.yaml", ROUTING.replace("deadline: 4h", "deadline: soon"))
    write(rules_dir, "rca.yaml", "policy: whenever\n")
    errors = check_rules(rules_dir)
    assert [(Path(e.file).name, e.line) for e in errors] == [
        ("people.yaml", 8),
        ("people.yaml", 11),
        ("routing.yaml", 3),
        ("rca.yaml", 1),
    ]
    # And load_rules raises the first of them.
    assert str(first_error(rules_dir)) == str(errors[0])


def test_a_rules_error_reads_file_line_message_and_fix() -> None:
    error = RulesError("rules/x/routing.yaml", 14, "something is wrong.", "do this")
    assert str(error) == "rules/x/routing.yaml:14: something is wrong. Fix: do this."
    assert str(RulesError("rules/x", None, "gone", "make it?")) == "rules/x: gone. Fix: make it?"
