"""The SMTP edge's per-peer command meter (workers/roles/smtp_edge.CommandRate), on a fake clock."""

from __future__ import annotations

from workers.roles.smtp_edge import CommandRate


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_peer_gets_a_burst_of_the_per_minute_figure_then_waits_for_the_refill():
    clock = Clock()
    rate = CommandRate(60, clock=clock)
    assert rate.take("192.0.2.1", 60)
    assert not rate.take("192.0.2.1")
    clock.now += 1.0  # one command a second comes back
    assert rate.take("192.0.2.1")
    assert not rate.take("192.0.2.1")


def test_peers_are_metered_apart():
    rate = CommandRate(3, clock=Clock())
    assert rate.take("192.0.2.1", 3)
    assert not rate.take("192.0.2.1")
    assert rate.take("192.0.2.2", 3)


def test_a_refused_take_spends_nothing_and_a_refilled_bucket_is_forgotten():
    clock = Clock()
    rate = CommandRate(60, clock=clock)
    assert rate.take("192.0.2.1", 50)
    assert not rate.take("192.0.2.1", 11)  # 10 left: refused, and nothing spent
    assert rate.take("192.0.2.1", 10)
    clock.now += 120.0
    assert rate.take("192.0.2.2")  # the sweep forgets 192.0.2.1's bucket: it had refilled
    assert rate._buckets.keys() == {"192.0.2.2"}
    assert rate.take("192.0.2.1", 60)
