"""Terms of leadership: what runs only while this instance leads. Layer: core; the
``leader`` thread begins and ends terms, transport and poller threads wait for them in
their gates, any thread asks ``active()``.

A term is one stretch of leading, from the moment the lease is held (and any grace
period is over) to the moment it is given up or lost. With ``[ha]`` off there is one
endless term and every part here lets everything through unchanged.

- ``gate(target)`` wraps a supervised thread's body: it waits for a term, runs the
  target, and when the target returned because the term ended, waits for the next
  one. A target that returns while its term goes on has finished by itself (the
  console at end of input), and the gate returns too.
- ``quiet`` is the event pollers wait on: set whenever no term is open (and at
  shutdown), so a poller's loop ends when its term does.
- Transports: a transport's ``run`` may be called only once, so each term gets fresh
  transport objects (``TermTransport`` renews its inner transport at the start of a
  term). Outside a term a transport drops what it is asked to send and reports the
  state ``standby``.
- ``end()`` stops every transport and waits at most ``step_down_s`` for their threads
  to return; the leader exits the process if they do not (leader.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

from univac.engine.router import takes_requester
from univac.message import Deliver
from univac.transport import Transport, TransportStatus

log = logging.getLogger("univac.leader")
STANDBY = TransportStatus("standby", detail="another instance leads")


class Terms:
    """Opens and ends terms; gates the threads that may run only during one."""

    def __init__(self, enabled: bool, stop: threading.Event, step_down_s: float) -> None:
        self.enabled = enabled
        self._step_down_s = step_down_s
        self._cond = threading.Condition()
        self._term = 0
        self._open = not enabled
        self._closing = False
        self._inside = 0
        self._transports: list[TermTransport] = []
        self.quiet = threading.Event() if enabled else stop
        if enabled:
            self.quiet.set()

    def active(self) -> bool:
        """True during a term (always, without ``[ha]``)."""
        return self._open

    def wrap(self, transports: dict[str, Transport],
             makers: Mapping[str, Callable[[], Transport]]) -> dict[str, Transport]:
        """The transports the bot should use: renewed each term when ``[ha]`` is on."""
        if not self.enabled:
            return transports
        wrapped = {name: TermTransport(transport, makers.get(name), self.active)
                   for name, transport in transports.items()}
        self._transports = list(wrapped.values())
        return dict(wrapped)

    def gate(self, target: Callable[[], None], counted: bool = True) -> Callable[[], None]:
        """``target`` run once per term; ``counted`` threads are awaited by ``end``."""
        if not self.enabled:
            return target

        def gated() -> None:
            while (term := self._enter(counted)) is not None:
                try:
                    target()
                finally:
                    self._leave(counted)
                if self._still(term):
                    return
        return gated

    def begin(self) -> bool:
        """Open a term (fresh transports, pollers released); False when closing."""
        with self._cond:
            if self._closing:
                return False
            for transport in self._transports:
                transport.renew()
            self._term += 1
            self._open = True
            self.quiet.clear()
            self._cond.notify_all()
        return True

    def end(self) -> bool:
        """End the term: stop the transports and pollers; False when a transport thread
        has not returned within ``step_down_s``."""
        with self._cond:
            self._open = False
            self.quiet.set()
        for transport in self._transports:
            try:
                transport.stop("")
            except Exception:  # transport code: the wait below tells whether it stopped
                log.exception("stopping transport %s failed", transport.name)
        return self.wait_stopped(self._step_down_s)

    def wait_stopped(self, timeout: float) -> bool:
        """Wait until no gated transport thread runs; False after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._inside:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def close(self) -> None:
        """Shutdown: open no new term and release every waiting gate (thread-safe). A
        running term stays open until the bot has stopped its transports."""
        with self._cond:
            self._closing = True
            self.quiet.set()
            self._cond.notify_all()

    def _enter(self, counted: bool) -> int | None:
        with self._cond:
            while not self._open and not self._closing:
                self._cond.wait()
            if self._closing:
                return None
            self._inside += counted
            return self._term

    def _leave(self, counted: bool) -> None:
        with self._cond:
            self._inside -= counted
            self._cond.notify_all()

    def _still(self, term: int) -> bool:
        with self._cond:
            return self._open and self._term == term


class TermTransport:
    """A transport whose inner transport is made afresh for each term after the first
    (``make`` is its module's ``create``; without one the same object is run again)."""

    def __init__(self, first: Transport, make: Callable[[], Transport] | None,
                 active: Callable[[], bool]) -> None:
        self.name = first.name
        self._inner = first
        self._with_requester = takes_requester(first)
        self._make = make
        self._active = active
        self._ran = False

    def renew(self) -> None:
        """Called as a term begins: a fresh inner transport if the last one has run."""
        if not self._ran or self._make is None:
            return
        try:
            self._inner = self._make()
            self._with_requester = takes_requester(self._inner)
            self._ran = False
        except Exception:  # it was created once with these settings: keep the old one
            log.exception("cannot create transport %s afresh", self.name)

    def run(self, deliver: Deliver) -> None:
        self._ran = True
        self._inner.run(deliver)

    def send(self, target: str, text: str, requester: str = "") -> None:
        """Pass ``requester`` (who asked, see univac/transport.py) on when the inner
        transport takes it; outside a term, drop the text."""
        if self._active() and requester and self._with_requester:
            send: Callable[..., None] = self._inner.send
            send(target, text, requester=requester)
        elif self._active():
            self._inner.send(target, text)
        else:
            log.info("%s: not leading; dropped a message for %s", self.name, target)

    def stop(self, goodbye: str = "") -> None:
        self._inner.stop(goodbye)

    def status(self) -> TransportStatus:
        return self._inner.status() if self._active() else STANDBY
