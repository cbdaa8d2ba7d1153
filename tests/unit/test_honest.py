"""Honest numbers (pipeline/model/honest.py): Kaplan–Meier over every escalation, checked by hand."""

from __future__ import annotations

import statistics

import pytest

from pipeline.model.honest import (
    Measure,
    Observation,
    describe_measure,
    duration_words,
    kaplan_meier,
    km_quantile,
    measure,
)

H = 3600.0


def answered(hours: float, *, in_time: bool | None = True) -> Observation:
    return Observation(age=hours * H, happened=True, in_time=in_time, overdue_now=False)


def waiting(hours: float, *, overdue: bool = False) -> Observation:
    return Observation(age=hours * H, happened=False, in_time=None, overdue_now=overdue)


def assert_curve(curve: list[tuple[float, float]], expected: list[tuple[float, float]]) -> None:
    """Times exactly, survival to rounding: the hand computation is in fractions."""
    assert [t for t, _ in curve] == [t for t, _ in expected]
    assert [s for _, s in curve] == pytest.approx([s for _, s in expected])


# The hand-computed example: eight escalations, explanation deadline 4h each, now = the moment of counting.
#
#   escalation  age   explained?            in time?  overdue now?
#   A           1h    yes, after 1h         yes       -
#   B           2h    yes, after 2h         yes       -
#   C           2h    yes, after 2h         yes       -
#   D           5h    yes, after 5h         no        -
#   E           8h    yes, after 8h         no        -
#   F           3h    no: open for 3h       -         no (due at 4h: could still make it)
#   G          10h    no: open for 10h      -         yes
#   H          12h    no: open for 12h      -         yes
#
# Kaplan–Meier, S(t) = product over event times of (n - d) / n:
#
#   t     at risk n  explained d  censored  S(t)
#   1h    8          1            0         7/8                = 0.875
#   2h    7          2            0         7/8 · 5/7 = 5/8    = 0.625
#   3h    5          0            1 (F)     (no step)
#   5h    4          1            0         5/8 · 3/4 = 15/32  = 0.46875
#   8h    3          1            0         15/32 · 2/3 = 5/16 = 0.3125
#   10h   2          0            1 (G)     (no step)
#   12h   1          0            1 (H)     (no step)
#
#   p50 = first t with S(t) <= 0.5 = 5h;  p90 = first t with S(t) <= 0.1: never -> not reached yet.
#   Answered-only (the dishonest way): median of 1, 2, 2, 5, 8 = 2h; within deadline 3 of 5 = 60%.
#   Honest: within 3 (A, B, C); missed 4 (D, E late; G, H overdue unanswered); undecided 1 (F):
#   within deadline 3 of 7 decided = 42% (rounded down).
EXAMPLE = [
    answered(1),
    answered(2),
    answered(2),
    answered(5, in_time=False),
    answered(8, in_time=False),
    waiting(3),
    waiting(10, overdue=True),
    waiting(12, overdue=True),
]


# The two measures of the example, worked out by hand (the tables above); the integration
# test checks that the database path gives the same.
EXPLANATION_BY_HAND = Measure(
    count=8,
    happened=5,
    p50_seconds=5 * H,
    p90_seconds=None,
    within_deadline=3,
    missed_deadline=4,
    undecided=1,
    never=3,
    overdue_now=2,
)
ROOT_CAUSE_BY_HAND = Measure(
    count=8,
    happened=2,
    p50_seconds=None,
    p90_seconds=None,
    within_deadline=1,
    missed_deadline=2,
    undecided=5,
    never=6,
    overdue_now=1,
)


def test_the_kaplan_meier_curve_of_the_example_matches_the_hand_computation():
    assert_curve(kaplan_meier(EXAMPLE), [(1 * H, 7 / 8), (2 * H, 5 / 8), (5 * H, 15 / 32), (8 * H, 5 / 16)])


def test_the_median_counts_the_open_ones_and_p90_is_not_reached_yet():
    curve = kaplan_meier(EXAMPLE)
    assert km_quantile(curve, 0.5) == 5 * H
    assert km_quantile(curve, 0.9) is None


def test_the_answered_only_median_would_have_looked_better():
    naive = statistics.median(o.age for o in EXAMPLE if o.happened)
    assert naive == 2 * H
    assert measure(EXAMPLE).p50_seconds == 5 * H  # the open ones push the honest median out


def test_the_measure_of_the_example_matches_the_hand_computation():
    m = measure(EXAMPLE)
    assert m == EXPLANATION_BY_HAND
    assert m.share_within_deadline == pytest.approx(3 / 7)
    naive = sum(1 for o in EXAMPLE if o.in_time) / sum(1 for o in EXAMPLE if o.happened)
    assert naive == pytest.approx(3 / 5)  # what counting only the answered ones would claim


def test_the_example_is_described_in_one_honest_line():
    assert describe_measure("time to explanation", measure(EXAMPLE)) == (
        "time to explanation: p50 5h, p90 not reached yet (5 of 8 answered; 3 never answered, "
        "2 of them overdue now); within deadline 3 of 7 decided (42%)"
    )


# The same eight seen from the root cause (tests/integration/test_stats.py stores them):
#
#   escalation  state                  root cause?               in time?  overdue now?
#   A           closed                 yes, after 6h             yes       -
#   B           awaiting_approval      yes, after 10h            no        -
#   C           awaiting_root_cause    no: open for 30h          -         yes
#   D           awaiting_root_cause    no: open for 20h          -         no (due in 4h)
#   E           awaiting_root_cause    no: open for 16h          -         no (paused)
#   F, G, H     awaiting_explanation   no: open for 3h, 10h, 12h -         no: no root-cause deadline yet
#
#   t     at risk n  written up d  censored  S(t)
#   3h    8          0             1 (F)     (no step)
#   6h    7          1             0         6/7
#   10h   6          1             1 (G)     6/7 · 5/6 = 5/7   (G still at risk at 10h)
#   12h.. 4..1       0             H, E, D, C
#
#   p50, p90: not reached yet. within 1 (A); missed 2 (B late, C overdue); undecided 5 (D, E, F, G, H).
ROOT_CAUSE = [
    answered(6),
    answered(10, in_time=False),
    waiting(30, overdue=True),
    waiting(20),
    waiting(16),
    waiting(3),
    waiting(10),
    waiting(12),
]


def test_the_root_cause_example_matches_the_hand_computation():
    assert_curve(kaplan_meier(ROOT_CAUSE), [(6 * H, 6 / 7), (10 * H, 5 / 7)])
    assert measure(ROOT_CAUSE) == ROOT_CAUSE_BY_HAND
    assert statistics.median(o.age for o in ROOT_CAUSE if o.happened) == 8 * H  # answered-only: "8h"


def test_a_median_exactly_on_one_half_is_reached():
    # Explained after 1h, 2h, 2h, 5h; open at 3h and 10h.
    #   1h: 6 at risk, 1 explained -> 5/6;  2h: 5 at risk, 2 -> 5/6 · 3/5 = 1/2
    #   3h: censored;  5h: 2 at risk (5h, 10h), 1 -> 1/2 · 1/2 = 1/4;  10h: censored
    observations = [answered(1), answered(2), answered(2), answered(5), waiting(3), waiting(10)]
    curve = kaplan_meier(observations)
    assert_curve(curve, [(1 * H, 5 / 6), (2 * H, 1 / 2), (5 * H, 1 / 4)])
    assert km_quantile(curve, 0.5) == 2 * H
    assert km_quantile(curve, 0.75) == 5 * H
    assert km_quantile(curve, 0.9) is None


def test_an_open_one_censored_at_the_same_time_as_an_event_is_still_at_risk_then():
    # 1h: 3 at risk (the censored one too), 1 explained -> 2/3; 2h: 1 at risk, 1 -> 0.
    # Censoring first would give 1/2 at 1h.
    assert_curve(kaplan_meier([answered(1), waiting(1), answered(2)]), [(1 * H, 2 / 3), (2 * H, 0.0)])


def test_when_all_are_answered_the_percentiles_are_plain_and_p90_survives_rounding():
    curve = kaplan_meier([answered(hours) for hours in range(1, 11)])
    assert curve[-1] == (10 * H, 0.0)
    assert km_quantile(curve, 0.5) == 5 * H
    assert km_quantile(curve, 0.9) == 9 * H  # S(9h) = 0.1 in products of floats


def test_when_none_is_answered_nothing_is_reached():
    observations = [waiting(1), waiting(5, overdue=True)]
    assert kaplan_meier(observations) == []
    m = measure(observations)
    assert (m.p50_seconds, m.p90_seconds, m.happened, m.never) == (None, None, 0, 2)
    assert (m.within_deadline, m.missed_deadline, m.undecided) == (0, 1, 1)
    assert m.share_within_deadline == 0.0


def test_no_escalations_give_no_numbers():
    assert kaplan_meier([]) == []
    m = measure([])
    assert m == Measure(0, 0, None, None, 0, 0, 0, 0, 0)
    assert m.share_within_deadline is None
    assert (
        describe_measure("time to explanation", m)
        == "time to explanation: no escalations opened in the window"
    )


def test_an_unanswered_one_overdue_now_counts_as_missed_and_one_that_may_still_make_it_does_not():
    m = measure([answered(1), waiting(2, overdue=True), waiting(3)])
    assert (m.within_deadline, m.missed_deadline, m.undecided) == (1, 1, 1)
    assert m.share_within_deadline == 0.5


def test_an_answer_not_known_to_be_in_time_is_counted_on_neither_side():
    m = measure([answered(1, in_time=None), answered(2, in_time=True)])
    assert (m.within_deadline, m.missed_deadline, m.undecided) == (1, 0, 0)


def test_impossible_observations_and_quantiles_are_refused():
    with pytest.raises(ValueError, match="negative"):
        Observation(age=-1.0, happened=False, in_time=None, overdue_now=False)
    with pytest.raises(ValueError, match="overdue"):
        Observation(age=1.0, happened=True, in_time=False, overdue_now=True)
    with pytest.raises(ValueError, match="quantile"):
        km_quantile([], 0.0)


def test_durations_in_words_take_at_most_two_units_and_round_up():
    assert duration_words(45) == "45s"
    assert duration_words(0) == "0s"
    assert duration_words(59.2) == "1m"
    assert duration_words(12 * 60) == "12m"
    assert duration_words(12 * 60 + 1) == "13m"
    assert duration_words(3 * H + 10 * 60) == "3h 10m"
    assert duration_words(3 * H) == "3h"
    assert duration_words(H - 30) == "1h"
    assert duration_words(2 * 86400 + 4 * H) == "2d 4h"
    assert duration_words(2 * 86400 + 3 * H + 1) == "2d 4h"
    assert duration_words(86400 - 30) == "1d"


def test_describe_words_the_share_and_who_is_missing():
    m = Measure(
        count=12,
        happened=9,
        p50_seconds=3 * H + 10 * 60,
        p90_seconds=None,
        within_deadline=5,
        missed_deadline=3,
        undecided=1,
        never=3,
        overdue_now=2,
    )
    assert describe_measure("time to explanation", m) == (
        "time to explanation: p50 3h 10m, p90 not reached yet (9 of 12 answered; 3 never answered, "
        "2 of them overdue now); within deadline 5 of 8 decided (62%)"
    )
    all_in = measure([answered(1), answered(2, in_time=False)])
    assert describe_measure("time to root cause", all_in, done="written up") == (
        "time to root cause: p50 1h, p90 2h (2 of 2 written up); within deadline 1 of 2 decided (50%)"
    )
    undecided = measure([answered(1, in_time=None), waiting(2)])
    assert describe_measure("time to explanation", undecided) == (
        "time to explanation: p50 1h, p90 not reached yet (1 of 2 answered; 1 never answered, "
        "none overdue now); within deadline: none decided yet"
    )
