"""Backoff: doubling to a cap, one jitter formula, reset after a healthy time."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from univac import Backoff


def test_delays_double_from_the_base_up_to_the_cap() -> None:
    backoff = Backoff(1.0, 10.0, rng=lambda: 0.0)
    assert [backoff.failed() for _ in range(6)] == [1, 2, 4, 8, 10, 10]
    assert backoff.failures == 6


def test_jitter_takes_up_to_its_fraction_off_the_ceiling() -> None:
    assert Backoff(8.0, 8.0, rng=lambda: 1.0).failed() == 4.0  # equal jitter: half random
    assert Backoff(8.0, 8.0, jitter=0.25, rng=lambda: 1.0).failed() == 6.0
    assert Backoff(8.0, 8.0, jitter=0.0, rng=lambda: 1.0).failed() == 8.0


def test_reset_starts_again_from_the_base() -> None:
    backoff = Backoff(2.0, 100.0, rng=lambda: 0.0)
    backoff.failed()
    backoff.failed()
    backoff.reset()
    assert (backoff.failures, backoff.failed()) == (0, 2.0)


def test_a_healthy_run_resets_the_count_at_the_next_failure() -> None:
    now = [0.0]
    backoff = Backoff(1.0, 60.0, healthy_after_s=30.0, rng=lambda: 0.0, clock=lambda: now[0])
    assert [backoff.failed() for _ in range(3)] == [1, 2, 4]
    backoff.started()
    now[0] = 29.0
    assert backoff.failed() == 8  # up, but not long enough
    backoff.started(at=100.0)
    assert backoff.failed(now=130.0) == 1  # up for 30 s: healthy
    assert backoff.failed(now=500.0) == 2  # a failure ends the healthy time


def test_without_healthy_after_only_reset_starts_again() -> None:
    backoff = Backoff(1.0, 60.0, rng=lambda: 0.0, clock=lambda: 1e9)
    backoff.started(at=0.0)
    backoff.failed()
    assert backoff.failed() == 2


def test_bad_arguments_are_refused_and_a_low_cap_is_the_base() -> None:
    for bad in ({"base_s": -1.0, "cap_s": 1.0}, {"base_s": 1.0, "cap_s": 2.0, "jitter": 1.5}):
        with pytest.raises(ValueError, match="Backoff needs"):
            Backoff(**bad)
    assert Backoff(5.0, 1.0, rng=lambda: 0.0).failed() == 5.0
    assert Backoff(0.0, 10.0).failed() == 0.0


@given(st.floats(0.01, 100), st.floats(0, 1000), st.floats(0, 1), st.integers(1, 5000),
       st.floats(0, 1))
def test_every_delay_lies_within_the_jittered_ceiling(
    base: float, cap: float, jitter: float, failures: int, draw: float
) -> None:
    backoff = Backoff(base, cap, jitter=jitter, rng=lambda: draw)
    ceiling = min(max(cap, base), base * 2.0 ** min(failures - 1, 64))
    delay = backoff.delay(failures)
    assert ceiling * (1 - jitter) - 1e-9 <= delay <= ceiling + 1e-9
