"""The layout holds (README: Architecture): rooms by role, small modules and functions, no re-exports.

The import rules between the rooms are import-linter's contracts in pyproject.toml,
run by ``make test``; these tests hold what import-linter cannot see.
``python -m tests.support.layout`` prints the figures.
"""

from __future__ import annotations

import statistics

from tests.support import layout

MAX_MODULE_LINES = 350
MAX_MEDIAN_MODULE_LINES = 120
MAX_FUNCTION_LINES = 60
MAX_COMPLEX_FUNCTIONS = 10  # radon grade C or worse


def test_pipeline_has_no_loose_modules_only_rooms_by_role():
    assert layout.loose_pipeline_modules() == []


def test_no_module_is_over_350_lines_and_the_median_is_at_most_120():
    sizes = layout.line_counts()
    assert {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES} == {}
    assert statistics.median(sizes.values()) <= MAX_MEDIAN_MODULE_LINES


def test_no_function_is_over_60_lines():
    long = [f"{f.path} {f.name}: {f.lines}" for f in layout.functions() if f.lines > MAX_FUNCTION_LINES]
    assert long == []


def test_at_most_ten_functions_are_complex_enough_for_radon_grade_c():
    complex_ = [
        f"{f.path} {f.name}: {f.complexity}" for f in layout.functions() if f.complexity >= layout.GRADE_C
    ]
    assert len(complex_) <= MAX_COMPLEX_FUNCTIONS, complex_


def test_every_name_is_imported_from_the_module_that_defines_it():
    assert layout.re_exported_imports() == []
    assert layout.modules_with_all() == []


def test_every_module_says_what_it_is_for():
    assert layout.modules_without_docstring() == []


def test_the_measures_see_what_they_measure():
    # The checks above would pass on an empty tree: make sure they read the real one.
    names = {f.name for f in layout.functions()}
    assert {"open_escalation", "answer", "choose_route", "classify"} <= names
    assert len(layout.line_counts()) > 80
