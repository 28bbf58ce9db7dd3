"""The links plugin against local pages, including its request-forgery guard."""

from __future__ import annotations

import logging
import socket
import ssl
import threading
from collections.abc import Iterator

import pytest
import requests

from tests.integration.irc_servers import make_cert
from tests.plugins.servers import HttpServer, Reply
from univac.kit.fetch import Blocked, FetchError, Guard, Limits, fetch

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


def connections_before_ours(server: HttpServer) -> int:
    """Connections the server accepted before one we open now (the backlog is FIFO)."""
    assert requests.get(f"{server.base}/ours", timeout=10).status_code == 404
    return server.connections - 1


def test_a_name_resolving_to_loopback_gets_no_connection_at_all(univac_bot, server):
    bot = univac_bot("links", settings={"links": {"channels": ["#test"]}})
    port = server.base.rsplit(":", 1)[1]
    assert bot.ask(f"http://localhost:{port}/schedule") == []
    assert bot.ask(f"{server.base}/schedule") == []
    assert connections_before_ours(server) == 0


def test_a_name_with_any_internal_address_is_refused_before_connecting(server):
    port = int(server.base.rsplit(":", 1)[1])
    guard = Guard(resolve=lambda host, port: ["93.184.215.14", "127.0.0.1"])
    with pytest.raises(Blocked):
        fetch(f"http://mixed.test:{port}/schedule", Limits(2.0), guard=guard)
    assert connections_before_ours(server) == 0


def test_the_checked_address_is_used_and_the_name_stays_in_the_host_header(server):
    port = int(server.base.rsplit(":", 1)[1])
    asked: list[tuple[str, int]] = []

    def resolve(host: str, port: int) -> list[str]:
        asked.append((host, port))
        return ["127.0.0.1"]

    server.route("/hop", Reply(302, {"Location": "/schedule"}))
    guard = Guard(LOCAL, resolve=resolve)
    response = fetch(f"http://intranet.test:{port}/hop", Limits(2.0), guard=guard)
    assert response.status == 200  # "intranet.test" does not resolve: no second lookup
    assert asked and set(asked) == {("intranet.test", port)}
    assert [seen.headers["host"] for seen in server.requests()] == [f"intranet.test:{port}"] * 2


def test_tls_keeps_the_name_for_sni_and_still_verifies_the_certificate(tmp_path):
    cert, key = make_cert(tmp_path, "site", "/CN=intranet.test")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    names: list[str | None] = []
    context.sni_callback = lambda _sock, name, _context: names.append(name)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        def handshake() -> None:
            conn, _ = listener.accept()
            with conn, pytest.raises(ssl.SSLError):
                context.wrap_socket(conn, server_side=True)

        server = threading.Thread(target=handshake, daemon=True)
        server.start()
        port = listener.getsockname()[1]
        guard = Guard(LOCAL, resolve=lambda host, port: ["127.0.0.1"])
        with pytest.raises(FetchError, match="SSLError"):  # self-signed: not trusted
            fetch(f"https://intranet.test:{port}/", Limits(5.0), guard=guard)
        server.join(10)
    assert names == ["intranet.test"]


def test_malformed_links_are_ignored_quietly(univac_bot, server, caplog):
    bot = make(univac_bot)
    with caplog.at_level(logging.INFO):
        said = bot.ask(f"see http://[::1/ and http://example.com:99999/ then {server.base}/cafe")
    assert said == ["[ Café crème menü ] - 127.0.0.1"]
    assert bot.bot.metrics().counters.get("handler_errors", 0) == 0
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


@pytest.mark.parametrize("url", ["http://[::1/", "http://example.com:99999/", "ftp://x/"])
def test_fetch_turns_a_malformed_url_into_a_fetch_error(url):
    with pytest.raises(FetchError):
        fetch(url, Limits(1.0), guard=Guard())


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
