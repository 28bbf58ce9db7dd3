"""Property test: random bytes and mutated lines into the IRC inbound path never escape."""

from __future__ import annotations

import socket
import threading
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.transports.test_irc_tolerance import MALFORMED, SLACK_AFTER_JOIN, SLACK_SCRIPT
from univac.transports import irc
from univac.transports.irc.lines import LineFramer
from univac.transports.irc.link import LinkIO
from univac.transports.irc.state import Closed, Link

SEEDS = [
    *MALFORMED,
    *SLACK_SCRIPT,
    *SLACK_AFTER_JOIN,
    b"@time=2024-01-01T00:00:00Z;account=x :n!u@h PRIVMSG #c :!cmd\r\n",
    b":irc.test CAP * LS * :sasl=PLAIN multi-prefix\r\n",
    b":irc.test CAP * ACK :sasl extended-join\r\n",
    b"AUTHENTICATE +\r\n",
    b":irc.test BATCH +b chathistory #c\r\n",
    b":n!u@h JOIN #c acct :Real Name\r\n",
    b":univac!u@h KICK #c univac :bye\r\n",
    b":irc.test 005 univac CASEMAPPING=ascii CHANTYPES=#& MONITOR :ok\r\n",
]


class Harness:
    """One transport session wired to a socketpair; feeds bytes through LinkIO."""

    def __init__(self) -> None:
        settings = irc.Settings(host="127.0.0.1", tls=False, channels=("#c",), sts_file="/none")
        self.transport = irc.create("prop", settings)
        self.delivered: list = []
        self.ours, self.peer = socket.socketpair()
        self.peer.setblocking(False)
        link = Link("univac", "univac", False, time.time(), 6667)
        session = self.transport._new_session(link, self.delivered.append)
        session.start()
        framer = LineFramer(settings.max_line_bytes, settings.max_buffer_bytes)
        self.io = LinkIO(self.ours, session, self.transport._sender, framer, threading.Event(),
                         "cp1252", lambda _data: None, lambda: None)  # fmt: skip

    def feed(self, data: bytes) -> None:
        """Push bytes through read, framing, decoding, parsing and handling."""
        self.peer.sendall(data)
        self.io._read(time.monotonic())
        self.io.session.tick(time.monotonic())

    def sent(self) -> bytes:
        """Flush the output queue and return what went to the wire."""
        self.io._flush(time.monotonic())
        out = b""
        try:
            while chunk := self.peer.recv(65536):
                out += chunk
        except BlockingIOError:
            pass
        return out

    def close(self) -> None:
        self.ours.close()
        self.peer.close()


def mutate(draw_bytes: bytes, cut: int, insert: bytes) -> bytes:
    cut = cut % (len(draw_bytes) + 1)
    return draw_bytes[:cut] + insert + draw_bytes[cut:]


lines = st.one_of(
    st.binary(max_size=300),
    st.builds(mutate, st.sampled_from(SEEDS), st.integers(0, 400), st.binary(max_size=12)),
    st.sampled_from(SEEDS).map(lambda s: s.replace(b" ", b"  ")),
    st.sampled_from(SEEDS).map(lambda s: s[: len(s) // 2]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(lines, max_size=25))
def test_random_inbound_never_escapes(chunks):
    harness = Harness()
    try:
        for chunk in chunks:
            try:
                harness.feed(chunk)
            except Closed:
                harness.close()
                harness = Harness()  # what the transport does: a new connection
        harness.feed(b"\r\n:irc.test 001 univac :hi\r\nPING :alive\r\n")
        assert b"PONG :alive\r\n" in harness.sent()
        harness.feed(b":zz9!z@h PRIVMSG #final :still listening\r\n")
        assert harness.delivered[-1].text == "still listening"
    finally:
        harness.close()
