"""Shifts from the settings (wall clock, zoneinfo), handover notes per shift, and
follow-ups with due dates, on an injected clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.plugins.incidents.helpers import ask, created_id
from univac.plugins.incidents.shifts import Shifts

BERLIN = ZoneInfo("Europe/Berlin")


def local(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=BERLIN)


def test_twelve_hour_shifts_follow_the_wall_clock_across_daylight_saving() -> None:
    shifts = Shifts.parse("08:00", 12 * 3600, "Europe/Berlin")
    # 2026-03-29: clocks go from 02:00 to 03:00 in Berlin; the night shift is 11 hours
    night = shifts.at(local(2026, 3, 29, 4, 30))
    assert (night.start, night.end) == (local(2026, 3, 28, 20, 0), local(2026, 3, 29, 8, 0))
    assert night.duration == timedelta(hours=11)
    # 2026-10-25: clocks go back from 03:00 to 02:00; that night shift is 13 hours
    autumn = shifts.at(local(2026, 10, 25, 2, 30))
    assert autumn.duration == timedelta(hours=13)
    day = shifts.at(datetime(2026, 3, 29, 6, 0, tzinfo=UTC))  # 08:00 in Berlin (CEST)
    assert (day.start, day.end) == (local(2026, 3, 29, 8, 0), local(2026, 3, 29, 20, 0))
    assert shifts.before(day) == night
    assert day.label() == "Sun 2026-03-29 08:00-20:00 Europe/Berlin"


def test_weekly_shifts_start_on_their_weekday() -> None:
    shifts = Shifts.parse("mon 09:00", 7 * 86400, "UTC")
    week = shifts.at(datetime(2026, 3, 5, 12, 0, tzinfo=UTC))  # a Thursday
    assert week.start == datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("UTC"))
    assert shifts.before(week).start == datetime(2026, 2, 23, 9, 0, tzinfo=ZoneInfo("UTC"))
    early = shifts.at(datetime(2026, 3, 2, 8, 59, tzinfo=UTC))  # Monday before 09:00
    assert early.start.date() == date(2026, 2, 23)


@pytest.mark.parametrize(("start", "length", "zone", "key"), [
    ("8 o'clock", 43200, "UTC", "shift_start"),
    ("08:00", 60, "UTC", "shift_length_s"),
    ("08:00", 43200, "Mars/Olympus", "shift_zone"),
])
def test_bad_shift_settings_name_the_setting(start, length, zone, key) -> None:
    with pytest.raises(ValueError, match=f"^{key}: "):
        Shifts.parse(start, length, zone)


def test_notes_belong_to_the_shift_they_were_written_in(incidents_bot, clock):
    bot = incidents_bot(shift_start="08:00", shift_length_s=12 * 3600, shift_zone="Europe/Berlin")
    clock.now = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)  # 19:00 Berlin: the day shift
    assert ask(bot, "!inc note db1 disk at 80%") == \
        "Noted for the handover of the shift Mon 2026-03-02 08:00-20:00 Europe/Berlin."
    found = created_id(ask(bot, "!inc create --service db Replica lag"))
    clock.now = datetime(2026, 3, 2, 19, 30, tzinfo=UTC)  # 20:30 Berlin: the night shift
    assert ask(bot, "!inc notes") == \
        "No handover notes for the shift (Mon 2026-03-02 20:00-Tue 2026-03-03 08:00 Europe/Berlin)."
    assert ask(bot, "!inc notes prior").split("\n") == [
        "Handover notes of the prior shift Mon 2026-03-02 08:00-20:00 Europe/Berlin:",
        "03-02 19:00 alice: db1 disk at 80%",
        f"03-02 19:00 alice: New incident {found} (P2 db): Replica lag",
    ]
    assert ask(bot, "!inc notes prior", who="bob").startswith("Handover notes")  # a reader
    assert ask(bot, "!inc note x", who="bob") == \
        "You need the 'sre' role to write handover notes."


def test_followups_have_owner_priority_due_date_and_status(incidents_bot, clock):
    bot = incidents_bot()
    found = created_id(ask(bot, "!inc create --service api Timeouts"))
    assert ask(bot, f"!inc followup {found} --owner bob --due 2026-03-04 --priority P1 "
                    "Add a latency alert") == \
        f"Follow-up 1 of {found} added, due 2026-03-04."
    assert ask(bot, "!inc followup 1 Write the postmortem") == \
        f"Follow-up 2 of {found} added, due 2026-03-09."  # default: seven days
    assert ask(bot, "!inc followup 1 --due 3d Raise the pool size") == \
        f"Follow-up 3 of {found} added, due 2026-03-05."
    assert ask(bot, "!inc followups").split("\n") == [
        f"{found} follow-up 1 (P1, bob, due 2026-03-04): Add a latency alert",
        f"{found} follow-up 3 (P2, alice, due 2026-03-05): Raise the pool size",
        f"{found} follow-up 2 (P2, alice, due 2026-03-09): Write the postmortem",
    ]
    clock.now = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)
    assert ask(bot, "!inc followup 1 cancel 3") == f"Follow-up 3 of {found} is cancelled."
    assert ask(bot, "!inc followup 1 done 3") == f"Follow-up 3 of {found} is done."
    assert ask(bot, "!inc followup 1 done 9") == f"{found} has no follow-up 9 (it has 3)."
    assert ask(bot, "!inc followups").split("\n") == [
        f"{found} follow-up 1 (P1, bob, due 2026-03-04, overdue): Add a latency alert",
        f"{found} follow-up 2 (P2, alice, due 2026-03-09): Write the postmortem",
    ]
    assert ask(bot, "!inc followups web") == "No open follow-ups."
    assert ask(bot, "!inc followup 1 --due soon x").startswith(
        "due: expected a date (2026-03-10) or a delay (3d, 2w), got 'soon'. Usage: ")
    (hidden,) = bot.ask("!inc followups", sender="alice", target="#lobby")
    assert hidden == "2 open follow-up(s), 1 overdue; for details ask me in a private message."


def test_a_resolved_incident_keeps_its_followups(incidents_bot):
    bot = incidents_bot()
    ask(bot, "!inc create x")
    ask(bot, "!inc followup 1 Fix the root cause")
    ask(bot, "!inc resolve 1")
    assert "Fix the root cause" in ask(bot, "!inc followups")
