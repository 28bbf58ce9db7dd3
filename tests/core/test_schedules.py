"""Calendar schedules: parsing, next dates, time zones and daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from univac import Calendar, Schedule
from univac.schedules import Interval, schedule_of

PARIS = ZoneInfo("Europe/Paris")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_parse_reads_days_times_and_zone() -> None:
    spec = Calendar.parse("mon-fri 09:30,17:00 Europe/Paris")
    assert spec.days == frozenset(range(5))
    assert spec.times == (time(9, 30), time(17, 0))
    assert spec.zone == PARIS
    assert Calendar.parse("08:00").days == frozenset(range(7))
    assert Calendar.parse("daily 8:05").times == (time(8, 5),)
    assert Calendar.parse("fri-mon 12:00").days == frozenset({4, 5, 6, 0})
    assert Calendar.parse("Sat,sun 10:00").days == frozenset({5, 6})
    assert str(Calendar.parse("sat,mon 7:00,06:30")) == "mon,sat 06:30,07:00 UTC"


@pytest.mark.parametrize(("spec", "reason"), [
    ("", "expected 'mon 08:00'"),
    ("mon", "expected 'mon 08:00'"),
    ("mon 25:00", "'25:00' is not a time"),
    ("mon 08:60", "'08:60' is not a time"),
    ("monday 08:00", "'monday' is not a day"),
    ("mon 08:00 Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
    ("mon 08:00 UTC extra", "expected 'mon 08:00'"),
])
def test_parse_names_what_is_wrong(spec: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        Calendar.parse(spec)


def test_the_next_date_is_strictly_later() -> None:
    weekly = Calendar.parse("mon 08:00")
    assert weekly.next_after(utc(2026, 3, 2, 7, 59)) == utc(2026, 3, 2, 8, 0)
    assert weekly.next_after(utc(2026, 3, 2, 8, 0)) == utc(2026, 3, 9, 8, 0)
    assert weekly.next_after(utc(2026, 3, 4, 12, 0)) == utc(2026, 3, 9, 8, 0)
    twice = Calendar.parse("daily 07:00,19:00")
    assert twice.next_after(utc(2026, 3, 2, 7, 0)) == utc(2026, 3, 2, 19, 0)
    assert twice.next_after(utc(2026, 3, 2, 23, 0)) == utc(2026, 3, 3, 7, 0)


def test_the_wall_clock_time_holds_across_daylight_saving_changes() -> None:
    weekly = Calendar.parse("mon 08:00 Europe/Paris")
    before = weekly.next_after(utc(2026, 3, 22, 0, 0))
    after = weekly.next_after(before)
    assert (before, after) == (utc(2026, 3, 23, 7, 0), utc(2026, 3, 30, 6, 0))
    assert after - before == timedelta(days=7, hours=-1)
    assert after.astimezone(PARIS).time() == time(8, 0)


def test_a_skipped_time_runs_once_shifted_by_the_jump() -> None:
    nightly = Calendar.parse("sun 02:30 Europe/Paris")  # 2026-03-29: 02:00 -> 03:00
    first = nightly.next_after(utc(2026, 3, 28, 12, 0))
    assert first == utc(2026, 3, 29, 1, 30)
    assert first.astimezone(PARIS).time() == time(3, 30)
    assert nightly.next_after(first) == utc(2026, 4, 5, 0, 30)


def test_a_time_shown_twice_runs_once_the_first_time() -> None:
    nightly = Calendar.parse("sun 02:30 Europe/Paris")  # 2026-10-25: 03:00 -> 02:00
    first = nightly.next_after(utc(2026, 10, 24, 12, 0))
    assert first == utc(2026, 10, 25, 0, 30)  # 02:30 summer time
    assert nightly.next_after(first) == utc(2026, 11, 1, 1, 30)  # not 01:30 UTC that night


def test_naive_moments_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        Calendar.parse("mon 08:00").next_after(datetime(2026, 3, 2))


def test_schedule_of_reads_seconds_calendars_and_schedules() -> None:
    assert schedule_of(300) == Interval(300.0)
    assert schedule_of(2.5) == Interval(2.5)
    assert schedule_of("mon 08:00") == Calendar.parse("mon 08:00")
    custom = Interval(1.0)
    assert schedule_of(custom) is custom
    assert isinstance(Calendar.parse("mon 08:00"), Schedule)
    for bad in (True, None, [60]):
        with pytest.raises(TypeError):
            schedule_of(bad)
    with pytest.raises(ValueError):
        schedule_of(-5)


ZONES = st.sampled_from(["UTC", "Europe/Paris", "America/New_York", "Australia/Lord_Howe",
                         "Asia/Kolkata", "America/St_Johns"])
TIMES = st.lists(st.times(), min_size=1, max_size=3).map(
    lambda found: tuple(sorted({time(t.hour, t.minute) for t in found})))
MOMENTS = st.datetimes(datetime(2020, 1, 1), datetime(2035, 1, 1), timezones=st.just(UTC))


@given(st.frozensets(st.integers(0, 6), min_size=1), TIMES, ZONES, MOMENTS)
def test_next_after_is_later_within_a_week_and_on_a_listed_day(
    days: frozenset[int], times: tuple[time, ...], zone: str, moment: datetime
) -> None:
    spec = Calendar(days, times, ZoneInfo(zone))
    found = spec.next_after(moment)
    assert moment < found <= moment + timedelta(days=8)
    assert spec.next_after(found) > found
    local = found.astimezone(spec.zone)
    if local.replace(tzinfo=None, fold=0).replace(tzinfo=spec.zone).astimezone(UTC) == found \
            and local.time().replace(fold=0) in times:
        assert local.weekday() in days
    step = moment + (found - moment) / 2  # nothing in between: asking later gives the same
    assert spec.next_after(step) == found or step >= found
