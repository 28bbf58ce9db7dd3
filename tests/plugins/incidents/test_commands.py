"""The ``!incident`` subcommands through the real dispatcher (``univac.testing``)."""

from __future__ import annotations

import re
from dataclasses import replace

from tests.plugins.incidents.helpers import ask, created_id, store_of
from univac.plugins.incidents.model import Batch

ID = re.compile(r"inc_20260302_0900_[0-9a-f]{6}")


def test_create_answers_with_the_full_id_and_list_shows_one_line_each(incidents_bot, clock):
    bot = incidents_bot()
    reply = ask(bot, "!incident create --sev P1 --service gateway --env prod Gateway 5xx >5%")
    first = created_id(reply)
    assert ID.fullmatch(first)
    assert reply.startswith(f"Created {first} (#1): P1 gateway (prod). Document: {first}/")
    clock.advance(minutes=3)
    second = created_id(ask(bot, "!inc create Disk full on db1"))
    clock.advance(hours=2, minutes=10)
    assert ask(bot, "!inc list").split("\n") == [
        f"#1 {first} P1 gateway open, no coordinator, 2h 13m: Gateway 5xx >5%",
        f"#2 {second} P2 general open, no coordinator, 2h 10m: Disk full on db1",
    ]
    assert ask(bot, "!inc list gateway") == \
        f"#1 {first} P1 gateway open, no coordinator, 2h 13m: Gateway 5xx >5%"
    assert ask(bot, "!inc list nothing") == "No open incidents of nothing."


def test_a_change_is_a_timeline_event_with_who_when_and_what(incidents_bot, clock):
    bot = incidents_bot()
    found = created_id(ask(bot, "!inc create API latency"))
    clock.advance(minutes=5)
    assert ask(bot, f"!inc log {found} rolled back 1.4.2") == f"Logged on {found}."
    assert ask(bot, "!inc sev 1 p1") == f"{found} is now P1."
    assert ask(bot, "!inc coordinator 1 carol") == f"carol now coordinates {found}."
    lines = ask(bot, f"!inc show {found}").split("\n")
    assert lines[0] == f"#1 {found} P1 general open, coordinator carol, 5m: API latency"
    assert lines[1].startswith("env prod, started 2026-03-02T09:00:00.000000Z, opened by "
                               "test:alice; document: ")
    assert lines[2:] == [
        "03-02 09:00 alice created: API latency",
        "03-02 09:05 alice comment: rolled back 1.4.2",
        "03-02 09:05 alice severity: P2 -> P1",
        "03-02 09:05 alice coordinator: carol",
    ]


def test_status_goes_open_resolved_closed_and_reopen_back(incidents_bot):
    bot = incidents_bot()
    found = created_id(ask(bot, "!inc create Queue backlog"))
    assert ask(bot, "!inc close 1") == f"{found} is open: resolve it first."
    assert ask(bot, "!inc resolve 1") == f"Resolved {found}."
    assert ask(bot, "!inc list") == "No open incidents."  # resolved: out of the list
    assert ask(bot, "!inc resolve 1") == f"{found} is already resolved."
    assert ask(bot, "!inc log 1 still watching") == f"Logged on {found}."  # open for follow-up
    assert ask(bot, "!inc close 1") == f"Closed {found}."
    assert ask(bot, "!inc resolve 1") == f"{found} is closed: reopen it first."
    assert ask(bot, "!inc reopen 1") == f"Reopened {found}."
    assert ask(bot, "!inc reopen 1") == f"{found} is already open."
    assert ask(bot, "!inc list").startswith(f"#1 {found} P2 general open,")


def test_short_ids_numbers_and_ambiguity(incidents_bot, clock):
    bot = incidents_bot()
    first = created_id(ask(bot, "!inc create one"))
    clock.advance(seconds=1)  # numbers follow the creation time
    second = created_id(ask(bot, "!inc create two"))
    short = first.rsplit("_", 1)[1]
    assert ask(bot, f"!inc log {short} via short id") == f"Logged on {first}."
    assert ask(bot, "!inc log #2 via number") == f"Logged on {second}."
    assert ask(bot, "!inc log 3 nothing") == \
        "No incident '3'. Use its full id, its last part, or its number."
    # another tool wrote an incident whose id ends the same: the short form is ambiguous
    store = store_of(bot)
    twin = replace(store.incident(second), id=f"inc_20260101_0000_{short}",
                   created_at="2026-01-01T00:00:00.000000Z")
    store.write(Batch((twin,)))
    assert ask(bot, f"!inc log {short} x") == \
        f"'{short}' could be {twin.id}, {first}: use the full id."
    assert ask(bot, f"!inc log {first} x") == f"Logged on {first}."
    assert ask(bot, "!inc log 1 x") == f"Logged on {twin.id}."  # numbers follow creation


def test_mistakes_get_the_subcommands_usage_line(incidents_bot):
    bot = incidents_bot()
    assert ask(bot, "!inc create") == \
        "missing title. Usage: !incident create [--sev P0-P3] [--service S] [--env E] <title>"
    assert ask(bot, "!inc create --sev P7 x") == "'P7' is no severity: use one of P0, P1, P2, P3."
    assert ask(bot, "!inc create --colour red x") == ("unknown option --colour. Usage: "
        "!incident create [--sev P0-P3] [--service S] [--env E] <title>")
    assert ask(bot, "!inc log 1") == "missing text. Usage: !incident log <id> <text>"
    assert ask(bot, "!inc show") == "missing id. Usage: !incident show <id>"
    assert ask(bot, "!inc show 1 2") == "too many arguments: '2'. Usage: !incident show <id>"
    assert ask(bot, "!inc fly").startswith("No subcommand 'fly'. Subcommands: create, list, ")
    assert ask(bot, "!inc help sev") == "!incident sev <id> <P0|P1|P2|P3> - change the severity"
    assert ask(bot, "!inc").startswith("Incident subcommands: create, list, show,")


def test_long_lists_are_bounded_in_one_reply(incidents_bot, clock):
    bot = incidents_bot(max_lines=4)
    for number in range(6):
        ask(bot, f"!inc create outage {number}")
        clock.advance(seconds=1)
    (reply,) = bot.ask("!inc list", sender="alice", private=True)
    lines = reply.split("\n")
    assert len(lines) == 4
    assert lines[-1] == "... and 3 more; narrow it down: list <service>"


def test_help_lists_the_command_with_its_alias(incidents_bot):
    bot = incidents_bot("help")
    assert ask(bot, "!help incident") == ("!incident [subcommand...] - Incidents: create, list, "
                                          "show, log, resolve... (incident help lists them "
                                          "all). (also: inc)")
