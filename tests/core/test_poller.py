"""Pollers: schedules, skip and retry-after, one backoff, real-poll counts, the loop."""

from __future__ import annotations

import threading
import types
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from univac import Calendar, PluginError, RetryAfter, Skip, every
from univac.cli import main
from univac.decorators import EverySpec
from univac.engine.catalog import PollHandler, inspect_plugin
from univac.engine.handlers import Boundary
from univac.engine.poller import Poller
from univac.ops.stats import Stats
from univac.schedules import Interval

START = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # a Monday


class FakeContext:
    """The part of a Context a poller uses, on a clock the test moves."""

    def __init__(self, clock=lambda: START) -> None:
        self.now = clock

    def derive(self, message=None, clock=None):
        return FakeContext(clock or self.now)


def make(func, schedule=None, stop=None, rng=lambda: 0.5, jitter=0.1) -> Poller:
    schedule = schedule or Interval(60.0)
    handler = PollHandler("demo", func, EverySpec(schedule, jitter=jitter), schedule)
    boundary = Boundary(Stats(), cast(Any, None), "!")
    return Poller(handler, cast(Any, FakeContext()), boundary, stop or threading.Event(),
                  max_backoff_s=600.0, rng=rng)


def after(poller: Poller, now: datetime = START) -> float:
    """Seconds from ``now`` to the poller's next planned run."""
    assert poller.next_run is not None
    return (poller.next_run - now).total_seconds()


def fail(ctx):
    raise ConnectionError("secret-url?token=abc")


def test_success_keeps_the_interval_and_records_the_run() -> None:
    poller = make(lambda ctx: None)
    assert poller.run_once(START).kind == "polled"
    assert after(poller) == 60.0
    report = poller.report()
    assert (report.runs, report.failures, report.last_error, report.skipped) == (1, 0, "", 0)
    assert report.last_ok is not None
    assert report.next_run == (START + timedelta(seconds=60)).timestamp()
    assert report.schedule == "every 60 s"


def test_failures_back_off_exponentially_up_to_a_cap_from_twice_the_interval() -> None:
    poller = make(fail, rng=lambda: 0.0)  # no jitter: the backoff's ceilings
    delays = []
    for _ in range(6):
        assert poller.run_once(START).kind == "failed"
        delays.append(after(poller))
    assert delays == [120.0, 240.0, 480.0, 600.0, 600.0, 600.0]
    report = poller.report()
    assert report.last_error == "ConnectionError"
    assert (report.failures, report.failures_total, report.runs) == (6, 6, 6)
    assert report.last_failure is not None


def test_backoff_delays_carry_jitter_below_the_ceiling() -> None:
    poller = make(fail, rng=lambda: 1.0)
    poller.run_once(START)
    assert after(poller) == 60.0  # 120 s, less half of it


def test_a_success_resets_the_streak_but_not_the_total() -> None:
    outcomes = iter([ValueError("x"), None, ValueError("y")])

    def flaky(ctx):
        outcome = next(outcomes)
        if outcome:
            raise outcome

    poller = make(flaky, rng=lambda: 0.0)
    assert [poller.run_once(START).kind for _ in range(3)] == ["failed", "polled", "failed"]
    report = poller.report()
    assert (report.failures, report.failures_total, report.runs) == (1, 2, 3)
    assert after(poller) == 120.0  # the backoff started again


def test_jitter_spreads_interval_delays() -> None:
    low = make(lambda ctx: None, Interval(100.0), rng=lambda: 0.0, jitter=0.2)
    high = make(lambda ctx: None, Interval(100.0), rng=lambda: 1.0, jitter=0.2)
    low.run_once(START)
    high.run_once(START)
    assert (after(low), after(high)) == (80.0, 120.0)


def test_a_skip_is_not_a_run_and_keeps_the_schedule_and_the_streak() -> None:
    answers = iter([ValueError("down"), Skip("nothing configured")])

    def poll(ctx):
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    poller = make(poll)
    poller.run_once(START)
    assert poller.run_once(START).kind == "skipped"
    report = poller.report()
    assert (report.runs, report.skipped, report.failures) == (1, 1, 1)
    assert after(poller) == 60.0


def test_retry_after_is_a_run_not_a_failure_and_waits_exactly_that_long() -> None:
    until = START + timedelta(minutes=17)
    answers = iter([RetryAfter(900), RetryAfter(until, "quota spent"),
                    RetryAfter(timedelta(seconds=30))])
    poller = make(lambda ctx: next(answers), rng=lambda: 0.0)
    assert poller.run_once(START).kind == "deferred"
    assert after(poller) == 900.0
    poller.run_once(START)
    assert after(poller) == 17 * 60.0
    poller.run_once(START)
    assert after(poller) == 30.0
    report = poller.report()
    assert (report.runs, report.deferred, report.failures, report.failures_total) == (3, 3, 0, 0)
    assert report.last_ok is None


def test_retry_after_stacks_no_backoff_and_keeps_the_failure_streak() -> None:
    answers = iter([ConnectionError(), RetryAfter(5), ConnectionError()])

    def poll(ctx):
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    poller = make(poll, rng=lambda: 0.0)
    poller.run_once(START)
    assert after(poller) == 120.0
    poller.run_once(START)
    assert after(poller) == 5.0 and poller.failures == 1
    poller.run_once(START)
    assert after(poller) == 240.0 and poller.failures == 2


def test_a_retry_in_the_past_runs_at_once() -> None:
    poller = make(lambda ctx: RetryAfter(START - timedelta(hours=1)))
    poller.run_once(START)
    assert after(poller) == 0.0


def test_a_calendar_poller_runs_on_its_dates_and_retries_within_the_hour() -> None:
    weekly = Calendar.parse("mon 08:00")
    outcomes = iter([None, ConnectionError()] + [ConnectionError()] * 10)

    def report(ctx):
        outcome = next(outcomes)
        if outcome:
            raise outcome

    poller = make(report, weekly, rng=lambda: 0.0)
    assert poller.first_run(START) == START + timedelta(hours=1)  # not at start-up
    monday = START + timedelta(hours=1)
    poller.run_once(monday)
    assert poller.next_run == monday + timedelta(days=7)
    delays = []
    for _ in range(8):
        poller.run_once(monday)
        delays.append(after(poller, monday))
    assert delays == [60, 120, 240, 480, 960, 1920, 3600, 3600]
    late = monday + timedelta(days=7) - timedelta(minutes=5)
    poller.run_once(late)
    assert poller.next_run == monday + timedelta(days=7)  # never past the next date
    assert poller.report().schedule == "mon 08:00 UTC"


def test_any_object_with_next_after_is_a_schedule() -> None:
    class OnTheHour:
        def next_after(self, moment: datetime) -> datetime:
            return moment.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)

    poller = make(lambda ctx: None, OnTheHour())
    poller.run_once(START + timedelta(minutes=20))
    assert poller.next_run == START + timedelta(hours=1)


@dataclass(frozen=True)
class Settings:
    interval_s: float = 300.0
    schedule: str = "mon-fri 09:30 Europe/Paris"
    broken: str = "someday"


def plugin_module(**pollers: Any) -> types.ModuleType:
    module = types.ModuleType("demo_pollers")
    for name, func in pollers.items():
        func.__name__, func.__module__ = name, module.__name__
        setattr(module, name, func)
    return module


def test_a_poller_reads_its_schedule_from_the_plugins_settings() -> None:
    module = plugin_module(fast=every(setting="interval_s")(lambda ctx: None),
                           daily=every(setting="schedule")(lambda ctx: None))
    plugin = inspect_plugin("demo", module, Settings(interval_s=120.0))
    schedules = {h.func.__name__: h.schedule for h in plugin.pollers}
    assert schedules == {"fast": Interval(120.0),
                         "daily": Calendar.parse("mon-fri 09:30 Europe/Paris")}


@pytest.mark.parametrize(("setting", "settings", "reason"), [
    ("missing", Settings(), "have no 'missing'"),
    ("broken", Settings(), "'someday' is not a day"),
    ("interval_s", Settings(interval_s=0.0), "more than 0 seconds"),
    ("interval_s", None, "have no 'interval_s'"),
])
def test_a_bad_schedule_setting_disables_the_plugin_with_a_clear_reason(
    setting: str, settings: Any, reason: str
) -> None:
    module = plugin_module(poll=every(setting=setting)(lambda ctx: None))
    with pytest.raises(PluginError, match=reason) as error:
        inspect_plugin("demo", module, settings)
    assert f"@every(setting='{setting}')" in str(error.value)


def test_check_reports_a_bad_schedule_setting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "plugs").mkdir()
    (tmp_path / "plugs" / "report.py").write_text(
        '"""Weekly report."""\nfrom dataclasses import dataclass\nfrom univac import every\n\n\n'
        "@dataclass(frozen=True)\nclass Settings:\n    when: str = 'mon 08:00'\n\n\n"
        "@every(setting='when')\ndef weekly(ctx):\n    pass\n", encoding="utf-8")
    config = tmp_path / "univac.toml"
    config.write_text("[bot]\nplugin_dirs = ['plugs']\n[plugins.report]\n"
                      "when = 'mon 25:00'\n", encoding="utf-8")
    assert main(["check", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "plugins.report" in err and "'25:00' is not a time" in err


def test_tick_in_the_harness_treats_skip_and_retry_as_success(univac_bot, tmp_path) -> None:
    plugin = tmp_path / "quiet.py"
    plugin.write_text('"""Quiet pollers."""\nfrom univac import RetryAfter, Skip, every\n\n\n'
                      "@every(60)\ndef idle(ctx):\n    return Skip()\n\n\n"
                      "@every(60)\ndef limited(ctx):\n    return RetryAfter(60)\n",
                      encoding="utf-8")
    bot = univac_bot(str(plugin))
    assert bot.tick("quiet.idle") == [] and bot.tick("quiet.limited") == []
    reports = {p.name: p for p in bot.bot.status().pollers}
    assert (reports["quiet.idle"].runs, reports["quiet.idle"].skipped) == (0, 1)
    assert (reports["quiet.limited"].runs, reports["quiet.limited"].deferred) == (1, 1)


def test_the_loop_runs_first_then_stops_at_once() -> None:
    stop = threading.Event()
    ran = threading.Event()
    poller = make(lambda ctx: ran.set(), Interval(3600.0), stop=stop)
    poller._context.now = lambda: datetime.now(UTC)  # the real clock
    thread = threading.Thread(target=poller.run)
    thread.start()
    assert ran.wait(10)
    stop.set()
    thread.join(2)
    assert not thread.is_alive()
    assert poller.report().runs == 1
