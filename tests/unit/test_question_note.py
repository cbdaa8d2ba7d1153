"""What counts as an executive's "?" note, and what is kept as their comment."""

import pytest

from pipeline.inbound.question import split_question


@pytest.mark.parametrize("note", ["?", "??", "?!", "? ", "\n\n?\n", "？"])
def test_bare_question_marks_are_escalations_without_comment(note):
    assert split_question(note) == (True, "")


def test_a_signature_below_the_question_mark_is_not_a_comment():
    assert split_question("? \n-- \nDana Chief\nCEO, Acme") == (True, "")
    assert split_question("?\n\nDana Chief\nCEO") == (True, "")
    assert split_question("?\nDana Chief\nCEO", ("Dana Chief", "Dana")) == (True, "")
    assert split_question("?\nSent from my iPhone") == (True, "")


def test_text_after_the_question_mark_is_kept_as_the_comment():
    assert split_question("? this is the third time this month") == (
        True,
        "this is the third time this month",
    )
    assert split_question("?? why\nagain?\n\n--\nDana") == (True, "why again?")


@pytest.mark.parametrize("note", ["FYI, see below", "", "Can you look? ?", "see below ?"])
def test_anything_else_is_not_an_escalation(note):
    assert split_question(note)[0] is False
