"""F12: duplicated or late chase timers (dramatiq #431).

Injected by hand on the real process, chase and send steps (SQLite and PostgreSQL, real
relay sink): two schedulers racing for the same due slots, each chase job run twice, a
scheduler down for hours, a second scheduler whose clock is an hour behind or ahead, and a
deadline that spans a daylight-saving change in the owner's business-hours calendar
(Europe/Berlin, Mon-Fri 09:00-18:00, from rules/examples/acme).

Invariants: I3 (at most one mail per escalation step, even when jobs run twice) and the F12
pass criterion: exactly one reminder per due slot, none missed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from pipeline.steps import chase as chasing
from pipeline.steps.send import send_claimed
from pipeline.store import chases
from tests.conftest import mail_fixture
from tests.integration.test_replies import DANA, PAT, SAM, make_life
from tests.support.db import scalar
from tests.support.life import Life
from tests.support.replies import parsed
from tests.support.rules import edit_rules
from tests.support.runners import settings_from

pytestmark = pytest.mark.integration

ALEX = "alex.vp@acme.test"
SLOTS = ["reminded", "reminded", "breached", "chased_up", "ladder_top_reached"]


@pytest.fixture
def life(database_url, redis_url, relay_sink, tmp_path):
    life = make_life(database_url, redis_url, relay_sink, tmp_path)
    life.deliver(mail_fixture("gmail-forward.eml"))
    life.new_mail(2)
    return life


def subjects(mails) -> list[tuple[str, str]]:
    return [(m.rcpt_tos[0], str(parsed(m.data)["Subject"])) for m in mails]


def chase_with_clock(life: Life, now: datetime) -> list[int]:
    """One tick of a scheduler whose clock reads ``now``, and its chase jobs, run here."""
    svc = replace(life.svc, clock=lambda: now)
    with svc.db.transaction() as conn:
        numbers = chases.claim_due(conn, now=now, lease=svc.lease)
    send_claimed(svc, life.app.transport(), chasing.chase_many(svc, numbers))  # type: ignore[attr-defined]
    return numbers


def steps(start: datetime, end: datetime, every: timedelta) -> Iterator[datetime]:
    while start <= end:
        yield start
        start += every


def chase_kinds(life: Life) -> list[str]:
    return [k for k in life.events() if k in {*SLOTS, "chase_missed"}]


def test_f12_a_scheduler_down_for_hours_catches_up_with_one_mail_for_the_current_slot(life):
    life.tick(hours=4, minutes=30)  # both reminders and the breach passed while nobody ticked
    life.chase()
    assert sorted(to for to, _ in subjects(life.new_mail(2))) == sorted([SAM, DANA])
    assert life.events().count("chase_missed") == 2
    assert "reminded" not in life.events()


def test_f12_two_schedulers_racing_claim_each_due_escalation_once(life, database_url):
    for n in range(2, 31):  # 29 more escalations, all with the 50% reminder due together
        raw = mail_fixture("gmail-forward.eml").replace(
            b"Message-ID: <", f"Message-ID: <race{n}.".encode(), 1
        )
        life.deliver(raw)
    life.new_mail(58)
    life.tick(hours=2)
    claims: list[list[int]] = []
    barrier = threading.Barrier(2)

    def scheduler() -> None:
        barrier.wait()
        with life.svc.db.transaction() as conn:
            claims.append(chases.claim_due(conn, now=life.now, lease=life.svc.lease))

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    claimed = [number for claim in claims for number in claim]
    assert sorted(claimed) == list(range(1, 31))  # every one once, by one scheduler or the other
    # Each chase job run twice (a redelivered message) still mails once per slot
    for _ in range(2):
        send_claimed(life.svc, life.app.transport(), chasing.chase_many(life.svc, claimed))
    reminders = [m for m in life.new_mail(30) if "Reminder" in str(parsed(m.data)["Subject"])]
    assert len(reminders) == 30 and life.new_mail() == []


def test_f12_the_chase_fired_twice_for_every_slot_mails_each_slot_once(life):
    # Given every chase job of the whole ladder delivered twice, the second after the lease ran out
    for minutes in (120, 96, 24, 120, 120):
        life.tick(minutes=minutes)
        for _ in range(2):
            send_claimed(life.svc, life.app.transport(), chasing.chase_many(life.svc, [1]))
            life.chase()
    # Then each slot mailed once: two reminders, the breach (Sam and Dana), one rung up, the top
    assert sorted(to for to, _ in subjects(life.new_mail())) == sorted([PAT, PAT, SAM, DANA, ALEX])
    assert chase_kinds(life) == SLOTS


@pytest.mark.parametrize("skew", [timedelta(hours=-1), timedelta(hours=1)], ids=["behind", "ahead"])
def test_f12_a_second_scheduler_an_hour_off_adds_no_reminder_and_loses_none(life, skew):
    # Given two schedulers ticking every 10 minutes, one of them an hour behind or ahead
    for now in steps(life.now, life.now + timedelta(hours=9), timedelta(minutes=10)):
        life.now = now
        life.chase()
        chase_with_clock(life, now + skew)
    # Then every slot of the ladder was mailed once, and none was skipped as missed
    recipients = sorted(to for to, _ in subjects(life.new_mail()))
    assert recipients == sorted([PAT, PAT, SAM, DANA, ALEX])
    assert chase_kinds(life) == SLOTS


# Pat works in Berlin, Mon-Fri 09:00-18:00. Each case opens a 4-business-hour billing deadline at
# 16:00 on the Friday before a daylight-saving change: 2 hours that Friday, 2 on Monday.
DST = {
    "autumn": (datetime(2026, 10, 23, 14, 0, tzinfo=UTC), datetime(2026, 10, 26, 10, 0, tzinfo=UTC)),
    "spring": (datetime(2026, 3, 27, 15, 0, tzinfo=UTC), datetime(2026, 3, 30, 9, 0, tzinfo=UTC)),
}


@pytest.mark.parametrize("change", sorted(DST))
def test_f12_a_deadline_across_a_daylight_saving_change_gives_one_reminder_per_slot(
    database_url, redis_url, relay_sink, tmp_path, change
):
    from workers.bootstrap import build

    opened, due = DST[change]
    env = make_life(database_url, redis_url, relay_sink, tmp_path).env
    edit_rules(tmp_path / "rules" / "routing.yaml", "deadline: 4h", 'deadline: "4 business hours"')
    life = Life(build(settings=settings_from(env)), relay_sink, database_url)
    life.now = opened
    life.deliver(mail_fixture("gmail-forward.eml"))
    life.new_mail(2)
    # The deadline is Monday 11:00 Berlin time, whatever the offset was on Friday
    deadline = scalar(life.url, "select deadline from escalations where id = 1")
    assert datetime.fromisoformat(str(deadline)).replace(tzinfo=UTC) == due
    # When a scheduler ticks every 15 minutes over the weekend until Monday's breach
    for now in steps(opened, due + timedelta(minutes=30), timedelta(minutes=15)):
        life.now = now
        life.chase()
    # Then two reminders and the breach, each once, none missed, the breach at the deadline
    recipients = sorted(to for to, _ in subjects(life.new_mail()))
    assert recipients == sorted([PAT, PAT, SAM, DANA])
    assert chase_kinds(life) == SLOTS[:3]
