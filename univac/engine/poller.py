"""Runs one ``@every`` handler on its own thread. Layer: core; thread ``poll:<name>``.

A poller waits on the shared stop event (never ``time.sleep``), so shutdown stops it
at once; it never overlaps itself (one thread, and a lock for test ticks). When it
runs comes from its schedule (``univac/schedules.py``), read on the wall clock
(``ctx.now()``, which tests can set) and checked at least once a minute, so a long
wait for a weekly run follows clock changes. After each run:

- polled (returned None): the next run on schedule; an interval gets jitter so that
  pollers spread out. The first run of an interval poller comes within a few seconds
  of start, so it can build its index; a calendar's first run is its next date.
- skipped (``Skip``): not counted as a run; the next run on schedule.
- deferred (``RetryAfter``): a run, not a failure; the next run exactly when asked.
- failed (raised): a ``Backoff`` from twice the interval (a calendar: from a minute),
  capped, never later than a calendar's next date. One backoff, the core's.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from univac.backoff import Backoff
from univac.context import Context
from univac.engine.catalog import PollHandler
from univac.engine.handlers import Boundary, PollResult
from univac.ops.reports import PollerReport
from univac.schedules import Interval

log = logging.getLogger("univac.poller")
FIRST_RUN_MAX_S = 5.0
SLICE_S = 60.0
"""Longest single wait: a changed wall clock is noticed within this."""
CALENDAR_RETRY_S = (60.0, 3600.0)
"""Backoff of a calendar poller after a failure: from a minute, at most an hour."""


class Poller:
    """One poller's loop and health."""

    def __init__(
        self,
        handler: PollHandler,
        context: Context,
        boundary: Boundary,
        stop: threading.Event,
        max_backoff_s: float = 3600.0,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.handler = handler
        self.schedule = handler.schedule
        self._context = context
        self._boundary = boundary
        self._stop = stop
        self._rng = rng
        self._interval = self.schedule.seconds if isinstance(self.schedule, Interval) else None
        base, cap = (2 * self._interval, max_backoff_s) if self._interval else CALENDAR_RETRY_S
        self._backoff = Backoff(base, cap, rng=rng)
        self._lock = threading.Lock()
        self.next_run: datetime | None = None
        self.runs = self.skipped = self.deferred = self.failures_total = 0
        self.last_ok: float | None = None
        self.last_failure: float | None = None
        self.last_error = ""

    @property
    def name(self) -> str:
        return self.handler.label

    @property
    def failures(self) -> int:
        """Failed runs in a row."""
        return self._backoff.failures

    def run(self) -> None:
        """The thread body: wait for the next run, run, repeat until stopped."""
        self.next_run = self.first_run(self._context.now())
        while not self._stop.wait(self._wait_s()):
            if self._context.now() >= self.next_run:
                self.run_once()

    def _wait_s(self) -> float:
        assert self.next_run is not None
        left = (self.next_run - self._context.now()).total_seconds()
        return min(max(left, 0.0), SLICE_S)

    def first_run(self, now: datetime) -> datetime:
        """When to run first: soon for an interval, the next date for a calendar."""
        if self._interval is None:
            return self.schedule.next_after(now)
        spread = min(self._interval * self.handler.spec.jitter, FIRST_RUN_MAX_S)
        return now + timedelta(seconds=self._rng() * spread)

    def run_once(self, now: datetime | None = None) -> PollResult:
        """Run the handler now (``now`` fixes ``ctx.now()``); record and plan the next run."""
        ctx = self._context.derive(clock=(lambda: now) if now else None)
        with self._lock:
            result = self._boundary.poll(self.handler, ctx)
            delay = self._record(result)
            self.next_run = self.plan(result, ctx.now(), delay)
        return result

    def _record(self, result: PollResult) -> float:
        """Count the run; the backoff delay after a failure, else 0."""
        if result.kind == "skipped":
            self.skipped += 1
            return 0.0
        self.runs += 1
        if result.kind == "polled":
            self._backoff.reset()
            self.last_ok = time.time()
        elif result.kind == "deferred":
            self.deferred += 1
        else:
            self.failures_total += 1
            self.last_failure = time.time()
            self.last_error = result.error
            delay = self._backoff.failed()
            log.warning("poller %s: %d failure(s) in a row; next try in %.0f s",
                        self.name, self.failures, delay)
            return delay
        return 0.0

    def plan(self, result: PollResult, now: datetime, backoff_s: float = 0.0) -> datetime:
        """When the run after ``result`` (ended at ``now``) comes."""
        if result.kind == "deferred":
            return now + timedelta(seconds=result.retry_s)
        if result.kind == "failed":
            retry = now + timedelta(seconds=backoff_s)
            return retry if self._interval else min(retry, self.schedule.next_after(now))
        if self._interval is None:
            return self.schedule.next_after(now)
        spread = 1 + self.handler.spec.jitter * (2 * self._rng() - 1)
        return now + timedelta(seconds=self._interval * spread)

    def report(self) -> PollerReport:
        next_run = self.next_run.timestamp() if self.next_run else None
        return PollerReport(self.name, self.runs, self.failures, self.last_ok, self.last_error,
                            self.failures_total, self.last_failure, self.skipped,
                            self.deferred, next_run, str(self.schedule))
