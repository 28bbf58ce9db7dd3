"""Everything the IRC transport sends, in one object owned by the transport.

Layer: transport (IRC adapter); stdlib + ``univac``. ``submit`` and ``wake`` are called
from any thread: text crosses on a queue and a wake-up pipe. Everything else runs on the
transport's I/O thread: splitting text into lines, holding back the rest of a long
reply for ``more``, the queues, flood control, and writing to the socket.

Four kinds of output, in this order on the wire:

1. urgent: registration, PONG, PING, NICK, QUIT; they skip flood control and wait for
   nothing but the socket;
2. control: JOIN (several channels per line, see channels.py), PART, MODE, MONITOR,
   WHO; they take a token and go before any reply, and are never dropped;
3. replies, in a ``FairQueue`` keyed by who asked (or by target);
4. CTCP replies: a few per nick (``CtcpAllowance``), a short queue, last in line.

With flood control off (``flood_rate = 0``) the socket alone paces replies and nothing
is dropped below ``max_queued_bytes``; with it on, each requester (or target) holds at
most ``max_queued_lines`` as well. Every drop is counted for ``status()`` and logged
once per burst.
"""

from __future__ import annotations

import contextlib
import os
import queue
import selectors
import socket
import ssl
import threading
import time
from collections import deque

from .lines import build, clean, split_text, text_budget
from .output import CtcpAllowance, Drops, FairQueue, TokenBucket
from .state import Closed, Link

WRITE_HIGH = 64 * 1024
"""Bytes handed to the socket ahead of time; the rest waits in the queues, in order."""
INBOX_MAX = 10_000
"""Messages waiting for the I/O thread (it empties the inbox on every turn)."""
CTCP_MAX = 32
"""CTCP replies waiting; older ones are dropped first."""
RESERVE = 2
"""Flood-control tokens kept for requesters who were sent (next to) nothing lately, so
that someone asking while others flood is answered at once, not after the next token."""
LIGHT = 0.5
"""Lines sent lately (fading, see output.HALF_LIFE_S) below which a requester is light:
one line sent counts as light again after one half-life."""


def encode(line: str) -> bytes:
    """One wire line: UTF-8, at most 510 bytes, CRLF."""
    return line.encode("utf-8", "replace")[:510] + b"\r\n"


class Sender:
    """The inbox, the wake-up pipe, the queues by priority, and the socket writes."""

    def __init__(self, name: str, *, flood_burst: int, flood_rate: float,
                 max_queued_lines: int, max_queued_bytes: int, max_lines_per_reply: int = 0,
                 more_command: str = "") -> None:  # fmt: skip
        now = time.monotonic()
        self.name = name
        self.goodbye = ""
        self.io_thread = 0
        """The thread that runs the transport's loop (set by ``run``)."""
        self.bucket = TokenBucket(flood_burst, flood_rate, now)
        self.reserve = min(RESERVE, self.bucket.burst - 1)
        self.drops = Drops(name)
        per_key = max_queued_lines if flood_rate > 0 else 0
        self.replies = FairQueue(per_key, max_queued_bytes, self.drops, now)
        self.urgent_lines: deque[bytes] = deque()
        self.control_lines: deque[bytes] = deque()
        self.ctcp_lines: deque[tuple[str, bytes]] = deque()
        self.ctcp_allowance = CtcpAllowance()
        self.lines_per_reply = max_lines_per_reply
        self.more_command = more_command
        self.held_back: dict[str, tuple[str, list[str]]] = {}
        self.wbuf = bytearray()
        self.lines_out = 0
        """Lines moved into the write buffer on this connection."""
        self.confirmed = 0
        """Of those, how many the server has shown it read (it answered a PING after them)."""
        self._ping_mark = 0
        self._inbox: queue.SimpleQueue[tuple[str, str, str]] = queue.SimpleQueue()
        self._refused = 0
        self._refused_lock = threading.Lock()
        self.wake_fd, self._wake_w = os.pipe()
        os.set_blocking(self.wake_fd, False)
        self._woken = False

    # any thread ---------------------------------------------------------------

    def submit(self, target: str, text: str, requester: str = "") -> None:
        """Queue ``text`` for ``target`` on behalf of ``requester`` and wake the loop."""
        if self._inbox.qsize() >= INBOX_MAX:
            with self._refused_lock:
                self._refused += 1
            return
        self._inbox.put((target, text, requester))
        if threading.get_ident() != self.io_thread:
            self.wake()  # on the I/O thread the loop drains the inbox before it waits

    def wake(self) -> None:
        """Make the I/O thread's select return (one byte in the pipe per wake-up)."""
        if not self._woken:
            self._woken = True
            with contextlib.suppress(OSError):
                os.write(self._wake_w, b"x")

    def dropped(self) -> dict[str, int]:
        """Lines dropped since start, by reason (``lines``, ``bytes``, ``ctcp``, ``inbox``)."""
        totals = dict(self.drops.totals)
        totals["inbox"] += self._refused
        return totals

    # I/O thread: what goes in ---------------------------------------------------

    def clear_wake(self) -> None:
        """Empty the wake-up pipe, then allow the next wake-up (in this order: clearing the
        flag first let a wake-up written meanwhile be read here and lost, and with the
        flag stuck every later reply waited for other traffic or the select timeout)."""
        try:
            while os.read(self.wake_fd, 4096):
                pass
        except BlockingIOError:
            pass
        self._woken = False

    def new_link(self) -> None:
        """A new connection: forget output that belonged to the old one (replies stay)."""
        self.urgent_lines.clear()
        self.control_lines.clear()
        self.ctcp_lines.clear()
        self.wbuf.clear()
        self.lines_out = self.confirmed = self._ping_mark = 0

    def urgent(self, line: str) -> None:
        """Queue a line that skips flood control (registration, PONG, QUIT)."""
        self.urgent_lines.append(encode(line))

    def control(self, lines: list[str]) -> None:
        """Queue JOIN, PART, MODE, MONITOR or WHO lines: ahead of replies, never dropped."""
        self.control_lines.extend(encode(line) for line in lines)

    def ctcp(self, nick: str, text: str, now: float) -> None:
        """Queue a CTCP reply NOTICE to ``nick``, within its allowance."""
        if not self.ctcp_allowance.allow(nick.lower(), now):
            self.drops.add("ctcp", nick, now)
            return
        if len(self.ctcp_lines) >= CTCP_MAX:
            self.drops.add("ctcp", self.ctcp_lines.popleft()[0], now)
        self.ctcp_lines.append((nick, encode(build("NOTICE", nick, trailing=text))))

    def more(self, link: Link, target: str, text: str, requester: str, now: float) -> bool:
        """If ``text`` is the more command and lines are held for ``target``, queue them."""
        if not self.more_command or text.strip() != self.more_command:
            return False
        held = self.held_back.pop(link.fold(target), None)
        if held is None:
            return False
        self.replies.push(requester or held[0], [encode(line) for line in held[1]], now)
        return True

    def drain(self, link: Link, now: float) -> None:
        """Move submitted text into the reply queues as lines (once registered)."""
        if self._refused:
            with self._refused_lock:
                refused, self._refused = self._refused, 0
            self.drops.add("inbox", "messages to send", now, refused)
        if self._inbox.empty() or not link.registered:
            return
        mask = link.mask()
        while True:
            try:
                target, text, requester = self._inbox.get_nowait()
            except queue.Empty:
                return
            target = clean(target).replace(" ", "")
            if target:
                budget = text_budget("PRIVMSG", target, mask)
                lines = [f"PRIVMSG {target} :{chunk}" for chunk in split_text(text, budget)]
                self._reply(link, target, requester or link.fold(target), lines, now)

    def _reply(self, link: Link, target: str, key: str, lines: list[str], now: float) -> None:
        cap = self.lines_per_reply
        if 0 < cap < len(lines):
            self.held_back[link.fold(target)] = (key, lines[cap:])
            more = self.more_command
            lines = [*lines[:cap], f"PRIVMSG {target} :({len(lines) - cap} more lines: say {more})"]
        self.replies.push(key, [encode(line) for line in lines], now)

    def pinged(self) -> float:
        """Our keepalive PING was just queued (urgent): the seconds a server that paces
        our input at ``flood_rate`` (InspIRCd's fakelag) may need before it reads it,
        behind the lines sent since the last answered PING beyond one burst. 0 without
        flood control."""
        self._ping_mark = self.lines_out + len(self.urgent_lines)
        ahead = self._ping_mark - 1 - self.confirmed - self.bucket.burst
        return max(0, ahead) / self.bucket.rate if self.bucket.rate > 0 else 0.0

    def ponged(self) -> None:
        """The server answered our PING: it has read every line sent before it."""
        self.confirmed = max(self.confirmed, self._ping_mark)

    # I/O thread: what goes out --------------------------------------------------

    def wait(self, now: float, registered: bool) -> float:
        """Seconds until output may go or a drop report is due (infinity: nothing)."""
        report = self.drops.deadline() - now
        if len(self.wbuf) >= WRITE_HIGH or not registered:
            return report  # waiting for the socket, not for a token
        if self.bucket.rate > 0 and (self.control_lines or self.replies or self.ctcp_lines):
            return min(report, self.bucket.wait(now, self._keep(now)))
        return 0.0 if self.control_lines or self.replies or self.ctcp_lines else report

    def _keep(self, now: float) -> int:
        """Tokens the next line must leave: none for control lines or a light requester."""
        if self.control_lines or (self.replies and self.replies.head_usage(now) < LIGHT):
            return 0
        return self.reserve

    def _next(self, now: float, registered: bool) -> bytes | None:
        if self.urgent_lines:
            return self.urgent_lines.popleft()
        if not registered or not (self.control_lines or self.replies or self.ctcp_lines):
            return None
        if self.bucket.rate > 0 and not self.bucket.take(now, self._keep(now)):
            return None
        if self.control_lines:
            return self.control_lines.popleft()
        line = self.replies.pop(now)
        return line if line is not None else self.ctcp_lines.popleft()[1]

    def flush(self, sock: socket.socket, now: float, registered: bool) -> None:
        """Move allowed lines into the write buffer and write what the socket takes."""
        while len(self.wbuf) < WRITE_HIGH:
            line = self._next(now, registered)
            if line is None:
                break
            self.wbuf += line
            self.lines_out += 1
        self.write(sock)
        self.drops.report(now)

    def write(self, sock: socket.socket) -> None:
        """Write as much of the buffer as the socket takes without blocking."""
        if not self.wbuf:
            return
        try:
            sent = sock.send(self.wbuf)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
            sent = 0
        except OSError as error:
            raise Closed(f"write failed: {error}") from error
        del self.wbuf[:sent]

    def finish(self, sock: socket.socket, deadline: float, goodbye: str) -> None:
        """Send QUIT with ``goodbye`` after what is already buffered, until ``deadline``."""
        self.urgent_lines.clear()
        self.urgent(build("QUIT", trailing=goodbye) if goodbye else "QUIT")
        self.flush(sock, time.monotonic(), registered=False)
        with selectors.DefaultSelector() as sel:
            sel.register(sock, selectors.EVENT_WRITE)
            while self.wbuf and sel.select(max(0.0, deadline - time.monotonic())):
                self.flush(sock, time.monotonic(), registered=False)
