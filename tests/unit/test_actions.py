"""Reading the actions of a writeup (pipeline/inbound/actions.py): what, owner and due date, or why not.

``today`` is fixed (Wednesday 2 December 2026); relative dates are computed from it.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import pytest

from pipeline.inbound.actions import read_actions, read_writeup_actions
from pipeline.model.action_items import ActionItem, ActionProblem, ActionReading
from rules.durations import parse_duration
from rules.loader import load_rules
from rules.schema import Person, RcaSection, Rules

ROOT = Path(__file__).resolve().parents[2]
ACME = load_rules(ROOT / "rules" / "examples" / "acme")
TODAY = date(2026, 12, 2)  # a Wednesday
WRITER = "Pat.Owner@acme.test"
PAT, SAM, ALEX = "pat.owner@acme.test", "sam.manager@acme.test", "alex.vp@acme.test"
LEE, ROBIN = "lee.logistics@acme.test", "robin.support@acme.test"
CORRECTIVE = next(section for section in ACME.rca.sections if section.key == "corrective_actions")
PREVENTIVE = next(section for section in ACME.rca.sections if section.key == "preventive_actions")


def read(text: str, rules: Rules = ACME, section: RcaSection = CORRECTIVE) -> ActionReading:
    return read_actions(text, section, writer=WRITER, rules=rules, today=TODAY)


def only_item(text: str, rules: Rules = ACME) -> ActionItem:
    reading = read(text, rules)
    assert reading.problems == ()
    assert len(reading.items) == 1
    return reading.items[0]


def only_problem(text: str, rules: Rules = ACME) -> ActionProblem:
    reading = read(text, rules)
    assert reading.items == ()
    assert len(reading.problems) == 1
    return reading.problems[0]


# Accepted lines: (line, owner, due, title or None when the title is not the point) -----------------

ACCEPTED = [
    ("- Add a run key to the invoice job — owner: pat.owner@acme.test — due 2026-12-20",
     PAT, date(2026, 12, 20), "Add a run key to the invoice job"),
    ("* Fix the retry job (Sam, 20 Dec)", SAM, date(2026, 12, 20), "Fix the retry job"),
    ("• Alert on duplicate charges; owner Lee Logistics; by Friday", LEE, date(2026, 12, 4),
     "Alert on duplicate charges"),
    ("1. Write to every affected customer — me — in 2 weeks", PAT, date(2026, 12, 16),
     "Write to every affected customer"),
    ("2) [ ] Add a contract test for timeouts, Alex, Dec 20", ALEX, date(2026, 12, 20),
     "Add a contract test for timeouts"),
    ("[x] Document the runbook - robin.support@acme.test - 20.12.2026", ROBIN, date(2026, 12, 20),
     "Document the runbook"),
    ("- [ ] Rotate the gateway keys — owner: SAM.MANAGER@ACME.TEST — due: 18 Dec", SAM, date(2026, 12, 18),
     "Rotate the gateway keys"),
    ("Sam to review the scheduler limits by next Friday", SAM, date(2026, 12, 4),
     "Review the scheduler limits"),
    ("I will update the dashboards bis 20. Dezember", PAT, date(2026, 12, 20), "Update the dashboards"),
    ("- Corriger le job — Responsable : Pat — échéance : 20 décembre", PAT, date(2026, 12, 20),
     "Corriger le job"),
    ("- Monitoring erweitern — Verantwortlich: Sam Manager — Fällig: 18.12.", SAM, date(2026, 12, 18),
     "Monitoring erweitern"),
    ("- Testfall ergänzen (Alex Vance, 15. Dezember)", ALEX, date(2026, 12, 15), "Testfall ergänzen"),
    ("- Ajouter une alerte — moi — 22 déc.", PAT, date(2026, 12, 22), "Ajouter une alerte"),
    ("- Ajouter un test d'intégration, Lee, avant le 23 décembre", LEE, date(2026, 12, 23),
     "Ajouter un test d'intégration"),
    ("- Rückfrage an den Anbieter — ich — bis nächsten Freitag", PAT, date(2026, 12, 4),
     "Rückfrage an den Anbieter"),
    ("- Prüfen der Limits — Pat — in 3 Wochen", PAT, date(2026, 12, 23), "Prüfen der Limits"),
    ("- Relancer le fournisseur — Sam — dans 2 semaines", SAM, date(2026, 12, 16), "Relancer le fournisseur"),
    ("- Renew the certificate — myself — tomorrow", PAT, date(2026, 12, 3), "Renew the certificate"),
    ("- Update the status page — Robin — next week", ROBIN, date(2026, 12, 9), "Update the status page"),
    ("- Tighten the alert threshold — @lee — Monday", LEE, date(2026, 12, 7), "Tighten the alert threshold"),
    ("- Add a dedupe check, owner: pat.owner, due Dec 21, 2026", PAT, date(2026, 12, 21),
     "Add a dedupe check"),
    ("- Backfill the missing refunds — Alex — 12/20", ALEX, date(2026, 12, 20),
     "Backfill the missing refunds"),
    ("- Retire the old cron entry — owner: me — due 1.1.2027", PAT, date(2027, 1, 1),
     "Retire the old cron entry"),
    ("- Share the postmortem — Sam — d'ici vendredi", SAM, date(2026, 12, 4), "Share the postmortem"),
    ("- Add capacity alarms — Lee — within 10 days", LEE, date(2026, 12, 12), "Add capacity alarms"),
    ("- Publish the customer FAQ — me — 2 Dec", PAT, date(2026, 12, 2), "Publish the customer FAQ"),
    ("- Cap retries at three per capture, owner Sam, 1 Jan", SAM, date(2027, 1, 1),
     "Cap retries at three per capture"),
    ("| Add idempotency key | pat.owner@acme.test | 2026-12-18 |", PAT, date(2026, 12, 18),
     "Add idempotency key"),
    ("Add an alert\tSam\tnext Friday", SAM, date(2026, 12, 4), "Add an alert"),
    ("- Review every retry policy — assigned to Robin Support — until 30 December", ROBIN,
     date(2026, 12, 30), "Review every retry policy"),
]  # fmt: skip


@pytest.mark.parametrize(("line", "owner", "due", "title"), ACCEPTED, ids=[case[0][:40] for case in ACCEPTED])
def test_an_action_line_in_a_form_people_write_is_accepted(
    line: str, owner: str, due: date, title: str
) -> None:
    item = only_item(line)

    assert (item.owner, item.due, item.title) == (owner, due, title)
    assert item.section == "corrective_actions"
    assert item.line == line.strip()


def test_there_are_at_least_thirty_accepted_forms() -> None:
    assert len(ACCEPTED) >= 30


def test_a_markdown_table_is_read_row_by_row_and_its_header_and_rule_are_skipped() -> None:
    text = """\
| What | Owner | Due |
|------|:-----:|-----|
| Add idempotency key | pat.owner@acme.test | 2026-12-18 |
| Alert on duplicate captures | Sam | next Friday |
"""
    reading = read(text)

    assert reading.problems == ()
    assert [(i.title, i.owner, i.due) for i in reading.items] == [
        ("Add idempotency key", PAT, date(2026, 12, 18)),
        ("Alert on duplicate captures", SAM, date(2026, 12, 4)),
    ]


def test_a_tab_separated_table_with_a_german_header_names_its_columns() -> None:
    text = "Maßnahme\tVerantwortlich\tFällig\nTestfall ergänzen\tLee\t20.12.2026\n"

    assert [(i.title, i.owner, i.due) for i in read(text).items] == [
        ("Testfall ergänzen", LEE, date(2026, 12, 20))
    ]


def test_a_header_column_for_the_owner_left_empty_refuses_the_row_for_lack_of_an_owner() -> None:
    text = "| Action | Owner | Due |\n|---|---|---|\n| Add idempotency key |  | 2026-12-18 |\n"

    assert only_problem(text).reason.startswith("no owner:")


def test_owner_and_due_on_separate_lines_under_the_action_belong_to_it() -> None:
    text = "- Rewrite the billing retries\n  Owner: Lee\n  Due: 15 Dec\n"

    item = only_item(text)

    assert (item.title, item.owner, item.due) == ("Rewrite the billing retries", LEE, date(2026, 12, 15))
    assert item.line == "- Rewrite the billing retries / Owner: Lee / Due: 15 Dec"


@pytest.mark.parametrize(
    ("text", "owner", "due"),
    [
        ("Maßnahme: Limits prüfen\nVerantwortlich: Sam\nFällig: 20. Dezember\n", SAM, date(2026, 12, 20)),
        (
            "Action : Corriger le job\nResponsable : Robin\nÉchéance : 20 décembre\n",
            ROBIN,
            date(2026, 12, 20),
        ),
        ("- Add the alarm\n  - Owner: alex.vp@acme.test\n  - Due: in 1 week\n", ALEX, date(2026, 12, 9)),
    ],
)
def test_labelled_owner_and_due_lines_in_german_french_and_as_sub_bullets(
    text: str, owner: str, due: date
) -> None:
    item = only_item(text)

    assert (item.owner, item.due) == (owner, due)
    assert item.title in {"Limits prüfen", "Corriger le job", "Add the alarm"}


def test_an_indented_line_under_a_bullet_continues_it() -> None:
    text = "- Add a key to the job so a retry\n  cannot bill twice — owner: pat — due 18 Dec\n"

    item = only_item(text)

    assert item.title == "Add a key to the job so a retry cannot bill twice"
    assert item.due == date(2026, 12, 18)


def test_several_actions_keep_their_order_and_the_bad_ones_are_refused_beside_the_good_ones() -> None:
    text = "- Fix the retry job — Sam — 20 Dec\n- Fix the scheduler\n- Add alerts — Lee — 21 Dec\n"

    reading = read(text)

    assert [item.title for item in reading.items] == ["Fix the retry job", "Add alerts"]
    assert [problem.line for problem in reading.problems] == ["- Fix the scheduler"]


# Refused lines -----------------------------------------------------------------------------------------

REFUSED = [
    ("- Fix the retry job — due 20 Dec",
     "no owner: add the owner's address, e.g. \"owner: pat.owner@acme.test\""),
    ("- Fix it — owner: lee@x.test — due 20 Dec", "owner lee@x.test is not in people.yaml"),
    ("- Fix it — owner: Bobby — due 20 Dec", "owner Bobby is not in people.yaml"),
    ("- Fix it — owner: pat.ownr@acme.test — due 20 Dec",
     "owner pat.ownr@acme.test is not in people.yaml: did you mean pat.owner@acme.test?"),
    ("- Fix the retry job — owner: Pat", 'no due date: add one, e.g. "due 2026-12-16"'),
    ("- Fix the retry job — Sam — 1 Dec",
     "due date 2026-12-01 is in the past: give a date from 2026-12-02 on"),
    ("- Fix the retry job — Sam — 2026-11-30", "due date 2026-11-30 is in the past"),
    ("- Fix the retry job — Sam — 15 Feb",
     "due date 2027-02-15 is more than 30d ahead: give a date by 2027-01-01"),
    ("- owner: pat, due 20 Dec", "no action: say what will be done"),
    ("- Fix the thing", "no owner:"),
    ("- Raise the retry limit to 10 — Sam", "no due date:"),
    ("- Fix the job — Sam — in May", "no due date:"),
    ("- Fix the job — Lee — 31.02.2027", "no due date:"),
]  # fmt: skip


@pytest.mark.parametrize(("line", "reason"), REFUSED, ids=[case[0][:40] for case in REFUSED])
def test_a_line_that_is_no_trackable_action_is_refused_with_the_reason_and_the_fix(
    line: str, reason: str
) -> None:
    problem = only_problem(line)

    assert problem.reason.startswith(reason)
    assert (problem.section, problem.line) == ("corrective_actions", line)


def test_there_are_at_least_ten_refused_forms() -> None:
    assert len(REFUSED) >= 10


def _with_second_pat() -> Rules:
    other = Person("pat.smith@acme.test", "Pat Smith", None, "Europe/Berlin", None)
    return dataclasses.replace(ACME, people={**ACME.people, other.email: other})


def test_a_first_name_two_people_share_is_refused_as_ambiguous_naming_both() -> None:
    problem = only_problem("- Fix the retry job — Pat — 20 Dec", _with_second_pat())

    assert problem.reason == (
        'owner "Pat" could be pat.owner@acme.test or pat.smith@acme.test: write the address'
    )


def test_a_full_name_still_resolves_when_the_first_name_is_shared() -> None:
    item = only_item("- Fix the retry job — Pat Smith — 20 Dec", _with_second_pat())

    assert item.owner == "pat.smith@acme.test"


def test_max_due_in_business_days_counts_weekdays() -> None:
    rca = dataclasses.replace(
        ACME.rca, actions=dataclasses.replace(ACME.rca.actions, max_due=parse_duration("5 business days"))
    )
    rules = dataclasses.replace(ACME, rca=rca)

    assert only_item("- Fix it — Sam — 9 Dec", rules).due == date(2026, 12, 9)  # Wed + 5 weekdays
    assert only_problem("- Fix it — Sam — 10 Dec", rules).reason.startswith(
        "due date 2026-12-10 is more than"
    )


# Lines that are no actions -----------------------------------------------------------------------------


def test_blank_lines_headings_intros_and_placeholders_are_neither_actions_nor_problems() -> None:
    text = "We agreed on these:\n\n## Now\nnone\n- n/a\nTBD\n"

    assert read(text) == ActionReading()


# Every action section of a writeup ---------------------------------------------------------------------


def test_read_writeup_actions_reads_every_action_section_in_rca_order() -> None:
    found = {
        "preventive_actions": "- Add a contract test — Alex — 20 Dec",
        "root_cause": "- Not an action — Sam — 20 Dec",
        "corrective_actions": "- Refund the second charges — me — tomorrow\n- Call them",
    }

    reading = read_writeup_actions(found, ACME, writer=WRITER, today=TODAY)

    assert [(i.section, i.title) for i in reading.items] == [
        ("corrective_actions", "Refund the second charges"),
        ("preventive_actions", "Add a contract test"),
    ]
    assert [(p.section, p.line) for p in reading.problems] == [("corrective_actions", "- Call them")]


def test_a_section_of_kind_actions_under_any_key_is_read() -> None:
    section = RcaSection("follow_ups", "Follow-ups", (), 3, "actions")
    rules = dataclasses.replace(ACME, rca=dataclasses.replace(ACME.rca, sections=(section,)))

    reading = read_writeup_actions({"follow_ups": "- Fix — Sam — 20 Dec"}, rules, writer=WRITER, today=TODAY)

    assert [(i.section, i.owner) for i in reading.items] == [("follow_ups", SAM)]
    assert PREVENTIVE.kind == "actions"
