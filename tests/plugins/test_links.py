"""The links plugin against local pages, including its request-forgery guard."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.plugins.servers import HttpServer, Reply
from univac.plugins._http import Guard

LOCAL = ["127.0.0.1/32"]


@pytest.fixture
def server() -> Iterator[HttpServer]:
    with HttpServer() as running:
        running.record("links", "/news/rocket-2", "og_title.http")
        running.record("links", "/schedule", "plain_title.http")
        running.record("links", "/cafe", "latin1.http")
        running.record("links", "/long", "late_title.http")
        running.record("links", "/logo.png", "image.http")
        running.record("links", "/old-news", "moved.http")
        running.record("links", "/loop", "loop.http")
        yield running


def make(univac_bot, **settings: object):
    table = {"channels": ["#test", "irc:#ops"], "allow_networks": LOCAL, "timeout_s": 2.0}
    return univac_bot("links", settings={"links": table | settings}, transports=("test", "irc"))


def test_og_title_is_preferred_and_links_are_read_once(univac_bot, server):
    bot = make(univac_bot)
    url = f"{server.base}/news/rocket-2"
    assert bot.ask(f"look: {url}, and ({url})") == [
        "[ Rocket 2.0 released: stage two telemetry ] - 127.0.0.1"
    ]
    (request,) = server.requests("/news")
    assert request.headers["user-agent"].startswith("Univac/")


def test_title_is_one_clean_line(univac_bot, server):
    bot = make(univac_bot)
    assert bot.ask(f"{server.base}/schedule") == [
        "[ Launch schedule & PRIVMSG #ops :hi ] - 127.0.0.1"
    ]


def test_declared_charset_is_honoured(univac_bot, server):
    assert make(univac_bot).ask(f"{server.base}/cafe") == ["[ Café crème menü ] - 127.0.0.1"]


def test_only_opted_in_channels_get_titles(univac_bot, server):
    bot = make(univac_bot)
    assert bot.ask(f"{server.base}/schedule", target="#quiet") == []
    assert bot.ask(f"{server.base}/cafe", target="#ops", transport="irc") != []
    assert [s.path for s in server.requests()] == ["/cafe"]


def test_only_html_is_read_and_only_the_first_bytes(univac_bot, server):
    bot = make(univac_bot, max_bytes=2048)
    assert bot.ask(f"{server.base}/logo.png") == []
    assert bot.ask(f"{server.base}/long") == []
    assert len(server.requests()) == 2


def test_redirects_are_followed_up_to_a_bound(univac_bot, server):
    bot = make(univac_bot, max_redirects=2)
    assert bot.ask(f"{server.base}/old-news") == [
        "[ Rocket 2.0 released: stage two telemetry ] - 127.0.0.1"
    ]
    assert bot.ask(f"{server.base}/loop") == []
    assert len(server.requests("/loop")) == 3


def test_loopback_is_never_fetched_by_default(univac_bot, server):
    bot = univac_bot("links", settings={"links": {"channels": ["#test"]}})
    assert bot.ask(f"{server.base}/schedule") == []
    port = server.base.rsplit(":", 1)[1]
    assert bot.ask(f"http://localhost:{port}/schedule") == []
    assert bot.ask(f"http://[::ffff:127.0.0.1]:{port}/schedule") == []
    assert server.requests() == []


def test_a_redirect_to_a_disallowed_address_is_not_followed(univac_bot, server):
    with HttpServer("127.0.0.2") as inside:
        inside.route("/secret", Reply(200, {"Content-Type": "text/html"}, b"<title>x</title>"))
        server.route("/away", Reply(302, {"Location": f"{inside.base}/secret"}))
        bot = make(univac_bot)
        assert bot.ask(f"{server.base}/away") == []
        assert len(server.requests("/away")) == 1
        assert inside.requests() == []


def test_xkcd_links_are_left_to_the_xkcd_plugin(univac_bot, server):
    assert make(univac_bot).ask("https://xkcd.com/614/") == []


@pytest.mark.parametrize(("address", "allowed"), [
    ("8.8.8.8", True), ("2606:4700:4700::1111", True),
    ("127.0.0.1", False), ("10.1.2.3", False), ("172.16.0.1", False), ("192.168.1.1", False),
    ("169.254.169.254", False), ("100.64.0.1", False), ("0.0.0.0", False), ("224.0.0.1", False),
    ("::1", False), ("fe80::1%eth0", False), ("fd00::1", False), ("::ffff:10.0.0.1", False),
])
def test_guard_allows_only_public_addresses(address, allowed):
    assert Guard().allows(address) is allowed


def test_guard_allow_list(univac_bot):
    assert Guard(["10.0.0.0/8"]).allows("10.9.8.7")
    assert not Guard(["10.0.0.0/8"]).allows("192.168.0.1")
    bot = univac_bot("links", settings={"links": {"allow_networks": ["not-a-net"]}})
    assert "plugins.links" in bot.errors


def test_links_per_message_are_bounded(univac_bot, server):
    bot = make(univac_bot, max_links=2)
    said = bot.ask(f"{server.base}/schedule {server.base}/cafe {server.base}/news/rocket-2")
    assert len(said) == 2
    assert len(server.requests()) == 2
