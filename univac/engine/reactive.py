"""The bounded pool of reactive threads. Layer: core.

Each handled message runs on a reactive thread named ``react:<plugin>.<handler>`` while
it runs. At most ``max_threads`` run at once; threads are started on demand and leave
after ``idle_s`` without work, so an idle bot holds none. Past the bound, jobs wait in
a queue of ``queue_size``; past that they are shed (counted and logged, never stored),
so memory stays flat under a flood. Threads are reused rather than started per message:
starting a thread costs more than most handlers (see docs/architecture.md).

Jobs cross on a ``queue.SimpleQueue`` (implemented in C): a Python-level condition
variable here made the delivering and the reactive threads block and wake each other
for nearly every message, which halved throughput on two CPUs. One plain lock guards
the counters, and its critical sections call nothing (no thread switch while it is
held); a busy thread finishes one job and takes the next under one lock. A thread is
started when there are more outstanding jobs than threads and none is idle.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

log = logging.getLogger("univac.reactive")
Job = Callable[[], None]


def _STOP() -> None:
    """Queued once per thread by ``close``: the thread that takes it leaves."""


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
        self._jobs: queue.SimpleQueue[tuple[str, Job]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._threads = 0
        self._idle = 0
        self._outstanding = 0
        self._running: dict[int, tuple[str, float]] = {}  # thread -> (label, started)
        self._reported: set[int] = set()
        self._closed = False
        self._local = threading.local()
        self.shed = 0
        self.peak_threads = 0

    def submit(self, label: str, job: Job) -> bool:
        """Queue ``job``; start a thread if none is free. False when shed or closed."""
        with self._lock:  # a C-level lock and no calls inside: no thread switch while held
            if self._closed:
                return False
            if self._threads >= self._max and self._outstanding - self._max >= self._queue_size:
                self.shed += 1
                shed = self.shed
            else:
                self._outstanding += 1
                start = (self._outstanding > self._threads and self._idle == 0
                         and self._threads < self._max)
                if start:  # a new thread counts as idle until it takes its first job
                    self._threads += 1
                    self._idle += 1
                    if self._threads > self.peak_threads:
                        self.peak_threads = self._threads
                shed = 0
        if shed:
            if shed == 1 or shed % 1000 == 0:
                log.warning("reactive queue full: shed %d message(s) so far (%s)", shed, label)
            return False
        batch = getattr(self._local, "batch", None)
        self._jobs.put((label, batch.track(job) if batch else job))
        if start:
            threading.Thread(target=self._work, name="react:idle", daemon=True).start()
        return True

    def _work(self) -> None:
        me = threading.current_thread()
        ident = threading.get_ident()
        item = self._wait()
        while item is not None:
            label, job = item
            self._running[ident] = (label, time.monotonic())
            if me.name[6:] != label:  # "react:" + label; the same handler again: keep it
                me.name = f"react:{label}"
            try:
                job()
            except Exception:
                log.exception("reactive job %s failed", label)
            del self._running[ident]
            self._reported.discard(ident)
            item = self._next(me)

    def _next(self, me: threading.Thread) -> tuple[str, Job] | None:
        """After a job: the next one at once if queued, else wait as an idle thread.

        None when this thread should leave (lent, idle too long, closed).
        """
        item = None
        if self._threads <= self._max:  # a lent thread above the bound takes no more here
            with suppress(queue.Empty):
                item = self._jobs.get_nowait()
        with self._lock:  # one lock per job while busy: finish this one, take the next
            self._outstanding -= 1
            drained = self._outstanding == 0
            if item is None:
                leave = self._threads > self._max and self._outstanding < self._threads
                if leave:
                    self._threads -= 1
                else:
                    self._idle += 1
            else:
                leave = False
                if item[1] is _STOP:
                    self._threads -= 1
        if drained:
            with self._cond:
                self._cond.notify_all()
        if item is not None:
            return None if item[1] is _STOP else item
        if leave:
            return None
        me.name = "react:idle"
        return self._wait()

    def _wait(self) -> tuple[str, Job] | None:
        """Wait, counted as idle, for the next job; None when this thread should leave."""
        while True:
            try:
                item = self._jobs.get(timeout=self._idle_s)
            except queue.Empty:
                with self._lock:
                    leave = self._outstanding < self._threads
                    if leave:
                        self._threads -= 1
                        self._idle -= 1
                if leave:
                    return None
                continue
            with self._lock:
                self._idle -= 1
                if item[1] is _STOP:
                    self._threads -= 1
            return None if item[1] is _STOP else item

    @contextmanager
    def lend(self) -> Iterator[None]:
        """While a job waits for people (an approval), let one more thread run jobs."""
        with self._lock:
            self._max += 1
            start = self._outstanding > self._threads and self._idle == 0
            if start:
                self._threads += 1
                self._idle += 1
        if start:
            threading.Thread(target=self._work, name="react:idle", daemon=True).start()
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

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no job is queued or running; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._outstanding == 0, timeout)

    def close(self, timeout: float) -> bool:
        """Refuse new jobs, let queued and running ones finish within ``timeout``."""
        with self._cond:
            self._closed = True
        idle = self.wait_idle(timeout)
        with self._cond:
            leaving = self._threads if idle else 0
        for _ in range(leaving):
            self._jobs.put(("stop", _STOP))
        return idle

    def newly_slow(self, threshold_s: float) -> list[Running]:
        """Jobs running longer than ``threshold_s`` not reported before."""
        now = time.monotonic()
        slow = [
            (ident, Running(label, started))
            for ident, (label, started) in list(self._running.items())
            if now - started > threshold_s and ident not in self._reported
        ]
        self._reported.update(ident for ident, _ in slow)
        return [job for _, job in slow]

    def load(self) -> tuple[int, int, int]:
        """Return (threads, running jobs, queued jobs)."""
        with self._cond:
            running = len(self._running)
            return self._threads, running, max(0, self._outstanding - running)
