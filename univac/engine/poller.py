"""Runs one ``@every`` handler on its own thread. Layer: core; thread ``poll:<name>``.

A poller waits on the shared stop event (never ``time.sleep``), so shutdown stops it
at once; it never overlaps itself (one thread, and a lock for test ticks); after a
failure it backs off exponentially; every delay carries jitter so pollers spread out.
The first run comes within a few seconds of start, so a poller can build its index.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from datetime import datetime

from univac.context import Context
from univac.decorators import EverySpec
from univac.engine.catalog import Handler
from univac.ops.reports import PollerReport

log = logging.getLogger("univac.poller")
FIRST_RUN_MAX_S = 5.0


class Poller:
    """One poller's loop and health."""

    def __init__(
        self,
        handler: Handler,
        context: Context,
        stop: threading.Event,
        max_backoff_s: float = 3600.0,
        rng: Callable[[], float] = random.random,
    ) -> None:
        assert isinstance(handler.spec, EverySpec)
        self.handler = handler
        self.spec = handler.spec
        self._context = context
        self._stop = stop
        self._max_backoff = max(max_backoff_s, self.spec.seconds)
        self._rng = rng
        self._lock = threading.Lock()
        self.runs = 0
        self.failures = 0
        self.last_ok: float | None = None
        self.last_error = ""
        self.failures_total = 0
        self.last_failure: float | None = None

    @property
    def name(self) -> str:
        return self.handler.label

    def run(self) -> None:
        """The thread body: run, wait, repeat until the stop event is set."""
        delay = self._rng() * min(self.spec.seconds * self.spec.jitter, FIRST_RUN_MAX_S)
        while not self._stop.wait(delay):
            delay = self.next_delay(self.run_once())

    def run_once(self, now: datetime | None = None) -> bool:
        """Run the handler now (``now`` fixes ``ctx.now()``); True when it succeeded."""
        ctx = self._context.derive(clock=(lambda: now) if now else None)
        with self._lock:
            try:
                if self.handler.func(ctx) is not None:
                    log.warning("poller %s returned a value: use ctx.say()", self.name)
            except Exception as error:
                self.failures += 1
                self.failures_total += 1
                self.last_failure = time.time()
                self.last_error = type(error).__name__
                log.exception("poller %s failed (%d in a row)", self.name, self.failures)
                return False
            finally:
                self.runs += 1
            self.failures = 0
            self.last_ok = time.time()
            return True

    def next_delay(self, ok: bool) -> float:
        """Seconds until the next run: the interval, or a backoff after failures."""
        base = self.spec.seconds if ok else min(
            self.spec.seconds * 2 ** self.failures, self._max_backoff
        )
        return base * (1 + self.spec.jitter * (2 * self._rng() - 1))

    def report(self) -> PollerReport:
        return PollerReport(self.name, self.runs, self.failures, self.last_ok, self.last_error,
                            self.failures_total, self.last_failure)
