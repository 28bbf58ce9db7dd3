"""The feeds plugin against a local server replaying recorded RSS and Atom responses."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.plugins.servers import HttpServer, Reply, recorded
from univac.kit.fetch import FetchError
from univac.plugins.feeds import Feed, parse

T0 = datetime(2026, 11, 22, 20, 0, tzinfo=UTC)
BASE = "https://feeds.example/news/feed.xml"
LAUGHS = """<?xml version="1.0" encoding="{encoding}"?>
<!DOCTYPE rss [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
]>
<rss version="2.0"><channel><title>&lol2;</title>
<item><title>&lol2;</title><guid>x</guid></item></channel></rss>
"""
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


@pytest.mark.parametrize("fixture", ["laughs.http", "external.http", "not_a_feed.http"])
def test_dangerous_xml_or_no_feed_fails_the_run_and_says_nothing(univac_bot, server, fixture):
    server.record("feeds", "/bad.xml", fixture)
    server.route("/secret.txt", Reply(200, {"Content-Type": "text/plain"}, b"TOP SECRET"))
    bot = make(univac_bot, server, "/bad.xml")
    with pytest.raises(AssertionError, match="FetchError"):
        bot.tick("feeds", now=T0)
    assert bot.said() == []
    assert [seen.path for seen in server.requests()] == ["/bad.xml"]  # no external fetch
    assert any("poller feeds.poll" in line and "FetchError" in line
               for line in bot.ask("!status", transport="irc"))


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-32", "iso-8859-1"])
def test_entity_declarations_are_refused_before_parsing_in_any_encoding(encoding):
    with pytest.raises(FetchError, match="declares entities"):
        parse(LAUGHS.format(encoding=encoding).encode(encoding), BASE)


def test_a_flat_entity_is_refused_too():
    """feedparser itself would expand this one: 1 kB times 2,000 references."""
    body = ('<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY a "' + "x" * 1000 + '">\n]>\n'
            '<rss version="2.0"><channel><title>t</title><item><title>' + "&a;" * 2000
            + "</title><guid>q</guid></item></channel></rss>")
    with pytest.raises(FetchError, match="declares entities"):
        parse(body.encode(), BASE)


def test_an_external_dtd_is_never_fetched(univac_bot, server):
    server.record("feeds", "/dtd.xml", "external_dtd.http")
    server.route("/evil.dtd", Reply(200, {"Content-Type": "application/xml-dtd"},
                                    b'<!ENTITY secret "pwned">'))
    make(univac_bot, server, "/dtd.xml").tick("feeds", now=T0)
    feed = parse(recorded("feeds", "external_dtd.http", server.base).body, BASE)
    assert feed.title == "Outside DTD"
    assert "pwned" not in feed.entries[0].line
    assert [seen.path for seen in server.requests()] == ["/dtd.xml"]


def lines(fixture: str) -> tuple[str, list[str]]:
    reply = recorded("feeds", fixture)
    feed: Feed = parse(reply.body, BASE, reply.headers.get("Content-Type", ""))
    return feed.title, [item.line for item in feed.entries]


@pytest.mark.parametrize(("fixture", "title", "first"), [
    ("rss090.http", "Mozilla Dot Org",
     "[Mozilla Dot Org] New Status Updates http://www.mozilla.org/status/"),
    ("rss091.http", "Café Quarterly",  # Netscape DOCTYPE and HTML entities
     "[Café Quarterly] Crème brûlée & more http://cafe.example/2"),
    ("cp1252_as_utf8.http", "Café du Nord",  # declared UTF-8, written in Windows-1252
     "[Café du Nord] Naïve “quotes” — and a dash https://nord.example/1"),
    ("sloppy.http", "Fish & Chips Weekly",  # bare &, &nbsp;, an unclosed <br>
     "[Fish & Chips Weekly] Mushy peas & vinegar http://chips.example/2"),
])
def test_odd_real_world_feeds_are_read(fixture, title, first):
    found_title, found = lines(fixture)
    assert found_title == title
    assert found[0] == first


def test_relative_links_follow_xml_base_then_the_feed_url():
    assert lines("xml_base.http")[1] == [
        "[Relative news] Under the feed's base https://ops.example/news/12",
        "[Relative news] Under the entry's base https://ops.example/archive/11",
        "[Relative news] No base at all https://ops.example/10",
    ]


def test_dates_in_odd_formats_put_entries_in_time_order():
    """Listed oldest first, dated in five formats: announced oldest first all the same."""
    reply = recorded("feeds", "odd_dates.http")
    keys = [item.key for item in parse(reply.body, BASE).entries]
    assert keys == ["d6", "d5", "d4", "d3", "d2"]  # newest first, as fresh() expects
    undated = reply.body.replace(b"Fri Nov  6 10:00:00 2026", b"sometime soon")
    assert [item.key for item in parse(undated, BASE).entries] == ["d2", "d3", "d4", "d5", "d6"]


def without_item(reply: Reply, marker: bytes) -> Reply:
    """The same response without the ``<item>`` holding ``marker``."""
    item = rb"<item>(?:(?!</item>).)*?" + re.escape(marker) + rb".*?</item>"
    return Reply(reply.status, reply.headers, re.sub(item, b"", reply.body, flags=re.S))


def test_a_malformed_feed_still_announces_its_new_entries(univac_bot, server):
    full = recorded("feeds", "sloppy.http")
    server.route("/chips.xml", without_item(full, b"Mushy peas"), full)
    bot = make(univac_bot, server, "/chips.xml")
    assert bot.tick("feeds", now=T0) == []
    assert texts(bot.tick("feeds", now=T0 + STEP)) == [
        "[Fish & Chips Weekly] Mushy peas & vinegar http://chips.example/2"
    ]


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
