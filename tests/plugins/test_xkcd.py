"""The xkcd plugin against a local server replaying recorded xkcd JSON responses."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.plugins.servers import HttpServer, Reply

WOODPECKER = ("xkcd 614: Woodpecker (2009) - If you don't have an extension cord I can get "
              "that too. Because we're friends! Right?")
MOM = ("xkcd 327: Exploits of a Mom (2007) - Her daughter is named Help I'm trapped in a "
       "driver's license factory.")


class Clock:
    def __init__(self) -> None:
        self.at = datetime(2026, 11, 22, 20, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def server() -> Iterator[HttpServer]:
    with HttpServer() as running:
        running.record("xkcd", "/614/info.0.json", "614.http")
        running.record("xkcd", "/327/info.0.json", "327.http")
        running.record("xkcd", "/info.0.json", "latest.http")
        running.record("xkcd", "/404/info.0.json", "404.http")
        yield running


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def bot(univac_bot, server, clock):
    table = {"base_url": server.base, "timeout_s": 0.5, "max_links": 2, "repeat_s": 600}
    return univac_bot("xkcd", settings={"xkcd": table}, clock=clock)


def test_links_in_a_message_get_one_summary_each(bot):
    said = bot.ask("see https://www.xkcd.com/614/ and m.xkcd.com/327 or xkcd.com/614")
    assert said == [WOODPECKER, MOM]


def test_summaries_per_message_are_bounded(bot):
    assert len(bot.ask("xkcd.com/614 xkcd.com/327 xkcd.com/1 xkcd.com/2")) == 2


def test_the_same_comic_is_not_repeated_in_a_channel_within_the_interval(bot, clock):
    assert bot.ask("xkcd.com/614") == [WOODPECKER]
    assert bot.ask("again: https://xkcd.com/614/") == []
    assert bot.ask("xkcd.com/614", target="#other") == [WOODPECKER]
    clock.at += timedelta(seconds=601)
    assert bot.ask("xkcd.com/614") == [WOODPECKER]


def test_comics_are_cached(bot, server):
    assert bot.ask("!xkcd 614") == [WOODPECKER]
    assert bot.ask("!xkcd 614") == [WOODPECKER]
    assert len(server.requests("/614/")) == 1
    assert server.requests("/614/")[0].headers["user-agent"].startswith("Univac/")


def test_latest_comic_is_cleaned_to_one_safe_line(bot, server):
    (line,) = bot.ask("!xkcd")
    assert line == ('xkcd 3020: Clichéd "Exchanges" (2026) - Line one line two '
                    "PRIVMSG #x :and & more")
    bot.ask("!xkcd")
    assert len(server.requests("/info.0.json")) == 1


def test_missing_comic_and_bad_number_give_short_replies(bot):
    assert bot.ask("!xkcd 404") == ["There is no xkcd 404."]
    assert bot.ask("!xkcd -3") == ["xkcd comics are numbered from 1."]
    assert bot.ask("!xkcd two")[0].startswith("number: expected int")
    assert bot.ask("xkcd.com/404") == []


def test_timeouts_are_a_short_reply_for_commands_and_silence_for_links(bot, server):
    hold = threading.Event()
    server.route("/1/info.0.json", Reply(200, {"Content-Type": "application/json"}, b"{}", hold))
    try:
        assert bot.ask("!xkcd 1") == ["xkcd did not answer; try again later."]
        assert bot.ask("xkcd.com/1") == []
    finally:
        hold.set()
