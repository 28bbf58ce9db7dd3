"""The core's metrics: the histogram, the stats report, and what the dispatcher records."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tests.core.sample_plugins import ops
from univac.ops.metrics import BUCKETS, Histogram
from univac.ops.stats import FOLD_AT, Stats

SAMPLE = '''
"""Commands with every outcome, and a matcher."""
from univac import UserError, command, match


@command
def fine(ctx, n: int):
    return f"n={n}"


@command
def nope(ctx):
    raise UserError("not today")


@command
def crash(ctx):
    raise RuntimeError("boom")


@match(r"\\bping\\b")
def ping(ctx, found):
    return "pong"
'''


def test_histogram_buckets_are_inclusive_upper_bounds_and_cumulative() -> None:
    histogram = Histogram((0.1, 1.0, 10.0))
    for value in (0.0, 0.1, 0.5, 1.0, 1.5, 10.0, 11.0, 99.0):
        histogram.observe(value)
    snap = histogram.snapshot()
    assert snap.bounds == (0.1, 1.0, 10.0)
    assert snap.cumulative == (2, 4, 6)
    assert snap.count == 8
    assert snap.total == pytest.approx(123.1)


def test_histogram_defaults_and_refuses_bad_bounds() -> None:
    assert list(BUCKETS) == sorted(BUCKETS) and BUCKETS[-1] >= 60
    empty = Histogram().snapshot()
    assert empty.count == 0 and empty.cumulative == (0,) * len(BUCKETS)
    for bounds in ((), (1.0, 0.5), (1.0, 1.0)):
        with pytest.raises(ValueError):
            Histogram(bounds)


def test_stats_report_is_a_copy() -> None:
    stats = Stats()
    stats.command("dns", "dns", "done", 0.02)
    stats.command("dns", "dns", "denied", None)
    stats.observe("links", "match", 0.3)
    report = stats.report()
    stats.command("dns", "dns", "done", 0.02)
    assert report.commands == {("dns", "dns", "done"): 1, ("dns", "dns", "denied"): 1}
    assert report.latency[("dns", "command")].count == 1  # a denied command did not run
    assert report.latency[("links", "match")].cumulative[BUCKETS.index(0.5)] == 1
    assert stats.report().commands[("dns", "dns", "done")] == 2


def test_stats_count_exactly_from_many_threads() -> None:
    stats = Stats()

    def work() -> None:
        for _ in range(2000):
            stats.command("p", "c", "done", 0.001)
            stats.incr("in:test")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    report = stats.report()
    assert report.commands[("p", "c", "done")] == 8000
    assert report.latency[("p", "command")].count == 8000
    assert report.counters["in:test"] == 8000


def test_stats_writers_never_wait_for_a_reader_and_pending_stays_bounded() -> None:
    stats = Stats()
    with stats._fold_lock:  # as if a reader were folding: a waiting writer would hang here
        for _ in range(FOLD_AT * 3):
            stats.incr("x")
        assert len(stats._counted) == FOLD_AT * 3
    for _ in range(FOLD_AT):
        stats.incr("x")
    assert len(stats._counted) < FOLD_AT  # the first writer past the mark folded it all
    assert stats.get("x") == FOLD_AT * 4
    assert len(stats._counted) == 0
    for _ in range(FOLD_AT * 2):
        stats.command("p", "c", "denied", None)  # outcomes alone also keep it bounded
    assert len(stats._counted) < FOLD_AT
    assert stats.report().commands[("p", "c", "denied")] == FOLD_AT * 2


@pytest.fixture
def bot(univac_bot, tmp_path: Path):
    path = tmp_path / "outcomes.py"
    path.write_text(SAMPLE, encoding="utf-8")
    roles = {"ops": {"test": ["account:alice"]}}
    made = univac_bot(str(path), str(Path(ops.__file__)), roles=roles)
    assert made.errors == {}
    return made


def test_dispatcher_records_each_command_outcome_and_latency(bot) -> None:
    assert bot.ask("!fine 3") == ["n=3"]
    assert bot.ask("!fine three") == ["n: expected int, got 'three'. Usage: !fine <n>"]
    assert bot.ask("!nope") == ["not today"]
    assert len(bot.ask("!crash")) == 1
    bot.ask("!restart web", identity="account:mallory")  # needs the ops role
    commands = bot.bot.metrics().commands
    assert commands == {
        ("outcomes", "fine", "done"): 1, ("outcomes", "fine", "usage"): 1,
        ("outcomes", "nope", "refused"): 1, ("outcomes", "crash", "error"): 1,
        ("ops", "restart", "denied"): 1,
    }
    latency = bot.bot.metrics().latency
    assert latency[("outcomes", "command")].count == 4
    assert ("ops", "command") not in latency


def test_dispatcher_times_matchers(bot) -> None:
    assert bot.ask("anyone ping here?") == ["pong"]
    report = bot.bot.metrics()
    assert report.latency[("outcomes", "match")].count == 1
    assert report.counters["in:test"] == 1
    assert report.commands == {}
