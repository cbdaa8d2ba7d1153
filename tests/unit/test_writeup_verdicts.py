"""Judging what a writeup says (pipeline/model/rootcause.py): causes that are none, and its actions."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from pipeline.model.action_items import ActionItem, ActionProblem, ActionReading
from pipeline.model.rootcause import Finding, check_sections, describe_findings, merge_sections, not_a_cause
from rules.loader import load_rules
from rules.schema import DEFAULT_NOT_CAUSES

ROOT = Path(__file__).resolve().parents[2]
RCA = load_rules(ROOT / "rules" / "examples" / "acme").rca
GOOD_CAUSE = (
    "Why twice? The scheduler retried. Why retry? The job timed out. "
    "Why timeout? The limit was set for a tenth of today's volume."
)
SECTIONS = {
    "what_happened": "The nightly invoice job ran twice because the scheduler retried it after a timeout.",
    "impact": "About 120 customers received two invoices each.",
    "root_cause": GOOD_CAUSE,
    "detection": "No test ran the job against a scheduler timeout.",
    "corrective_actions": "- Void the duplicate invoices and write to each customer — me — 4 Dec",
    "preventive_actions": "- Add a run key to the job — Sam — 20 Dec",
}
CORRECTIVE = ActionItem(
    "corrective_actions",
    "- Void the duplicate invoices and write to each customer — me — 4 Dec",
    "Void the duplicate invoices and write to each customer",
    "pat.owner@acme.test",
    date(2026, 12, 4),
)
PREVENTIVE = ActionItem(
    "preventive_actions", "- Add a run key to the job — Sam — 20 Dec", "Add a run key to the job",
    "sam.manager@acme.test", date(2026, 12, 20),
)  # fmt: skip


# Not a cause -----------------------------------------------------------------------------------------

NOT_CAUSES = [
    ("Human error.", "human error"),
    ("Human error. The operator made a mistake and will be more careful next time.", "human error"),
    ("It was a mistake by the agent; they need more training.", "mistake"),
    ("Lack of training.", "lack of training"),
    ("Operator error, the team has been reminded to be more careful.", "operator error"),
    ("Menschliches Versagen. Der Mitarbeiter wird in Zukunft besser aufpassen.", "menschliches versagen"),
    ("Ein Fehler des Mitarbeiters, er wurde nachgeschult und wird künftig sorgfältiger sein.", "fehler"),
    ("Erreur humaine, l'agent sera plus attentif à l'avenir.", "erreur humaine"),
    ("Une erreur de l'opérateur ; formation prévue.", "erreur"),
]
CAUSES = [
    "Human error: the operator typed the wrong amount because the form accepts any value unconfirmed.",
    "A human error was possible because the refund tool has no second approval and no daily limit.",
    "Menschlicher Fehler: das Formular prüft den Betrag nicht und der Export läuft ohne Freigabe.",
    "Erreur humaine : le formulaire accepte n'importe quel montant sans confirmation ni contrôle.",
    GOOD_CAUSE,
    "Training material described the old export, and the export tool silently accepts the old format.",
]


@pytest.mark.parametrize(("text", "blamed"), NOT_CAUSES)
def test_a_root_cause_that_only_blames_a_person_is_not_a_cause(text: str, blamed: str) -> None:
    assert not_a_cause(text, DEFAULT_NOT_CAUSES) == blamed


@pytest.mark.parametrize("text", CAUSES)
def test_a_root_cause_that_says_why_the_system_let_it_happen_is_a_cause(text: str) -> None:
    assert not_a_cause(text, DEFAULT_NOT_CAUSES) == ""


def test_not_causes_come_from_the_rules_and_an_empty_list_turns_the_check_off() -> None:
    assert not_a_cause("Human error.", ()) == ""
    assert not_a_cause("Pilot error.", ("pilot error",)) == "pilot error"


def test_a_root_cause_section_that_is_no_cause_is_a_finding_quoting_the_phrase() -> None:
    verdict = check_sections({**SECTIONS, "root_cause": "Human error. The agent will be more careful."}, RCA)

    assert not verdict.complete
    assert verdict.findings == (
        Finding("root_cause", "Root cause (five whys)", "not_a_cause", 8, 10, "human error"),
    )
    assert describe_findings(verdict) == (
        '- Root cause (five whys): "human error" is not a cause: say why the system let the mistake happen\n'
    )


def test_the_not_a_cause_rule_judges_only_the_root_cause_section() -> None:
    verdict = check_sections(
        {**SECTIONS, "impact": "Human error caused two invoices for each customer."}, RCA
    )

    assert verdict.findings == ()


def test_merging_keeps_a_thin_real_cause_over_a_later_human_error() -> None:
    thin = {"root_cause": "The retry job re-submits settled payments."}
    later = {"root_cause": "Human error."}

    assert merge_sections(thin, later, RCA)["root_cause"] == thin["root_cause"]
    assert merge_sections(later, thin, RCA)["root_cause"] == thin["root_cause"]
    assert merge_sections({}, later, RCA)["root_cause"] == "Human error."


# Actions in the verdict ------------------------------------------------------------------------------


def test_without_a_reading_action_sections_are_judged_as_text_only() -> None:
    prose = "We voided every duplicate invoice today and wrote to each customer."
    verdict = check_sections({**SECTIONS, "corrective_actions": prose}, RCA)

    assert verdict.findings == ()
    assert verdict.complete
    assert (verdict.actions, verdict.action_problems) == ((), ())


def test_with_a_reading_its_items_go_into_a_complete_verdict() -> None:
    verdict = check_sections(SECTIONS, RCA, ActionReading((CORRECTIVE, PREVENTIVE)))

    assert verdict.complete
    assert verdict.actions == (CORRECTIVE, PREVENTIVE)
    assert hash(verdict) == hash(check_sections(SECTIONS, RCA, ActionReading((CORRECTIVE, PREVENTIVE))))


def test_an_action_section_with_an_item_is_not_too_thin_however_short_its_line() -> None:
    verdict = check_sections(
        {**SECTIONS, "corrective_actions": "- Void — me — 4 Dec"},
        RCA,
        ActionReading((CORRECTIVE, PREVENTIVE)),
    )

    assert verdict.findings == ()


def test_an_action_section_with_text_but_no_item_is_a_no_actions_finding() -> None:
    found = {**SECTIONS, "preventive_actions": "We will look into adding a run key to the job soon."}

    verdict = check_sections(found, RCA, ActionReading((CORRECTIVE,)))

    assert not verdict.complete
    assert [(f.key, f.problem) for f in verdict.findings] == [("preventive_actions", "no_actions")]
    assert describe_findings(verdict) == (
        '- Preventive actions: no action found: write one per line, "- <what> — owner: <address or me> — '
        'due: <date>"\n'
    )


def test_a_refused_action_line_keeps_the_writeup_open_and_is_quoted_with_its_reason() -> None:
    problem = ActionProblem(
        "corrective_actions", "- Fix the retry job", 'no due date: add one, e.g. "due 2026-12-16"'
    )

    verdict = check_sections(SECTIONS, RCA, ActionReading((CORRECTIVE, PREVENTIVE), (problem,)))

    assert not verdict.complete
    assert verdict.findings == ()
    assert verdict.action_problems == (problem,)
    assert describe_findings(verdict, RCA) == (
        '- Corrective actions: "- Fix the retry job" — no due date: add one, e.g. "due 2026-12-16"\n'
    )


def test_an_action_line_of_a_custom_section_is_named_by_its_title_from_the_rules_or_its_key() -> None:
    problem = ActionProblem("follow_ups", "- Call Lee", "no owner: add one")
    verdict = check_sections(SECTIONS, RCA, ActionReading((CORRECTIVE, PREVENTIVE), (problem,)))

    assert describe_findings(verdict) == '- Follow ups: "- Call Lee" — no owner: add one\n'


def test_a_missing_action_section_is_missing_not_no_actions() -> None:
    found = {key: text for key, text in SECTIONS.items() if key != "preventive_actions"}

    verdict = check_sections(found, RCA, ActionReading((CORRECTIVE,)))

    assert [(f.key, f.problem) for f in verdict.findings] == [("preventive_actions", "missing")]
