"""Shifts: when the current one began, and the one before. Pure functions; any thread.

A shift schedule is a start (``08:00``, or ``mon 09:00`` for weekly shifts), a length
and a time zone (``zoneinfo``). Shifts follow the wall clock: with 12-hour shifts from
08:00 in Europe/Berlin they always run 08:00-20:00 and 20:00-08:00 local time, so the
night the clocks change one of them is an hour shorter or longer. Shift boundaries are
counted from an anchor, the first day of 2024 with the start's weekday, so lengths that
do not divide a day (36 hours, a week) work as well.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
START = re.compile(r"(?:(mon|tue|wed|thu|fri|sat|sun)\s+)?([01]?\d|2[0-3]):([0-5]\d)")
ANCHOR = date(2024, 1, 1)  # a Monday


@dataclass(frozen=True)
class Shift:
    """One shift: from ``start`` to ``end`` (aware, in the schedule's zone)."""

    start: datetime
    end: datetime

    def holds(self, moment: datetime) -> bool:
        return utc(self.start) <= utc(moment) < utc(self.end)

    @property
    def duration(self) -> timedelta:
        """Its real length (the wall-clock length, less or more the night clocks change)."""
        return utc(self.end) - utc(self.start)

    def label(self) -> str:
        """``Mon 2026-03-02 08:00-20:00 Europe/Berlin`` (the end's date when it differs)."""
        end = f"{self.end:%H:%M}" if self.end.date() == self.start.date() else \
            f"{self.end:%a %Y-%m-%d %H:%M}"
        return f"{self.start:%a %Y-%m-%d %H:%M}-{end} {self.start.tzinfo}"


@dataclass(frozen=True)
class Shifts:
    """The shift schedule (see the module docstring)."""

    anchor: datetime
    """The start of one shift, as a naive wall-clock time."""
    length: timedelta
    zone: ZoneInfo

    @classmethod
    def parse(cls, start: str, length_s: int, zone: str) -> Shifts:
        """ValueError naming the setting (``shift_start``, ...) that is wrong."""
        found = START.fullmatch(start.strip().lower())
        if not found:
            raise ValueError(f"shift_start: {start!r} is not 'HH:MM' or 'mon 09:00'")
        if not 3600 <= length_s <= 28 * 86400 or length_s % 60:
            raise ValueError("shift_length_s: a shift lasts whole minutes, 1 hour to 28 days")
        try:
            tz = ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"shift_zone: unknown time zone {zone!r}") from None
        day = ANCHOR + timedelta(days=DAYS.index(found.group(1)) if found.group(1) else 0)
        anchor = datetime(day.year, day.month, day.day, int(found.group(2)), int(found.group(3)))
        return cls(anchor, timedelta(seconds=length_s), tz)

    def at(self, moment: datetime) -> Shift:
        """The shift ``moment`` falls in."""
        wall = moment.astimezone(self.zone).replace(tzinfo=None)
        count = math.floor((wall - self.anchor) / self.length)
        start = self.anchor + count * self.length
        shift = self._shift(start)
        if utc(moment) < utc(shift.start):  # a start the clock skipped, or shown twice
            return self._shift(start - self.length)
        return shift

    def before(self, shift: Shift) -> Shift:
        """The shift that ended when ``shift`` began."""
        return self.at(shift.start - timedelta(microseconds=1))

    def today(self, moment: datetime) -> date:
        """The date in the schedule's zone (due dates are days there)."""
        return moment.astimezone(self.zone).date()

    def _shift(self, start: datetime) -> Shift:
        end = start + self.length
        return Shift(start.replace(tzinfo=self.zone), end.replace(tzinfo=self.zone))


def utc(moment: datetime) -> datetime:
    """``moment`` in UTC: aware datetimes sharing a zone compare by wall clock otherwise."""
    return moment.astimezone(UTC)
