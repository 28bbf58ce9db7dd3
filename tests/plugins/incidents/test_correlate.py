"""``correlate``: related incidents scored by rules (exact numbers, and what holds for
any incidents), and the subcommand with its roles, privacy and ``--append``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from tests.plugins.incidents.helpers import ask, created_id, store_of
from univac.plugins.incidents.correlate import distance, related, score, words
from univac.plugins.incidents.model import Incident, timestamp

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DAY = 86400.0


def incident(name: str, title: str, service: str, hours: float, signature: str = ""
             ) -> Incident:
    at = timestamp(T0 + timedelta(hours=hours))
    meta = {"signature": signature} if signature else {}
    return Incident(f"inc_20260302_0900_{name}", title, service, "prod", "P2", "open", at,
                    "alertmanager", at, at, meta=meta)


A = incident("aaaaaa", "Database latency high on the api", "api", 0, "DatabaseLatencyHigh/api/prod")
B = incident("bbbbbb", "API database latency high again", "API", -6, "DatabaseLatencyHigh/api/prod")
C = incident("cccccc", "Checkout database timeouts", "checkout", 2)
D = incident("dddddd", "Certificate expiry", "api", 30)
E = incident("eeeeee", "Queue backlog", "billing", 23.5)


def test_words_are_lower_case_without_stop_words_or_single_characters() -> None:
    assert words("The API's p99 latency is high on db-1 (a 5xx storm)") == {
        "api", "p99", "latency", "high", "db", "5xx", "storm"}


def test_scores_add_signature_service_time_and_words() -> None:
    best = score(A, B, DAY)
    assert best.score == 8.5  # 3 + 2 + 2 * (1 - 6/24) + 2 * 4/4
    assert best.reasons == ("same signature", "same service", "6 h apart",
                            "words: api, database, high, latency")
    other = score(A, C, DAY)
    assert other.score == round(2 * (1 - 2 / 24) + 2 * 1 / 6, 6) == 2.166667
    assert other.why() == "2 h apart, words: database"
    assert score(A, D, DAY).score == 2.0 and score(A, D, DAY).reasons == ("same service",)
    assert score(A, E, DAY).score == round(2 * (0.5 / 24), 6)


def test_related_keeps_the_best_few_scoring_one_or_more() -> None:
    found = related(A, [E, D, C, B, A], DAY, 3)
    assert [(r.incident.id[-6:], r.score) for r in found] == [
        ("bbbbbb", 8.5), ("cccccc", 2.166667), ("dddddd", 2.0)]
    assert [r.incident.id[-6:] for r in related(A, [E, D, C, B, A], DAY, 1)] == ["bbbbbb"]
    assert related(E, [A, E], DAY, 3) == []


def test_distances_read_as_people_say_them() -> None:
    assert [distance(timedelta(seconds=s)) for s in (40, 754, 7300, 3 * 86400 + 5)] == [
        "40 s", "12 min", "2 h", "3 d"]


TITLE_WORDS = st.sampled_from(["database", "latency", "api", "the", "high", "disk", "full",
                               "checkout", "on", "5xx"])
SOME_INCIDENT = st.builds(
    lambda name, title, service, minutes, mark: incident(
        name, " ".join(title), service, minutes / 60, mark),
    st.text("abcdef", min_size=6, max_size=6), st.lists(TITLE_WORDS, max_size=6),
    st.sampled_from(["api", "API", "db", "checkout"]),
    st.integers(-4 * 24 * 60, 4 * 24 * 60), st.sampled_from(["", "X/api/prod", "Y/db/prod"]))


@given(SOME_INCIDENT, SOME_INCIDENT, st.floats(60, 7 * DAY))
def test_the_score_is_the_same_both_ways_and_at_most_nine(one, other, window) -> None:
    there, back = score(one, other, window), score(other, one, window)
    assert there.score == back.score and there.reasons == back.reasons
    assert 0 <= there.score <= 9


@given(SOME_INCIDENT, SOME_INCIDENT, st.floats(60, 7 * DAY), st.floats(0, 1))
def test_the_closer_in_time_the_higher(one, other, window, closer) -> None:
    apart = datetime.fromisoformat(other.started_at) - datetime.fromisoformat(one.started_at)
    moved = other.changed(T0, started_at=timestamp(
        datetime.fromisoformat(one.started_at) + apart * closer))
    assert score(one, moved, window).score >= score(one, other, window).score


def audit(bot) -> list[dict]:
    path = Path(bot.bot.audit.path)
    bot.bot.audit.close()
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_the_subcommand_lists_reads_and_appends_for_writers(incidents_bot, clock) -> None:
    bot = incidents_bot()
    first = created_id(ask(bot, "!inc create --service api Database latency high"))
    clock.advance(hours=2)
    second = created_id(ask(bot, "!inc create --service api Database latency again"))
    clock.advance(minutes=30)
    third = created_id(ask(bot, "!inc create --service mail Spam filter down"))
    reply = ask(bot, f"!inc correlate {second}", who="bob")
    assert reply.splitlines() == [
        f"Related to {second}:",
        # 2 + 2 * (1 - 2/24) + 2 * 2/3 = 5.166667
        f"{first} P2 api open, score 5.17: same service, 2 h apart, words: database, "
        "latency; Database latency high",
        # 2 * (1 - 30/1440) = 1.958333: time alone
        f"{third} P2 mail open, score 1.96: 30 min apart; Spam filter down",
    ]
    assert ask(bot, f"!inc correlate {second} --append", who="bob") == \
        "You need the 'sre' role to append to incidents."
    appended = ask(bot, f"!inc correlate --append {second}")
    assert appended.splitlines()[0] == f"Related to {second} (appended to the timeline):"
    (event,) = store_of(bot).events(second, ("correlation",))
    assert event.message == (f"related: {first} (5.17: same service, 2 h apart, words: "
                             f"database, latency); {third} (1.96: 30 min apart)")
    assert [(r["id"], r["score"]) for r in event.meta["related"]] == [
        (first, 5.166667), (third, 1.958333)]
    assert ask(bot, f"!inc show {second}").splitlines()[-1].startswith(
        f"{clock.now:%m-%d %H:%M} alice correlation: related: {first}")
    records = [(r["action"], r["outcome"]) for r in audit(bot)
               if r["action"] == "incident.correlate"]
    assert records == [("incident.correlate", "refused"), ("incident.correlate", "done")]


def test_details_only_where_they_may_be_shown(incidents_bot) -> None:
    bot = incidents_bot()
    found = created_id(ask(bot, "!inc create --service api Database latency high"))
    assert ask(bot, f"!inc correlate {found}", private=False) == \
        f"{found} is an incident; for details ask me in a private message."
    assert ask(bot, f"!inc correlate {found} --append", private=False) == (
        f"0 related incident(s) of {found} (appended to the timeline); for details ask me "
        "in a private message.")
    assert ask(bot, f"!inc correlate {found}") == f"No incident is related to {found}."
    assert ask(bot, f"!inc correlate {found}", who="eve") == \
        "You need the 'oncall' or 'sre' role to read incidents."
    assert ask(bot, "!inc correlate") == \
        "missing id. Usage: !incident correlate <id> [--append]"
    assert ask(bot, f"!inc correlate {found} extra") == \
        "unexpected 'extra'. Usage: !incident correlate <id> [--append]"


def test_the_subcommand_reads_the_incidents_once(incidents_bot, monkeypatch) -> None:
    bot = incidents_bot()
    found = created_id(ask(bot, "!inc create --service api Database latency high"))
    ask(bot, "!inc create --service api Database latency again")
    store, reads = store_of(bot), []
    every = store.incidents
    monkeypatch.setattr(store, "incidents", lambda: reads.append(1) or every())
    assert ask(bot, f"!inc correlate {found}").startswith(f"Related to {found}:")
    assert len(reads) == 1
