"""The feeds plugin against a local server replaying recorded RSS and Atom responses."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.plugins.servers import HttpServer

T0 = datetime(2026, 11, 22, 20, 0, tzinfo=UTC)
STEP = timedelta(seconds=61)


@pytest.fixture
def server() -> Iterator[HttpServer]:
    with HttpServer() as running:
        yield running


def make(univac_bot, server: HttpServer, *paths: str, state_dir=None, **extra: object):
    table = {
        "feeds": [server.base + path for path in paths], "targets": ["irc:#news"],
        "interval_s": 60, "timeout_s": 2.0,
    }
    options = {"state_dir": state_dir} if state_dir else {}
    return univac_bot(
        "feeds", "status", settings={"feeds": table | extra}, transports=("irc",), **options
    )


def texts(said: list[tuple[str, str]]) -> list[str]:
    return [text for _, text in said]


def test_rss_first_run_is_silent_then_new_entries_are_announced(univac_bot, server):
    server.record("feeds", "/blog.xml", "rss_initial.http", "rss_new.http")
    bot = make(univac_bot, server, "/blog.xml")
    assert bot.tick("feeds", now=T0) == []
    assert bot.tick("feeds", now=T0 + STEP) == [
        ("irc:#news", "[Rocket Blog] Stage two https://rocket.example/blog/3/"),
        ("irc:#news", "[Rocket Blog] Telemetry live https://rocket.example/blog/4/"),
    ]
    assert bot.tick("feeds", now=T0 + 2 * STEP) == []
    last = server.requests("/blog.xml")[-1]
    assert last.headers["if-none-match"] == '"rss-2"'
    assert last.headers["if-modified-since"] == "Sun, 22 Nov 2026 19:30:00 GMT"


def test_atom_uses_last_modified_alternate_links_and_html_titles(univac_bot, server):
    server.record("feeds", "/changelog.atom", "atom_initial.http", "atom_new.http")
    bot = make(univac_bot, server, "/changelog.atom")
    bot.tick("feeds", now=T0)
    said = texts(bot.tick("feeds", now=T0 + STEP))
    assert said == [f"[Ops changelog] Upgrade Postgres to 17 {server.base}/changelog/12"]
    assert bot.tick("feeds", now=T0 + 2 * STEP) == []
    last = server.requests("/changelog.atom")[-1]
    assert last.headers["if-modified-since"] == "Sun, 22 Nov 2026 19:40:00 GMT"


def test_rss_1_0_rdf_feeds_are_read(univac_bot, server):
    server.record("feeds", "/news.rdf", "rdf_initial.http", "rdf_new.http")
    bot = make(univac_bot, server, "/news.rdf")
    bot.tick("feeds", now=T0)
    assert texts(bot.tick("feeds", now=T0 + STEP)) == [
        "[Old News] Old story 2 https://old.example/2"
    ]


def test_restart_neither_repeats_nor_floods(univac_bot, server, tmp_path):
    server.record("feeds", "/blog.xml", "rss_initial.http")
    first = make(univac_bot, server, "/blog.xml", max_announce=3, state_dir=tmp_path / "s")
    first.tick("feeds", now=T0)
    first.close()
    server.record("feeds", "/blog.xml", "rss_burst.http")
    again = make(univac_bot, server, "/blog.xml", max_announce=3, state_dir=tmp_path / "s")
    assert texts(again.tick("feeds", now=T0 + STEP)) == [
        "[Rocket Blog] Stage two https://rocket.example/blog/3/",
        "[Rocket Blog] Telemetry live https://rocket.example/blog/4/",
        "[Rocket Blog] Countdown https://rocket.example/blog/5/",
        "[Rocket Blog] ... and 4 more new entries",
    ]


@pytest.mark.parametrize("fixture", ["laughs.http", "external.http", "broken.http"])
def test_dangerous_or_broken_xml_fails_the_run_and_says_nothing(univac_bot, server, fixture):
    server.record("feeds", "/bad.xml", fixture)
    bot = make(univac_bot, server, "/bad.xml")
    with pytest.raises(AssertionError, match="FetchError"):
        bot.tick("feeds", now=T0)
    assert bot.said() == []
    assert any("poller feeds.poll" in line and "FetchError" in line
               for line in bot.ask("!status", transport="irc"))


def test_a_throttled_feed_waits_for_retry_after_while_others_go_on(univac_bot, server):
    server.record("feeds", "/busy.xml", "throttled.http", "rss_initial.http")
    server.record("feeds", "/changelog.atom", "atom_initial.http", "atom_new.http")
    bot = make(univac_bot, server, "/busy.xml", "/changelog.atom")
    with pytest.raises(AssertionError, match="FetchError"):
        bot.tick("feeds", now=T0)
    assert texts(bot.tick("feeds", now=T0 + STEP)) == [  # busy.xml waits, quietly
        f"[Ops changelog] Upgrade Postgres to 17 {server.base}/changelog/12"
    ]
    assert len(server.requests("/busy.xml")) == 1
    assert len(server.requests("/changelog.atom")) == 2
    bot.tick("feeds", now=T0 + timedelta(seconds=301))
    assert len(server.requests("/busy.xml")) == 2
