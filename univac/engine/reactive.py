"""The bounded pool of reactive threads. Layer: core.

Each handled message runs on a reactive thread named ``react:<plugin>.<handler>`` while
it runs. At most ``max_threads`` run at once; threads are started on demand and leave
after ``idle_s`` without work, so an idle bot holds none. Past the bound, jobs wait in
a queue of ``queue_size``; past that they are shed (counted and logged, never stored),
so memory stays flat under a flood. Threads are reused rather than started per message:
starting a thread costs more than most handlers (see docs/architecture.md).

This module is the worker loop; admission (the bound, the queue, shedding, when to
start a thread) is ``admission.py``, which it asks at each step. Jobs cross on a
``queue.SimpleQueue`` (implemented in C): a Python-level condition variable here made
the delivering and the reactive threads block and wake each other for nearly every
message, which halved throughput on two CPUs. Admission's one plain lock calls nothing
while held; a busy thread finishes one job and takes the next under one lock.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

from univac.engine.admission import Admission, Verdict

log = logging.getLogger("univac.reactive")
Job = Callable[[], None]
SHED, CLOSED, START = Verdict.SHED, Verdict.CLOSED, Verdict.START  # globals: cheaper per job


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
        self.admission = Admission(max_threads, queue_size)
        self._idle_s = idle_s
        self._jobs: queue.SimpleQueue[tuple[str, Job]] = queue.SimpleQueue()
        self._running: dict[int, tuple[str, float]] = {}  # thread -> (label, started)
        self._reported: set[int] = set()
        self._local = threading.local()

    @property
    def shed(self) -> int:
        """Jobs shed so far."""
        return self.admission.shed

    @property
    def peak_threads(self) -> int:
        return self.admission.peak_threads

    def submit(self, label: str, job: Job) -> bool:
        """Queue ``job``; start a thread if none is free. False when shed or closed."""
        verdict = self.admission.admit()
        if verdict is SHED or verdict is CLOSED:
            shed = self.admission.shed
            if verdict is SHED and (shed == 1 or shed % 1000 == 0):
                log.warning("reactive queue full: shed %d message(s) so far (%s)", shed, label)
            return False
        batch = getattr(self._local, "batch", None)
        self._jobs.put((label, batch.track(job) if batch else job))
        if verdict is START:
            threading.Thread(target=self._work, name="react:idle", daemon=True).start()
        return True

    def _work(self) -> None:
        """A reactive thread: take jobs and run them until told, or idle long enough, to leave."""
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
            except Exception:  # the last boundary: jobs catch their own (engine/handlers.py)
                log.exception("reactive job %s failed", label)
            del self._running[ident]
            self._reported.discard(ident)
            item = self._next(me)

    def _next(self, me: threading.Thread) -> tuple[str, Job] | None:
        """After a job: the next one at once if queued, else wait as an idle thread.

        None when this thread should leave (lent, idle too long, closed).
        """
        item = None
        if self.admission.may_take_next():
            with suppress(queue.Empty):
                item = self._jobs.get_nowait()
        stop = item is not None and item[1] is _STOP
        if self.admission.finished(item is not None, stop):
            return None
        if item is not None:
            return item
        me.name = "react:idle"
        return self._wait()

    def _wait(self) -> tuple[str, Job] | None:
        """Wait, counted as idle, for the next job; None when this thread should leave."""
        while True:
            try:
                item = self._jobs.get(timeout=self._idle_s)
            except queue.Empty:
                if self.admission.idle_too_long():
                    return None
                continue
            stop = item[1] is _STOP
            self.admission.took(stop)
            return None if stop else item

    @contextmanager
    def lend(self) -> Iterator[None]:
        """While a job waits for people (an approval), let one more thread run jobs."""
        if self.admission.lend():
            threading.Thread(target=self._work, name="react:idle", daemon=True).start()
        try:
            yield
        finally:
            self.admission.give_back()

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
        return self.admission.wait_drained(timeout)

    def close(self, timeout: float) -> bool:
        """Refuse new jobs, let queued and running ones finish within ``timeout``."""
        self.admission.close()
        idle = self.wait_idle(timeout)
        for _ in range(self.admission.threads if idle else 0):
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
        with self.admission.lock:
            running = len(self._running)
            return self.admission.threads, running, max(0, self.admission.outstanding - running)
