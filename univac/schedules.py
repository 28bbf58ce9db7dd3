"""When a poller runs: an interval, a calendar, or any ``Schedule``. Layer: core (public API).

The poller asks a schedule one question, ``next_after(moment) -> datetime``: the first
run strictly after ``moment`` (both timezone-aware). Three kinds answer it:

- ``Interval(seconds)``: ``moment + seconds`` (the poller adds jitter and backoff);
- ``Calendar``, written like ``"mon 08:00"``, ``"mon-fri 09:30 Europe/Paris"``,
  ``"daily 07:00,19:00"``: given weekdays at given wall-clock times in one time zone
  (``zoneinfo``; UTC unless named), so "every Monday at 08:00" stays 08:00 across
  daylight-saving changes;
- any object with that method, for example a cron expression evaluated by a library
  outside the core (docs/architecture.md, "Schedules").

Daylight-saving changes: a time the clock skips (02:30 on the night it jumps from
02:00 to 03:00) runs once, as PEP 495 reads it (03:30, the wall time shifted by the
jump); a time the clock shows twice (the night it goes back) runs once, the first time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol, runtime_checkable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
EXAMPLE = "'mon 08:00', 'mon-fri 09:30 Europe/Paris' or 'daily 07:00,19:00'"
TIME = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")


@runtime_checkable
class Schedule(Protocol):
    """Anything that says when a poller runs next."""

    def next_after(self, moment: datetime) -> datetime:
        """The first run strictly after ``moment`` (aware datetimes)."""
        ...


@dataclass(frozen=True)
class Interval:
    """Every ``seconds``: the poller spreads runs with jitter and backs off after failures."""

    seconds: float

    def __post_init__(self) -> None:
        if not self.seconds > 0:
            raise ValueError(f"an interval must be more than 0 seconds, not {self.seconds!r}")

    def next_after(self, moment: datetime) -> datetime:
        return moment + timedelta(seconds=self.seconds)

    def __str__(self) -> str:
        return f"every {self.seconds:g} s"


@dataclass(frozen=True)
class Calendar:
    """Given weekdays (0 is Monday) at given wall-clock times in one time zone."""

    days: frozenset[int]
    times: tuple[time, ...]
    zone: ZoneInfo

    @classmethod
    def parse(cls, spec: str) -> Calendar:
        """Read ``"[days] HH:MM[,HH:MM...] [zone]"``; ValueError naming what is wrong."""
        words = spec.split()
        if words and not TIME.match(words[0]):
            days, words = _days(words[0], spec), words[1:]
        else:
            days = frozenset(range(7))
        if not words or len(words) > 2:
            raise ValueError(f"schedule {spec!r}: expected {EXAMPLE}")
        times = tuple(sorted({_time(text, spec) for text in words[0].split(",")}))
        return cls(days, times, _zone(words[1] if len(words) > 1 else "UTC"))

    def next_after(self, moment: datetime) -> datetime:
        if moment.tzinfo is None:
            raise ValueError("Calendar.next_after needs an aware datetime")
        start = moment.astimezone(self.zone).date()
        for offset in range(-1, 9):  # -1: a shifted time may land after a day boundary
            day = start + timedelta(days=offset)
            later = [at for at in self._runs_on(day) if at > moment]
            if later:
                return min(later)
        raise AssertionError("a calendar with days and times always has a next run")

    def _runs_on(self, day: date) -> list[datetime]:
        if day.weekday() not in self.days:
            return []
        return [datetime.combine(day, at, self.zone).astimezone(UTC) for at in self.times]

    def __str__(self) -> str:
        days = "daily" if len(self.days) == 7 else ",".join(DAYS[d] for d in sorted(self.days))
        times = ",".join(f"{at:%H:%M}" for at in self.times)
        return f"{days} {times} {self.zone.key}"


def schedule_of(value: object) -> Schedule:
    """A schedule from a decorator's or a setting's value: seconds, a calendar, a Schedule.

    ValueError (or TypeError) naming what is wrong.
    """
    if isinstance(value, bool):
        raise TypeError(f"a schedule cannot be {value!r}")
    if isinstance(value, int | float):
        return Interval(float(value))
    if isinstance(value, str):
        return Calendar.parse(value)
    if isinstance(value, Schedule):
        return value
    raise TypeError(f"a schedule is seconds, a calendar such as {EXAMPLE}, or an object "
                    f"with next_after(datetime); not {type(value).__name__}")


def _days(text: str, spec: str) -> frozenset[int]:
    if text.lower() == "daily":
        return frozenset(range(7))
    found: set[int] = set()
    for part in text.lower().split(","):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise ValueError(f"schedule {spec!r}: {part!r} is not a day; use mon..sun, "
                             f"a range such as mon-fri, or daily")
        low, high = DAYS.index(first), DAYS.index(last or first)
        found.update(range(low, high + 1) if low <= high else [*range(low, 7), *range(high + 1)])
    return frozenset(found)


def _time(text: str, spec: str) -> time:
    found = TIME.fullmatch(text)
    if found is None:
        raise ValueError(f"schedule {spec!r}: {text!r} is not a time such as 08:00")
    return time(int(found[1]), int(found[2]))


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"schedule: unknown time zone {name!r} (an IANA name such as "
                         f"Europe/Paris, or UTC)") from None
