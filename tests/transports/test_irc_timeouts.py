"""Connect and TLS handshake timeouts of the IRC transport (127.0.0.1 only).

A TCP connect that hangs in the handshake is made on loopback with a listener whose
accept queue is already full: ``listen(0)`` holds one established connection that is
never accepted, and Linux then drops further SYNs, so ``connect()`` gets no answer at
all (until the kernel's own limit of about two minutes). The fixture checks that the
trick still works before a test relies on it.
"""

from __future__ import annotations

import itertools
import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.irc_servers import FakeClient
from tests.waiting import wait_for

SYN_SENT = "02"  # TCP state in /proc/net/tcp


class HangingPort:
    """A 127.0.0.1 port whose TCP handshake never completes, until ``release``."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(0)
        self.port = self.listener.getsockname()[1]
        self.filler = socket.create_connection(("127.0.0.1", self.port), timeout=2)
        self.accepted: list[socket.socket] = []

    def hangs(self, timeout: float = 0.3) -> bool:
        """True when a connect to the port times out (the precondition of the tests)."""
        with socket.socket() as probe:
            probe.settimeout(timeout)
            try:
                probe.connect(("127.0.0.1", self.port))
            except TimeoutError:
                return True
            return False

    def release(self) -> None:
        """Accept and drop the filler: the next connect completes (and waits in the queue)."""
        self.listener.settimeout(5)
        sock, _address = self.listener.accept()
        sock.close()
        self.filler.close()

    def accept(self, timeout: float = 5.0) -> FakeClient:
        """The next connection (after ``release``), as a scripted fake-server client."""
        self.listener.settimeout(timeout)
        sock, _address = self.listener.accept()
        self.accepted.append(sock)
        return FakeClient(sock)

    def close(self) -> None:
        for sock in (self.filler, self.listener, *self.accepted):
            sock.close()


@pytest.fixture
def hanging_port() -> Iterator[HangingPort]:
    """A loopback port where connect() hangs in the TCP handshake (list it after
    ``irc_bot``: its connections then close before the bot is stopped)."""
    port = HangingPort()
    try:
        if not port.hangs():
            pytest.fail(
                "a connect to a listen(0) socket with a full accept queue did not hang "
                "on this kernel; the connect-timeout tests need another way to hang"
            )
        yield port
    finally:
        port.close()


def syn_sent_to(port: int) -> int:
    """How many local TCP sockets are in SYN_SENT towards 127.0.0.1:``port``."""
    wanted = f"0100007F:{port:04X}"
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(line.split()[2] == wanted and line.split()[3] == SYN_SENT for line in lines)


def timeout_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records
            if record.name == "univac.transports.irc"
            and "connect timed out; reconnecting in" in record.getMessage()]  # fmt: skip


def test_hanging_connect_is_abandoned_after_connect_timeout_and_retried(
    irc_bot, hanging_port, caplog
):
    """A connect that gets no SYN-ACK is given up after ``connect_timeout_s``, reported in
    ``status()`` and the log, and dialled again with backoff; once the server accepts
    again, the bot connects and registers."""
    caplog.set_level(logging.WARNING, logger="univac.transports.irc")
    timeout = 0.4
    started = time.monotonic()
    bot = irc_bot(hanging_port.port, connect_timeout_s=timeout, reconnect_min_s=0.3,
                  reconnect_max_s=0.6)  # fmt: skip

    def in_handshake() -> bool:
        return bool(syn_sent_to(hanging_port.port)) and bot.transport.status().state == "connecting"

    wait_for(in_handshake, 2, "the bot's SYN to the full listener, unanswered")

    detail = wait_for(lambda: bot.transport.status().detail, 5, "the timeout in status()")
    given_up = time.monotonic() - started
    assert detail == f"('127.0.0.1', {hanging_port.port}): connect timed out"
    assert timeout <= given_up < timeout + 1.5, given_up  # the kernel alone would wait ~2 min

    records = wait_for(lambda: len(timeout_warnings(caplog)) >= 3 and timeout_warnings(caplog),
                       10, "three abandoned attempts")  # fmt: skip
    assert records[0].getMessage().startswith(f"irc-test: {detail}; reconnecting in ")
    for earlier, later in itertools.pairwise(records):
        gap = later.created - earlier.created  # backoff (<= 0.6 s), then a full timeout
        assert timeout <= gap < timeout + 0.6 + 1.5, gap
    assert bot.thread.is_alive() and not bot.error

    hanging_port.release()
    client = hanging_port.accept(timeout=5)
    client.register()
    wait_for(lambda: bot.transport.status().state == "connected", 5, "connected after all")
    assert bot.transport.status().detail == ""


def test_stop_while_connect_hangs_returns_promptly(irc_bot, hanging_port, caplog):
    """``stop()`` cancels a hanging connect without waiting for ``connect_timeout_s``."""
    caplog.set_level(logging.WARNING, logger="univac.transports.irc")
    bot = irc_bot(hanging_port.port, connect_timeout_s=30)
    wait_for(lambda: syn_sent_to(hanging_port.port), 2, "the bot's SYN to the full listener")
    started = time.monotonic()
    bot.stop()
    assert time.monotonic() - started < 2
    assert bot.transport.status().state == "stopped"
    assert not timeout_warnings(caplog)
    assert not syn_sent_to(hanging_port.port)


def test_tls_handshake_timeout_bounds_a_silent_server(irc_fake, irc_bot, caplog):
    """A server that accepts but never answers the ClientHello is dropped after about
    ``tls_handshake_timeout_s``, reported, and dialled again."""
    caplog.set_level(logging.WARNING, logger="univac.transports.irc")
    timeout = 0.4
    server = irc_fake()  # plain TCP: it never speaks TLS
    bot = irc_bot(server.port, tls=True, tls_handshake_timeout_s=timeout, reconnect_min_s=0.3,
                  reconnect_max_s=0.6)  # fmt: skip
    client = server.accept()
    accepted = time.monotonic()
    assert client.closed(timeout=5)
    held = time.monotonic() - accepted
    assert timeout - 0.1 <= held < timeout + 1.5, held
    assert client.buffer.startswith(b"\x16\x03")  # it was a TLS ClientHello
    detail = wait_for(lambda: bot.transport.status().detail, 5, "the timeout in status()")
    assert detail.startswith("TLS handshake: ") and "timed out" in detail
    assert any(detail in record.getMessage() for record in caplog.records)
    server.accept(timeout=5)  # the next attempt


def test_tls_handshake_timeout_bounds_a_trickling_server(irc_fake, irc_bot):
    """A server that answers the ClientHello a byte at a time, each byte well within the
    timeout, does not keep the bot in the handshake: ``tls_handshake_timeout_s`` bounds
    the whole handshake, not each read."""
    timeout = 0.4
    server = irc_fake()
    irc_bot(server.port, tls=True, tls_handshake_timeout_s=timeout)
    client = server.accept()
    accepted = time.monotonic()
    stop = threading.Event()
    sent: list[int] = []

    def trickle() -> None:  # a TLS handshake record header announcing 16 KiB, then 10 B/s
        try:
            client.sock.sendall(b"\x16\x03\x03\x40\x00")
            while not stop.wait(0.1):
                client.sock.sendall(b"\x00")
                sent.append(1)
        except OSError:
            return

    threading.Thread(target=trickle, daemon=True, name="trickle").start()
    try:
        assert client.closed(timeout=timeout + 2.5), "still in the TLS handshake"
    finally:
        stop.set()
    held = time.monotonic() - accepted
    assert timeout - 0.1 <= held < timeout + 1.5, held
    assert len(sent) >= 2  # bytes kept coming while the bot waited


def test_stop_during_a_stalled_tls_handshake_returns_promptly(irc_fake, irc_bot):
    """``stop()`` ends a TLS handshake the server never answers without waiting for
    ``tls_handshake_timeout_s``."""
    server = irc_fake()  # plain TCP: it never speaks TLS
    bot = irc_bot(server.port, tls=True, tls_handshake_timeout_s=30)
    client = server.accept()
    wait_for(lambda: client.closed(timeout=0.05) or client.buffer.startswith(b"\x16\x03"), 5,
             "the bot's ClientHello")  # fmt: skip
    started = time.monotonic()
    bot.stop()
    assert time.monotonic() - started < 2
    assert bot.transport.status().state == "stopped"
    assert client.closed(timeout=2)


# dead links: a server that never speaks, a link that goes silent -----------------------


def test_default_timeouts_redial_a_dead_link_within_30_s():
    """With the default settings both dead-link cases are redialled within 30 s: a QUIT
    to a silent server costs at most 0.5 s more (``LinkIO._quit`` stops reading after
    half a second of silence) and the first redial waits at most ``reconnect_min_s``."""
    from univac.transports.irc import Settings

    s = Settings(host="irc.example.org")
    quit_wait = 0.5
    assert s.ping_interval_s + s.ping_timeout_s <= 30
    assert s.ping_interval_s + s.ping_timeout_s + quit_wait + s.reconnect_min_s <= 30
    assert s.first_byte_timeout_s <= 20
    assert s.first_byte_timeout_s + quit_wait + s.reconnect_min_s <= 30
    assert s.register_timeout_s > s.first_byte_timeout_s  # a slow registration gets longer


def test_server_that_accepts_and_never_speaks_is_redialled(irc_fake, irc_bot, caplog):
    """No byte at all within ``first_byte_timeout_s``: QUIT, hang up, redial, even though
    ``register_timeout_s`` is far away."""
    caplog.set_level(logging.WARNING, logger="univac.transports.irc")
    server = irc_fake()
    bot = irc_bot(server.port, first_byte_timeout_s=0.4, register_timeout_s=30)
    client = server.accept()
    connected = time.monotonic()
    client.expect_prefix(b"USER ")
    assert client.line(timeout=3) == b"QUIT :no byte from the server within 0.4 s\r\n"
    assert client.closed(timeout=3)
    held = time.monotonic() - connected
    assert 0.3 <= held < 0.4 + 1.5, held
    server.accept(timeout=3).expect(b"CAP LS 302\r\n")
    assert any("no byte from the server within 0.4 s; reconnecting in" in r.getMessage()
               for r in caplog.records)  # fmt: skip
    assert bot.thread.is_alive()


def test_a_server_that_talks_keeps_the_registration_timeout(irc_fake, irc_bot):
    """One early byte (a NOTICE while the server looks up our host name) and the slower
    ``register_timeout_s`` applies instead of ``first_byte_timeout_s``."""
    server = irc_fake()
    irc_bot(server.port, first_byte_timeout_s=0.2, register_timeout_s=1.5)
    client = server.accept()
    connected = time.monotonic()
    client.send(b":irc.test NOTICE * :*** Looking up your hostname...\r\n")
    client.expect_prefix(b"USER ")
    assert client.line(timeout=5) == b"QUIT :registration timed out after 1.5 s\r\n"
    assert time.monotonic() - connected >= 1.4
    assert client.closed(timeout=3)
    server.accept(timeout=5).expect(b"CAP LS 302\r\n")


def test_server_that_goes_silent_after_registration_is_redialled(irc_fake, irc_bot):
    """Registered, then not a byte more: our PING after ``ping_interval_s``, no answer
    within ``ping_timeout_s``, QUIT and redial."""
    interval, timeout = 0.3, 0.4
    server = irc_fake()
    bot = irc_bot(server.port, ping_interval_s=interval, ping_timeout_s=timeout,
                  reconnect_min_s=0.1, reconnect_max_s=0.2)  # fmt: skip
    client = server.accept()
    client.register()
    silent_since = time.monotonic()
    assert client.expect_prefix(b"PING :univac-", timeout=3).endswith(b"\r\n")
    assert client.line(timeout=3) == b"QUIT :no answer to our PING: link silent for 0.7 s\r\n"
    assert client.closed(timeout=3)
    again = server.accept(timeout=3)
    redialled = time.monotonic() - silent_since
    assert interval + timeout <= redialled < interval + timeout + 0.5 + 0.2 + 1.5, redialled
    again.register()
    wait_for(lambda: bot.transport.status().state == "connected", 5, "connected again")


def test_a_server_pacing_our_lines_gets_time_to_reach_our_ping(irc_fake, irc_bot):
    """A server that reads our input at our flood rate (InspIRCd's fakelag) answers a PING
    only after the lines we sent before it: the wait for the answer grows by the lines
    sent since the last answered PING beyond one burst, at ``flood_rate``. A link that
    then goes silent is still found dead."""
    server = irc_fake()
    bot = irc_bot(server.port, echo=True, flood_burst=2, flood_rate=50.0,
                  ping_interval_s=2.0, ping_timeout_s=0.5, max_queued_lines=1000,
                  reconnect_min_s=0.1, reconnect_max_s=0.2)  # fmt: skip
    client = server.accept()
    client.register()
    wait_for(lambda: bot.transport.status().state == "connected", 5, "connected")
    client.send(b"".join(b":bob!b@h PRIVMSG univac :!echo %d\r\n" % i for i in range(250)))
    ping = client.expect_prefix(b"PING :univac-", timeout=10)
    replies = sum(line.startswith(b"PRIVMSG bob :") for line in client.seen)
    assert replies >= 50, replies  # (replies - 2) / 50 s more than ping_timeout_s to answer
    pong_at = time.monotonic() + 0.5 + 0.4  # still working through our replies until then
    ponged = False
    while not ponged or replies < 250:  # 150 or more replies left: 3 s at 50 lines/s
        if not ponged and time.monotonic() >= pong_at:
            client.send(b":irc.test PONG irc.test :" + ping[len(b"PING :") :])
            ponged = True
        line = client.line(timeout=10)
        assert not line.startswith(b"QUIT"), line  # the PONG was not too late
        replies += line.startswith(b"PRIVMSG bob :")
    assert bot.transport.status().reconnects == 0
    quit_line = client.expect_prefix(b"QUIT :no answer to our PING: link silent for ", 20)
    assert quit_line.endswith(b" s\r\n")  # no PONG this time: found dead after all
    server.accept(timeout=10).expect(b"CAP LS 302\r\n")


def test_connects_and_reconnects_are_logged_with_attempts_and_downtime(irc_fake, irc_bot,
                                                                        caplog):  # fmt: skip
    caplog.set_level(logging.INFO, logger="univac.transports.irc")
    server = irc_fake()
    bot = irc_bot(server.port, reconnect_min_s=0.1, reconnect_max_s=0.2)
    first = server.accept()
    first.register()
    wait_for(lambda: bot.transport.status().state == "connected", 5, "connected")
    first.sock.close()
    dropped = time.monotonic()
    server.accept().sock.close()  # the first redial fails before registration
    third = server.accept()
    third.register()
    wait_for(lambda: bot.transport.status().state == "connected", 5, "connected again")
    down = time.monotonic() - dropped
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    where = f"127.0.0.1:{server.port}"
    assert infos[0] == f"irc-test: connected to {where} as univac (attempt 1)"
    prefix, suffix = f"irc-test: reconnected to {where} as univac after ", " s down (attempt 2)"
    assert len(infos) == 2 and infos[1].startswith(prefix) and infos[1].endswith(suffix)
    assert 0 < float(infos[1][len(prefix) : -len(suffix)]) <= down + 0.1
