"""Pollers: first run soon, interval with jitter, backoff, stop at once, reports."""

from __future__ import annotations

import threading

from univac.decorators import EverySpec
from univac.engine.catalog import Handler
from univac.engine.poller import Poller


class FakeContext:
    def derive(self, message=None, clock=None):
        return self


def make(func, stop: threading.Event, seconds: float = 60.0) -> Poller:
    handler = Handler("demo", func, EverySpec(seconds, 0.1))
    return Poller(handler, FakeContext(), stop, max_backoff_s=600.0, rng=lambda: 0.5)


def test_success_keeps_the_interval_and_records_the_run() -> None:
    poller = make(lambda ctx: None, threading.Event())
    assert poller.run_once() is True
    assert poller.next_delay(True) == 60.0
    report = poller.report()
    assert (report.runs, report.failures, report.last_error) == (1, 0, "")
    assert report.last_ok is not None


def test_failures_back_off_exponentially_up_to_a_cap() -> None:
    def fail(ctx):
        raise ConnectionError("secret-url?token=abc")

    poller = make(fail, threading.Event())
    delays = []
    for _ in range(6):
        assert poller.run_once() is False
        delays.append(poller.next_delay(False))
    assert delays == [120.0, 240.0, 480.0, 600.0, 600.0, 600.0]
    report = poller.report()
    assert report.last_error == "ConnectionError"
    assert (report.failures, report.failures_total) == (6, 6)
    assert report.last_failure is not None


def test_a_success_resets_the_streak_but_not_the_total() -> None:
    outcomes = iter([ValueError("x"), None, ValueError("y")])

    def flaky(ctx):
        outcome = next(outcomes)
        if outcome:
            raise outcome

    poller = make(flaky, threading.Event())
    assert [poller.run_once() for _ in range(3)] == [False, True, False]
    report = poller.report()
    assert (report.failures, report.failures_total, report.runs) == (1, 2, 3)


def test_jitter_spreads_delays() -> None:
    handler = Handler("demo", lambda ctx: None, EverySpec(100.0, 0.2))
    low = Poller(handler, FakeContext(), threading.Event(), rng=lambda: 0.0)
    high = Poller(handler, FakeContext(), threading.Event(), rng=lambda: 1.0)
    assert (low.next_delay(True), high.next_delay(True)) == (80.0, 120.0)


def test_the_loop_runs_first_then_stops_at_once() -> None:
    stop = threading.Event()
    ran = threading.Event()
    poller = make(lambda ctx: ran.set(), stop, seconds=3600.0)
    thread = threading.Thread(target=poller.run)
    thread.start()
    assert ran.wait(10)
    stop.set()
    thread.join(2)
    assert not thread.is_alive()
