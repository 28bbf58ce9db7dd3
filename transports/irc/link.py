"""The I/O loop of one IRC connection: read, frame, isolate each line, write.

Layer: transport (IRC adapter); stdlib + ``univac``. The transport's I/O thread runs
``LinkIO.serve``. The socket is non-blocking and watched with a selector together with
the transport's wake-up pipe, so PONG goes out as soon as PING is read, whatever else is
queued. Every inbound line is decoded, parsed and handled inside its own ``try``: a
line that fails is logged and dropped, and the connection stays up.
"""

from __future__ import annotations

import logging
import selectors
import socket
import ssl
import time
from collections.abc import Callable

from .lines import FramingError, LineFramer, build, decode, parse
from .output import OutQueue
from .session import Session
from .state import Closed

log = logging.getLogger("univac.transports.irc")

WRITE_HIGH = 64 * 1024
FLUSH_EVERY = 50
"""Lines handled from one read before the replies so far are sent: the server (and
the people waiting) work on them while the rest of a burst is still being read."""
WRITE_MAX = 4 * 1024 * 1024


class LinkIO:
    """Serve one connected socket until it drops (``Closed``) or we are stopped."""

    def __init__(self, sock: socket.socket, session: Session, out: OutQueue,
                 framer: LineFramer, wake: int, hooks: LinkHooks) -> None:  # fmt: skip
        self.sock, self.session, self.out, self.framer = sock, session, out, framer
        self.wake, self.hooks = wake, hooks
        self.wbuf = bytearray()
        self.mask = selectors.EVENT_READ
        self.fallback = hooks.fallback_encoding
        sock.setblocking(False)

    def serve(self) -> None:
        """Run until stopped (returns after QUIT) or the link fails (raises ``Closed``)."""
        with selectors.DefaultSelector() as sel:
            sel.register(self.sock, selectors.EVENT_READ)
            sel.register(self.wake, selectors.EVENT_READ)
            self.session.start()
            self._flush(time.monotonic())
            try:
                while not self.hooks.stopping():
                    self._turn(sel, time.monotonic())
            except Closed as closed:
                if closed.quit:  # our own decision on a working link: say why
                    self._quit(closed.reason)
                raise
        self._quit(self.hooks.goodbye())

    def _turn(self, sel: selectors.BaseSelector, now: float) -> None:
        timeout = max(0.0, min(self.session.deadline() - now, self._output_wait(now)))
        want = selectors.EVENT_READ | (selectors.EVENT_WRITE if self.wbuf else 0)
        if want != self.mask:
            self.mask = want
            sel.modify(self.sock, want)
        events = sel.select(min(timeout, 5.0))
        now = time.monotonic()
        for key, mask in events:
            if key.fileobj == self.wake:
                self.hooks.clear_wake()
            elif mask & selectors.EVENT_READ:
                self._read(now)
        self.session.tick(now)
        self.hooks.drain_inbox()
        self._flush(now)
        self.hooks.publish()

    def _output_wait(self, now: float) -> float:
        if self.out.pending() and self.session.link.registered:
            return self.out.bucket.wait(now)
        return float("inf")

    def _read(self, now: float) -> None:
        data = self._recv()
        if data is None:
            return
        self.session.touch(now)
        self.hooks.inbound(data)
        try:
            lines = self.framer.feed(data)
        except FramingError as error:
            raise Closed(f"framing: {error}", quit=True) from error
        for count, raw in enumerate(lines, 1):
            self._line(raw, now)
            if count % FLUSH_EVERY == 0:  # a long read: let replies go out meanwhile
                self.hooks.drain_inbox()
                self._flush(now)

    def _recv(self) -> bytes | None:
        try:
            data = self.sock.recv(65536)
            while isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
                data += self.sock.recv(self.sock.pending())
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
            return None
        except OSError as error:
            raise Closed(f"read failed: {error}") from error
        if not data:
            raise Closed("server closed the connection")
        return data

    def _line(self, raw: bytes, now: float) -> None:
        try:
            line = parse(decode(raw, self.fallback))
            if line is None:
                log.debug("irc: dropped unparsable line %r", raw[:200])
                return
            self.session.handle(line, now)
        except Closed:
            raise
        except Exception:
            log.exception("irc: dropped a line that failed: %r", raw[:200])

    def _flush(self, now: float) -> None:
        registered = self.session.link.registered
        while len(self.wbuf) < WRITE_HIGH:
            line = self.out.pop(now, registered)
            if line is None:
                break
            self.wbuf += line.encode("utf-8", "replace")[:510] + b"\r\n"
        self._write()

    def _write(self) -> None:
        if not self.wbuf:
            return
        try:
            sent = self.sock.send(self.wbuf)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
            sent = 0
        except OSError as error:
            raise Closed(f"write failed: {error}") from error
        del self.wbuf[:sent]
        if len(self.wbuf) > WRITE_MAX:
            raise Closed("the server stopped reading our output")

    def _quit(self, goodbye: str) -> None:
        """Send QUIT with the goodbye, flush, and give the server a moment to close (a
        silent server gets 0.5 s: the wait ends at the first half second without data)."""
        self.session.link.quitting = True
        self.out.clear_urgent()
        self.out.push_urgent(build("QUIT", trailing=goodbye) if goodbye else "QUIT")
        deadline = time.monotonic() + 2.0
        try:
            self._flush(time.monotonic())
            with selectors.DefaultSelector() as sel:
                sel.register(self.sock, selectors.EVENT_WRITE)
                while self.wbuf and sel.select(max(0.0, deadline - time.monotonic())):
                    self._write()
            self.sock.shutdown(socket.SHUT_WR)
            self.sock.settimeout(0.5)
            while time.monotonic() < deadline and self.sock.recv(4096):
                pass
        except (OSError, Closed):
            pass


class LinkHooks:
    """What ``LinkIO`` needs from the transport (all called on the I/O thread)."""

    def __init__(self, stopping: Callable[[], bool], drain_inbox: Callable[[], None],
                 clear_wake: Callable[[], None], publish: Callable[[], None],
                 inbound: Callable[[bytes], None], goodbye: Callable[[], str],
                 fallback_encoding: str) -> None:  # fmt: skip
        self.stopping, self.drain_inbox, self.clear_wake = stopping, drain_inbox, clear_wake
        self.publish, self.inbound, self.goodbye = publish, inbound, goodbye
        self.fallback_encoding = fallback_encoding
