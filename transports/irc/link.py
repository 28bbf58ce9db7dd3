"""The I/O loop of one IRC connection: read, frame, isolate each line, hand output on.

Layer: transport (IRC adapter); stdlib + ``univac``. The transport's I/O thread runs
``LinkIO.serve``. The socket is non-blocking and watched with a selector together with
the sender's wake-up pipe, so PONG goes out as soon as PING is read, whatever else is
queued. Every inbound line is decoded, parsed and handled inside its own ``try``: a
line that fails is logged and dropped, and the connection stays up. What goes out is
the ``Sender``'s business (sender.py).
"""

from __future__ import annotations

import logging
import selectors
import socket
import ssl
import threading
import time
from collections.abc import Callable

from .lines import FramingError, LineFramer, decode, parse
from .sender import Sender
from .session import Session
from .state import Closed

log = logging.getLogger("univac.transports.irc")

FLUSH_EVERY = 50
"""Lines handled from one read before the replies so far are sent: the server (and
the people waiting) work on them while the rest of a burst is still being read."""


class LinkIO:
    """Serve one connected socket until it drops (``Closed``) or we are stopped.

    ``on_data`` is called with each chunk read, ``on_turn`` after each turn of the loop
    (the transport records traffic and publishes its status there).
    """

    def __init__(self, sock: socket.socket, session: Session, sender: Sender,
                 framer: LineFramer, stop: threading.Event, fallback_encoding: str,
                 on_data: Callable[[bytes], None],
                 on_turn: Callable[[], None]) -> None:  # fmt: skip
        self.sock, self.session, self.sender, self.framer = sock, session, sender, framer
        self.stop, self.fallback = stop, fallback_encoding
        self.on_data, self.on_turn = on_data, on_turn
        self.mask = selectors.EVENT_READ
        sock.setblocking(False)

    def serve(self) -> None:
        """Run until stopped (returns after QUIT) or the link fails (raises ``Closed``)."""
        with selectors.DefaultSelector() as sel:
            sel.register(self.sock, selectors.EVENT_READ)
            sel.register(self.sender.wake_fd, selectors.EVENT_READ)
            self.session.start()
            self._flush(time.monotonic())
            try:
                while not self.stop.is_set():
                    self._turn(sel, time.monotonic())
            except Closed as closed:
                if closed.quit:  # our own decision on a working link: say why
                    self._quit(closed.reason)
                raise
        self._quit(self.sender.goodbye)

    def _turn(self, sel: selectors.BaseSelector, now: float) -> None:
        registered = self.session.link.registered
        timeout = max(0.0, min(self.session.deadline() - now, self.sender.wait(now, registered)))
        want = selectors.EVENT_READ | (selectors.EVENT_WRITE if self.sender.wbuf else 0)
        if want != self.mask:
            self.mask = want
            sel.modify(self.sock, want)
        events = sel.select(min(timeout, 5.0))
        now = time.monotonic()
        for key, mask in events:
            if key.fileobj == self.sender.wake_fd:
                self.sender.clear_wake()
            elif mask & selectors.EVENT_READ:
                self._read(now)
        self.session.tick(now)
        self._flush(now)
        self.on_turn()

    def _flush(self, now: float) -> None:
        self.sender.drain(self.session.link, now)
        self.sender.flush(self.sock, now, self.session.link.registered)

    def _read(self, now: float) -> None:
        data = self._recv()
        if data is None:
            return
        self.session.touch(now)
        self.on_data(data)
        try:
            lines = self.framer.feed(data)
        except FramingError as error:
            raise Closed(f"framing: {error}", quit=True) from error
        for count, raw in enumerate(lines, 1):
            self._line(raw, now)
            if count % FLUSH_EVERY == 0:  # a long read: let replies go out meanwhile
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

    def _quit(self, goodbye: str) -> None:
        """Send QUIT with the goodbye after what is already buffered, and give the server
        a moment to close (a silent server gets 0.5 s: the wait ends at the first half
        second without data)."""
        self.session.link.quitting = True
        deadline = time.monotonic() + 2.0
        try:
            self.sender.finish(self.sock, deadline, goodbye)
            self.sock.shutdown(socket.SHUT_WR)
            self.sock.settimeout(0.5)
            while time.monotonic() < deadline and self.sock.recv(4096):
                pass
        except (OSError, Closed):
            pass
