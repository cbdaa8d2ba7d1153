"""F26, short: three minutes of the nemesis soak (bench/soak.py) in `make test`, and the history holds.

The same run as the bench's hour, on SQLite, with a fault every 8–12 s so that three
minutes meet every kind the nemesis has. Memory figures need the hour; they are printed by
the bench, not asserted here.
"""

from __future__ import annotations

import pytest

from tests.support.nemesis import KINDS
from tests.support.soak import soak

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(900)
def test_f26_three_minutes_of_nemesis_lose_nothing_send_nothing_twice_and_answer_no_machine(tmp_path):
    report = soak(
        tmp_path, f"sqlite:///{tmp_path / 'qmark.db'}", minutes=3, rate=1.0, seed=26, gap=(8.0, 12.0)
    )
    verdict, history = report.verdict, report.verdict.history
    assert report.drained, "the mail did not drain after the nemesis stopped"
    assert verdict.problems == []
    assert set(report.injected) == set(KINDS), report.injected
    assert history.lost == 0 and history.different_id_duplicates == 0
    assert history.resends <= history.in_flight
    assert verdict.refused_5xx == 0
    # The run did what it says: forwards became escalations, writeups closed some, machines answered
    assert history.escalations == verdict.answered_by_kind["forward"] >= 150
    assert verdict.closed > 0 and verdict.answered_by_kind["writeup"] > 0
    assert verdict.outcomes["bounce->machine"] > 0 and verdict.outcomes["out_of_office->machine"] > 0
    assert report.dead_letters_replayed > 0  # the 5xx spell left mail that ops replayed
