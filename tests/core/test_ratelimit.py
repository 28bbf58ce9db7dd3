"""Inbound rate limits: per key, exempt keys, and a shared bucket fair to quiet people."""

from __future__ import annotations

from univac.engine.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_key_gets_its_burst_then_its_rate() -> None:
    clock = Clock()
    limit = RateLimiter(1.0, 3, clock=clock)
    assert [limit.allow("alice") for _ in range(4)] == [True, True, True, False]
    clock.now = 1.0
    assert limit.allow("alice") and not limit.allow("alice")
    assert limit.allow("bob")


def test_exempt_keys_are_never_limited() -> None:
    limit = RateLimiter(1.0, 1, exempt=("console:*",), clock=Clock())
    assert all(limit.allow("console:ada") for _ in range(100))


def test_flooders_of_a_channel_leave_the_reserve_to_a_quiet_person() -> None:
    clock = Clock()
    channel = RateLimiter(2.0, 10, clock=clock, reserve=2)
    allowed = []
    for tick in range(40):  # four flooders, one message each every 0.1 s, for 4 s
        clock.now = tick / 10
        allowed += [channel.allow("irc:#ops", f"flooder{n}") for n in range(4)]
    assert sum(allowed) < 10 + 2 * 4  # the reserve is not theirs
    assert channel.allow("irc:#ops", "carol")  # quiet: answered at once
    assert not channel.allow("irc:#ops", "carol")  # ...once; now she is a taker too
    assert not channel.allow("irc:#ops", "flooder0")


def test_flooders_arriving_together_cannot_drain_what_a_newcomer_may_use() -> None:
    """Four flooders start at once, each new to the channel at its first command (so
    each may use the reserve once), each sending five at once (their own limit's
    burst); a person speaking 0.2 s later is still answered."""
    clock = Clock()
    channel = RateLimiter(2.0, 10, clock=clock, reserve=2)
    for n in range(4):
        for _ in range(5):
            channel.allow("irc:#ops", f"flooder{n}")
    clock.now = 0.2
    assert channel.allow("irc:#ops", "carol")
    assert not channel.allow("irc:#ops", "flooder3")  # the flooders wait for refills
    clock.now = 1.2  # two tokens refilled: they go to paying back what carol took
    assert not channel.allow("irc:#ops", "flooder3")


def test_without_a_reserve_the_shared_bucket_is_first_come() -> None:
    clock = Clock()
    channel = RateLimiter(2.0, 3, clock=clock)
    assert [channel.allow("c", "a") for _ in range(3)] == [True, True, True]
    assert not channel.allow("c", "b")
