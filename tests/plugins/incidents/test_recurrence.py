"""``!incident recurrence``: incidents per service and alert signature over 7 and 30
days, thresholds from the settings, flagged first, with the plugin's roles and privacy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.plugins.incidents.helpers import ROLES, Clock, ask
from tests.plugins.incidents.week import records, write_store
from univac.plugins.incidents.recurrence import Thresholds, count

END = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # the end of week.py's week


@pytest.fixture
def bot_at(univac_bot, tmp_path):
    write_store(tmp_path / "log").close()

    def make(now: datetime = END, **settings):
        table = {"writers": "sre", "readers": "oncall", "folder": str(tmp_path / "log"),
                 "channels": ["#sre"]}
        return univac_bot("incidents", roles=ROLES, clock=Clock(now),
                          settings={"incidents": table | settings})

    return make


def test_counts_per_service_and_signature_flagged_first(bot_at):
    assert ask(bot_at(), "!inc recurrence") == "\n".join([
        "Incidents in the last 7 and 30 days, 2 flagged:",
        "service api: 3 in 7 days, 4 in 30 days (flagged: >= 3 in 7 days)",
        "signature HighErrorRate/api/prod: 2 in 7 days, 2 in 30 days (flagged: >= 2 in 7 days)",
        "service legacy: 1 in 7 days, 1 in 30 days",
        "service db: 0 in 7 days, 1 in 30 days",
    ])


def test_thresholds_come_from_the_settings(bot_at):
    bot = bot_at(recurrence_service_7d=5, recurrence_service_30d=1,
                 recurrence_signature_7d=3, recurrence_signature_30d=9)
    assert ask(bot, "!inc recurrence").splitlines()[1:] == [
        "service api: 3 in 7 days, 4 in 30 days (flagged: >= 1 in 30 days)",
        "service legacy: 1 in 7 days, 1 in 30 days (flagged: >= 1 in 30 days)",
        "service db: 0 in 7 days, 1 in 30 days (flagged: >= 1 in 30 days)",
        "signature HighErrorRate/api/prod: 2 in 7 days, 2 in 30 days",
    ]


def test_one_service_and_the_windows_move_with_the_clock(bot_at):
    assert ask(bot_at(), "!inc recurrence API").splitlines() == [
        "Incidents of API in the last 7 and 30 days, 2 flagged:",
        "service api: 3 in 7 days, 4 in 30 days (flagged: >= 3 in 7 days)",
        "signature HighErrorRate/api/prod: 2 in 7 days, 2 in 30 days (flagged: >= 2 in 7 days)"]
    later = bot_at(END + timedelta(days=10))
    assert ask(later, "!inc recurrence").splitlines()[1:] == [
        "service api: 0 in 7 days, 3 in 30 days",
        "signature HighErrorRate/api/prod: 0 in 7 days, 2 in 30 days",
        "service db: 0 in 7 days, 1 in 30 days",  # started 2026-02-10
        "service legacy: 0 in 7 days, 1 in 30 days",
        "service web: 0 in 7 days, 1 in 30 days"]
    assert ask(bot_at(END + timedelta(days=40)), "!inc recurrence api") == \
        "No incidents of api in the last 30 days."


def test_details_only_where_they_may_be_read(bot_at):
    bot = bot_at()
    assert ask(bot, "!inc recurrence", who="bob", private=False, target="#lobby") == (
        "2 service(s) or alert signature(s) flagged for recurrence; for details ask me in a "
        "private message (or in #sre).")
    assert ask(bot, "!inc recurrence", who="bob", private=False, target="#sre").startswith(
        "Incidents in the last 7 and 30 days")
    assert ask(bot, "!inc recurrence", who="eve") == \
        "You need the 'oncall' or 'sre' role to read incidents."
    assert ask(bot, "!inc recurrence a b").startswith("too many arguments: 'b'. Usage: ")


def test_windows_are_the_days_before_the_end():
    incidents, _ = records()
    week = {c.name: c.last_7d for c in count(incidents, END, Thresholds())}
    assert week["api"] == 3
    just_after = {c.name: c.last_7d for c in count(incidents, END - timedelta(microseconds=1),
                                                   Thresholds())}
    assert just_after == week  # web's incident starts at 01:00 on the Monday: not before
    unsigned = [i for i in incidents if "signature" not in i.meta]
    assert {c.kind for c in count(unsigned, END, Thresholds())} == {"service"}


def test_roles_are_named_in_the_help(bot_at):
    assert ask(bot_at(), "!inc help recurrence") == (
        "!incident recurrence [service] - incidents per service and alert signature over 7 "
        "and 30 days, flagged first")
    assert ROLES["sre"]
