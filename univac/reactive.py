"""The bounded pool of reactive threads. Layer: core.

Each handled message runs on a reactive thread named ``react:<plugin>.<handler>`` while
it runs. At most ``max_threads`` run at once; threads are started on demand and leave
after ``idle_s`` without work, so an idle bot holds none. Past the bound, jobs wait in
a queue of ``queue_size``; past that they are shed (counted and logged, never stored),
so memory stays flat under a flood. Threads are reused rather than started per message:
starting a thread costs more than most handlers (see docs/architecture.md).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

log = logging.getLogger("univac.reactive")
Job = Callable[[], None]


@dataclass(frozen=True)
class Running:
    """A job in progress, for slow-handler reports."""

    label: str
    started: float


class Batch:
    """The jobs one thread submitted inside ``ReactivePool.batch()``, to wait for them."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._open = 0

    def track(self, job: Job) -> Job:
        with self._cond:
            self._open += 1

        def tracked() -> None:
            try:
                job()
            finally:
                with self._cond:
                    self._open -= 1
                    self._cond.notify_all()

        return tracked

    def wait(self, timeout: float) -> bool:
        """Wait until every tracked job has finished; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._open == 0, timeout)


class ReactivePool:
    """Runs jobs on at most ``max_threads`` threads with a bounded wait queue."""

    def __init__(self, max_threads: int, queue_size: int, idle_s: float = 30.0) -> None:
        self._max = max_threads
        self._queue_size = queue_size
        self._idle_s = idle_s
        self._cond = threading.Condition()
        self._pending: deque[tuple[str, Job]] = deque()
        self._threads = 0
        self._idle = 0
        self._starting = 0
        self._running: dict[int, Running] = {}
        self._reported: set[int] = set()
        self._closed = False
        self.shed = 0
        self.peak_threads = 0
        self._local = threading.local()

    @contextmanager
    def lend(self) -> Iterator[None]:
        """While a job waits for people (an approval), let one more thread run jobs."""
        with self._cond:
            self._max += 1
            if len(self._pending) > self._idle + self._starting:
                self._wake_or_start()
        try:
            yield
        finally:
            with self._cond:
                self._max -= 1

    @contextmanager
    def batch(self) -> Iterator[Batch]:
        """Track the jobs this thread submits inside the block (the test harness uses it)."""
        self._local.batch = Batch()
        try:
            yield self._local.batch
        finally:
            self._local.batch = None

    def submit(self, label: str, job: Job) -> bool:
        """Queue ``job``; start a thread if none is free. False when shed or closed."""
        with self._cond:
            if self._closed:
                return False
            waiting = len(self._pending) - self._idle - self._starting
            if self._threads >= self._max and waiting >= self._queue_size:
                self.shed += 1
                shed = self.shed
            else:
                batch = getattr(self._local, "batch", None)
                self._pending.append((label, batch.track(job) if batch else job))
                self._wake_or_start()
                return True
        if shed == 1 or shed % 1000 == 0:
            log.warning("reactive queue full: shed %d message(s) so far (%s)", shed, label)
        return False

    def _wake_or_start(self) -> None:
        if self._idle + self._starting >= len(self._pending):
            self._cond.notify()
        elif self._threads < self._max:
            self._threads += 1
            self._starting += 1
            self.peak_threads = max(self.peak_threads, self._threads)
            threading.Thread(target=self._work, name="react:idle", daemon=True).start()

    def _work(self) -> None:
        me = threading.current_thread()
        fresh = True
        while (item := self._next(fresh)) is not None:
            fresh = False
            label, job = item
            me.name = f"react:{label}"
            try:
                job()
            except Exception:
                log.exception("reactive job %s failed", label)
            finally:
                me.name = "react:idle"
                self._finish(me.ident or 0)

    def _next(self, fresh: bool) -> tuple[str, Job] | None:
        with self._cond:
            self._starting -= fresh
            if self._threads > self._max:
                return self._leave()
            while not self._pending:
                if self._closed and not self._pending:
                    return self._leave()
                self._idle += 1
                woke = self._cond.wait(self._idle_s)
                self._idle -= 1
                if not woke and not self._pending:
                    return self._leave()
            item = self._pending.popleft()
            self._running[threading.get_ident()] = Running(item[0], time.monotonic())
            return item

    def _leave(self) -> None:
        self._threads -= 1
        self._cond.notify_all()
        return None

    def _finish(self, ident: int) -> None:
        with self._cond:
            self._running.pop(ident, None)
            self._reported.discard(ident)
            if not self._pending and not self._running:
                self._cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no job is queued or running; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._pending and not self._running, timeout)

    def close(self, timeout: float) -> bool:
        """Refuse new jobs, let queued and running ones finish within ``timeout``."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        return self.wait_idle(timeout)

    def newly_slow(self, threshold_s: float) -> list[Running]:
        """Jobs running longer than ``threshold_s`` not reported before."""
        now = time.monotonic()
        with self._cond:
            slow = [
                (ident, job) for ident, job in self._running.items()
                if now - job.started > threshold_s and ident not in self._reported
            ]
            self._reported.update(ident for ident, _ in slow)
        return [job for _, job in slow]

    def load(self) -> tuple[int, int, int]:
        """Return (threads, running jobs, queued jobs)."""
        with self._cond:
            return self._threads, len(self._running), len(self._pending)
