"""Parsing and checking a root-cause writeup against the rca rules.

pipeline/inbound/writeup.py reads it, pipeline/model/rootcause.py judges it.
"""

from __future__ import annotations

import textwrap
from dataclasses import replace
from pathlib import Path
from string import Template

import pytest

from pipeline.inbound.writeup import check_writeup, parse_writeup
from pipeline.model.rootcause import (
    Finding,
    WriteupCheck,
    check_sections,
    describe_findings,
    merge_sections,
    render_sections,
)
from rules.durations import Duration
from rules.loader import load_rules
from rules.schema import RcaRules, RcaSection

ROOT = Path(__file__).resolve().parents[2]
_EXAMPLE = load_rules(ROOT / "rules" / "examples" / "acme").rca
# The five default sections, judged by their words: the reader is what these tests are about. The
# example's detection section and the action lines are test_writeup_verdicts.py's and test_actions.py's.
ACME = replace(
    _EXAMPLE,
    sections=tuple(replace(s, kind="text") for s in _EXAMPLE.sections if s.key != "detection"),
)

WHAT = "The nightly invoice job ran twice because the scheduler retried it after a timeout."
IMPACT = "About 120 customers received two invoices each."
ROOT_CAUSE = (
    "Why twice? The scheduler retried. Why retry? The job timed out. "
    "Why timeout? The limit was set for a tenth of today's volume."
)
CORRECTIVE = "We voided the duplicate invoices and wrote to every affected customer today."
PREVENTIVE = "The job now takes a run key, so a retry cannot bill twice; we alert on duplicates."
FILLED = {
    "what_happened": WHAT,
    "impact": IMPACT,
    "root_cause": ROOT_CAUSE,
    "corrective_actions": CORRECTIVE,
    "preventive_actions": PREVENTIVE,
}


def _empty_template(rca: RcaRules = ACME) -> str:
    """The template exactly as qmark writes it into the owner's forward."""
    return "".join(f"## {section.title}\n\n" for section in rca.sections)


def _quoted(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.splitlines()) + "\n"


def _forward(rca: RcaRules = ACME) -> str:
    """qmark's whole forward to the owner, as an owner's mail client would quote it."""
    template = Template((ROOT / "pipeline" / "outbound" / "templates" / "owner_forward.txt").read_text())
    return template.safe_substitute(
        rca_template=_empty_template(rca),
        complaint_body="Summary: you billed me twice this month and nobody answers my calls.",
    )


# Recognising sections --------------------------------------------------------------------------------


def test_a_complete_writeup_with_title_lines_is_complete() -> None:
    text = f"""\
        What happened: {WHAT}
        Impact: {IMPACT}
        Root cause (five whys): {ROOT_CAUSE}
        Corrective actions:
        {CORRECTIVE}
        Preventive actions:
        {PREVENTIVE}
        """

    verdict = check_writeup(textwrap.dedent(text), ACME)

    assert verdict == WriteupCheck(complete=True, findings=(), sections=FILLED)


def test_the_same_writeup_with_markdown_headings_is_complete() -> None:
    text = f"""\
        # What happened

        {WHAT}

        ## Impact:
        {IMPACT}

        ### Root cause (five whys)

        {ROOT_CAUSE}

        ## Corrective actions ##

        {CORRECTIVE}

        ## Preventive actions

        {PREVENTIVE}
        """

    verdict = check_writeup(textwrap.dedent(text), ACME)

    assert verdict.complete
    assert verdict.sections == FILLED


def test_aliases_match_in_any_case_with_numbering_bold_and_without_the_parenthetical() -> None:
    text = f"""\
        **1. SUMMARY:** {WHAT}
        2) customer IMPACT: {IMPACT}
        ROOT CAUSE:
        {ROOT_CAUSE}
        __Fix__
        {CORRECTIVE}
        ## 5 whys
        (5) follow-ups: {PREVENTIVE}
        """

    found = parse_writeup(textwrap.dedent(text), ACME.sections)

    assert found == {
        "what_happened": WHAT,
        "impact": IMPACT,
        "root_cause": ROOT_CAUSE,
        "corrective_actions": CORRECTIVE,
        "preventive_actions": PREVENTIVE,
    }


def test_a_section_started_twice_joins_both_parts_in_order() -> None:
    text = "Root cause: the retry.\n\n## Five whys\n1. Why? A timeout.\n"

    assert parse_writeup(text, ACME.sections) == {"root_cause": "the retry.\n\n1. Why? A timeout."}


def test_unknown_headings_and_prose_with_colons_inside_a_section_are_just_text() -> None:
    text = "## Impact\nTimeline:\n10:30 first invoice\n## Details\nThe fix: restart.\n"

    assert parse_writeup(text, ACME.sections) == {
        "impact": "Timeline:\n10:30 first invoice\n## Details\nThe fix: restart."
    }


def test_text_before_the_first_section_is_not_part_of_any_section() -> None:
    text = "Hi Dana, as promised, the writeup follows.\n\nImpact: a few customers.\n"

    assert parse_writeup(text, ACME.sections) == {"impact": "a few customers."}


# Quoted replies ------------------------------------------------------------------------------------------


def test_a_filled_in_template_above_the_quoted_empty_template_counts() -> None:
    # Given the owner filled the template in their reply, with qmark's forward quoted below
    own = "".join(f"## {section.title}\n\n{FILLED[section.key]}\n\n" for section in ACME.sections)
    reply = f"{own}Pat\n\nOn Tue, 3 Jun 2025 at 10:00, qmark <escalations@acme.test> wrote:\n"
    reply += _quoted(_forward())

    # When it is checked
    verdict = check_writeup(reply, ACME)

    # Then the quoted empty headings do not override the owner's sections
    assert verdict.complete
    assert verdict.sections["what_happened"] == WHAT
    assert verdict.sections["preventive_actions"] == f"{PREVENTIVE}\n\nPat"


def test_answers_typed_inline_under_the_quoted_headings_count_and_the_rest_is_missing() -> None:
    # Given the owner typed under two of the quoted headings, quoting everything else
    quoted = _quoted(_forward())
    quoted = quoted.replace("> ## Impact\n>\n", f"> ## Impact\n>\n{IMPACT}\n\n")
    quoted = quoted.replace("> ## Corrective actions\n>\n", f"> ## Corrective actions\n>\n{CORRECTIVE}\n")
    reply = "Answers inline.\n\nOn Tue, 3 Jun 2025 at 10:00, qmark <escalations@acme.test> wrote:\n" + quoted

    # When it is checked
    verdict = check_writeup(reply, ACME)

    # Then only the owner's words count: the quoted complaint and template text do not
    assert verdict.sections == {
        "what_happened": "",
        "impact": IMPACT,
        "root_cause": "",
        "corrective_actions": CORRECTIVE,
        "preventive_actions": "",
    }
    assert [(f.key, f.problem) for f in verdict.findings] == [
        ("what_happened", "missing"),
        ("root_cause", "missing"),
        ("preventive_actions", "missing"),
    ]


def test_a_writeup_quoted_whole_is_read_from_the_quotes_at_any_depth() -> None:
    text = textwrap.dedent(f"""\
        Forwarding the writeup Sam wrote, see below.

        > What happened: {WHAT}
        >> Impact: {IMPACT}
        >Root cause: {ROOT_CAUSE}
        > > Corrective actions: {CORRECTIVE}
        > Preventive actions:
        > {PREVENTIVE}
        """)

    verdict = check_writeup(text, ACME)

    assert verdict.complete
    assert verdict.sections == FILLED


def test_an_untouched_quoted_forward_has_every_section_missing_not_the_template_text() -> None:
    reply = "I will send it on Friday.\n\nOn Tue, qmark wrote:\n" + _quoted(_forward())

    verdict = check_writeup(reply, ACME)

    assert [f.problem for f in verdict.findings] == ["missing"] * 5
    assert "attached" not in verdict.sections["preventive_actions"]


def test_an_unquoted_original_below_an_outlook_separator_adds_nothing_to_the_writeup() -> None:
    # Given an Outlook top-post: the owner's text, then qmark's forward unquoted below
    reply = f"What happened: the job ran twice.\n\n________________________________\n{_forward()}"

    # When it is checked
    verdict = check_writeup(reply, ACME)

    # Then the customer's "Summary:" line in the complaint does not pad the owner's section
    assert verdict.sections == {"what_happened": "the job ran twice."}
    assert verdict.findings[0] == Finding("what_happened", "What happened", "too_thin", 4, 10)


@pytest.mark.parametrize(
    "separator",
    [
        "On Tue, 3 Jun 2025 at 10:00, qmark <escalations@acme.test> wrote:",
        "On Tue, 3 Jun 2025 at 10:00, qmark Escalations\n<escalations@acme.test> wrote:",
        "-----Original Message-----",
        "________________________________",
        "From: qmark <escalations@acme.test>\nSent: Tuesday, 3 June 2025 10:00\nTo: Pat Owner",
        "-- \nPat Owner, Billing",
    ],
)
def test_a_reply_separator_ends_the_last_section(separator: str) -> None:
    text = f"Preventive actions: {PREVENTIVE}\n\n{separator}\nSubject: [Q-12] the whole story below\n"

    assert parse_writeup(text, ACME.sections) == {"preventive_actions": PREVENTIVE}


# Checking --------------------------------------------------------------------------------------------------


def test_a_thin_section_is_named_with_its_word_count() -> None:
    text = "\n".join(f"{s.title}: {FILLED[s.key]}" for s in ACME.sections if s.key != "impact")
    text += "\nImpact: two — customers, billed.\n"

    verdict = check_writeup(text, ACME)

    assert verdict.findings == (Finding("impact", "Impact", "too_thin", 3, 5),)
    assert not verdict.complete


@pytest.mark.parametrize(
    "placeholder",
    [
        "TBD",
        "tbd.",
        "n/a",
        "N/A",
        "-",
        "--",
        "...",
        "see above",
        "Same as above.",
        "todo",
        "TBA",
        "None",
        "**TBD**",
    ],
)
def test_a_section_that_is_only_a_placeholder_is_flagged(placeholder: str) -> None:
    text = f"Impact:\n{placeholder}\n"

    finding = check_writeup(text, ACME).findings[1]

    assert finding == Finding("impact", "Impact", "placeholder", 0, 5)


def test_a_placeholder_word_inside_real_text_counts_as_a_word() -> None:
    text = "Impact: TBD, n/a\n"

    findings = check_writeup(text, ACME).findings

    assert Finding("impact", "Impact", "too_thin", 2, 5) in findings


def test_missing_sections_are_listed_in_rca_order_whatever_the_writeup_order() -> None:
    text = f"Preventive actions: {PREVENTIVE}\nImpact: {IMPACT}\n"

    verdict = check_writeup(text, ACME)

    assert [(f.key, f.problem) for f in verdict.findings] == [
        ("what_happened", "missing"),
        ("root_cause", "missing"),
        ("corrective_actions", "missing"),
    ]


def test_an_empty_body_has_every_section_missing() -> None:
    verdict = check_writeup("", ACME)

    assert not verdict.complete
    assert verdict.sections == {}
    assert verdict.findings == tuple(
        Finding(s.key, s.title, "missing", 0, s.min_words) for s in ACME.sections
    )


def test_a_custom_rca_uses_its_own_titles_aliases_and_word_counts() -> None:
    rca = RcaRules(
        policy="executive_approves",
        deadline=Duration("1d", seconds=86400),
        sections=(
            RcaSection("timeline", "Timeline (UTC)", ("Sequence of events",), 3),
            RcaSection("lessons", "Lessons learned", ("Learnings",), 4),
        ),
    )
    text = "SEQUENCE OF EVENTS: 10:00 deploy, 10:05 alarm\n### Learnings:\nTBD\n"

    verdict = check_writeup(text, rca)

    assert verdict.findings == (Finding("lessons", "Lessons learned", "placeholder", 0, 4),)
    assert describe_findings(verdict) == '- Lessons learned: only a placeholder ("TBD")\n'


# Describing -------------------------------------------------------------------------------------------------


def test_describe_lists_a_mixed_verdict_in_rca_order() -> None:
    text = textwrap.dedent(f"""\
        Corrective actions: TBD
        Impact: three customers were double-billed
        What happened: {WHAT}
        Preventive actions: n/a
        """)

    assert describe_findings(check_writeup(text, ACME)) == (
        "- Impact: too thin (4 of 5 words)\n"
        "- Root cause (five whys): missing\n"
        '- Corrective actions: only a placeholder ("TBD")\n'
        '- Preventive actions: only a placeholder ("n/a")\n'
    )


def test_describe_is_empty_for_a_complete_writeup() -> None:
    text = "\n".join(f"## {s.title}\n{FILLED[s.key]}" for s in ACME.sections)

    assert describe_findings(check_writeup(text, ACME)) == ""


def test_a_verdict_is_hashable_and_its_sections_read_only() -> None:
    verdict = check_writeup(f"Impact: {IMPACT}", ACME)

    assert hash(verdict) == hash(check_writeup(f"Impact: {IMPACT}", ACME))
    with pytest.raises(TypeError):
        verdict.sections["impact"] = "changed"  # type: ignore[index]


# Checking parsed sections -------------------------------------------------------------------------------


def test_check_sections_judges_a_mapping_as_check_writeup_judges_the_text_it_parses() -> None:
    text = f"Corrective actions: TBD\nImpact: three customers were double-billed\nWhat happened: {WHAT}\n"

    assert check_sections(parse_writeup(text, ACME.sections), ACME) == check_writeup(text, ACME)


def test_check_sections_of_a_complete_mapping_is_complete_and_keeps_a_read_only_copy() -> None:
    found = dict(FILLED)

    verdict = check_sections(found, ACME)
    found["impact"] = "changed"

    assert verdict == WriteupCheck(complete=True, findings=(), sections=FILLED)
    with pytest.raises(TypeError):
        verdict.sections["impact"] = "changed"  # type: ignore[index]


def test_check_sections_lists_findings_in_rca_order_whatever_the_mapping_order() -> None:
    found = {"preventive_actions": "n/a", "impact": "two customers", "what_happened": WHAT}

    verdict = check_sections(found, ACME)

    assert verdict.findings == (
        Finding("impact", "Impact", "too_thin", 2, 5),
        Finding("root_cause", "Root cause (five whys)", "missing", 0, 10),
        Finding("corrective_actions", "Corrective actions", "missing", 0, 10),
        Finding("preventive_actions", "Preventive actions", "placeholder", 0, 10),
    )


# Merging a writeup sent over several mails ----------------------------------------------------------------

THIN_IMPACT = "two customers"
LONGER_THIN_IMPACT = "two customers, double billed"
OTHER_IMPACT = "About 80 customers in Germany were billed twice in November."


@pytest.mark.parametrize(
    ("earlier", "newer", "kept"),
    [
        (None, IMPACT, IMPACT),
        (IMPACT, None, IMPACT),
        (IMPACT, "", IMPACT),
        (IMPACT, "TBD", IMPACT),
        (IMPACT, THIN_IMPACT, IMPACT),
        (IMPACT, OTHER_IMPACT, OTHER_IMPACT),
        ("", THIN_IMPACT, THIN_IMPACT),
        ("", "TBD", "TBD"),
        ("TBD", "", "TBD"),
        ("TBD", "n/a", "n/a"),
        ("TBD", THIN_IMPACT, THIN_IMPACT),
        (THIN_IMPACT, "TBD", THIN_IMPACT),
        (THIN_IMPACT, LONGER_THIN_IMPACT, LONGER_THIN_IMPACT),
        (LONGER_THIN_IMPACT, THIN_IMPACT, LONGER_THIN_IMPACT),
        (THIN_IMPACT, IMPACT, IMPACT),
    ],
    ids=[
        "a new section is added",
        "a section absent from the newer mail is kept",
        "an empty newer section does not undo text",
        "a newer placeholder does not undo text",
        "a thin newer section does not undo a complete one",
        "a complete newer section replaces a complete one",
        "a thin newer section replaces an empty one",
        "a newer placeholder replaces an empty one",
        "an empty newer section does not undo a placeholder",
        "a newer placeholder replaces a placeholder",
        "a thin newer section replaces a placeholder",
        "a newer placeholder does not undo a thin section",
        "a longer thin newer section replaces a shorter one",
        "a shorter thin newer section does not undo a longer one",
        "a complete newer section replaces a thin one",
    ],
)
def test_merge_keeps_the_better_of_two_versions_of_a_section(
    earlier: str | None, newer: str | None, kept: str
) -> None:
    old = {} if earlier is None else {"impact": earlier}
    new = {} if newer is None else {"impact": newer}

    assert merge_sections(old, new, ACME) == {"impact": kept}


def test_a_writeup_completed_over_two_mails_is_complete_once_merged() -> None:
    # Given a first mail with three sections (one thin) and a second with the rest
    first = check_writeup(f"What happened: {WHAT}\nImpact: {THIN_IMPACT}\nRoot cause: {ROOT_CAUSE}\n", ACME)
    second = check_writeup(
        f"Impact: {IMPACT}\nCorrective actions: {CORRECTIVE}\nPreventive actions: {PREVENTIVE}\n", ACME
    )
    assert not first.complete and not second.complete

    # When they are merged
    merged = merge_sections(first.sections, second.sections, ACME)

    # Then the writeup is whole, in rca order
    assert list(merged) == [section.key for section in ACME.sections]
    assert merged == FILLED
    assert check_sections(merged, ACME).complete


def test_merge_returns_rca_order_and_drops_keys_that_are_no_rca_section() -> None:
    earlier = {"preventive_actions": PREVENTIVE, "notes": "internal only"}
    newer = {"impact": IMPACT, "what_happened": WHAT, "timeline": "10:00 deploy"}

    merged = merge_sections(earlier, newer, ACME)

    assert list(merged.items()) == [
        ("what_happened", WHAT),
        ("impact", IMPACT),
        ("preventive_actions", PREVENTIVE),
    ]


# Rendering ------------------------------------------------------------------------------------------------


def test_render_gives_titles_and_texts_in_rca_order_and_leaves_out_empty_sections() -> None:
    found = {"preventive_actions": PREVENTIVE, "root_cause": "", "impact": "TBD", "what_happened": WHAT}

    assert render_sections(found, ACME) == [
        ("What happened", WHAT),
        ("Impact", "TBD"),
        ("Preventive actions", PREVENTIVE),
    ]


def test_render_of_a_parsed_complete_writeup_shows_every_section_with_its_rca_title() -> None:
    text = "\n".join(f"## {s.aliases[0]}\n{FILLED[s.key]}" for s in reversed(ACME.sections))

    rendered = render_sections(check_writeup(text, ACME).sections, ACME)

    assert rendered == [(s.title, FILLED[s.key]) for s in ACME.sections]
