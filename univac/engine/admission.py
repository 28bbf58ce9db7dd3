"""Admission to the reactive pool: the bound, the queue, shedding. Layer: core.

``Admission`` is the reactive pool's bookkeeping, kept apart from its worker loop
(``reactive.py``) so that its rules can be read, and tested, without threads. It
counts threads (busy or idle), idle threads and outstanding jobs (queued or running),
and decides for each new job: refuse it (closed), shed it (counted), queue it for an
idle or busy thread, or queue it and start a thread. The rules:

- at most ``max_threads`` threads, so at most that many jobs run at once (``lend``
  raises the bound by one while a job waits for people, see docs/architecture.md);
- a job is shed only when every thread is taken and ``queue_size`` jobs already wait,
  so nothing is lost below the queue bound; every shed job is counted;
- a thread is started when there are more outstanding jobs than threads and none is
  idle, so a queued job always has a thread that will take it.

Any thread calls it; one plain (C-level) lock guards the counters, and nothing is
called while it is held, so no thread switch happens inside.
"""

from __future__ import annotations

import threading
from enum import Enum


class Verdict(Enum):
    """What ``admit`` decided for a new job."""

    CLOSED = "closed"
    SHED = "shed"
    QUEUE = "queue"
    START = "start"
    """Queue it, and start a thread (counted as idle until it takes a job)."""


_CLOSED, _SHED, _QUEUE, _START = Verdict.CLOSED, Verdict.SHED, Verdict.QUEUE, Verdict.START


class Admission:
    """The counters of a bounded pool with a bounded queue."""

    def __init__(self, max_threads: int, queue_size: int) -> None:
        self.max_threads = max_threads
        self.queue_size = queue_size
        self.threads = 0
        self.idle = 0
        self.outstanding = 0
        """Jobs admitted and not finished: queued or running."""
        self.shed = 0
        self.peak_threads = 0
        self.closed = False
        self.lock = threading.Lock()
        self.drained = threading.Condition(self.lock)
        """Notified when ``outstanding`` falls to 0."""

    def admit(self) -> Verdict:
        """Decide for one new job (and count it)."""
        with self.lock:
            if self.closed:
                return _CLOSED
            if self.threads >= self.max_threads and \
                    self.outstanding - self.max_threads >= self.queue_size:
                self.shed += 1
                return _SHED
            self.outstanding += 1
            if self.outstanding > self.threads and self.idle == 0 \
                    and self.threads < self.max_threads:
                self._add_thread()
                return _START
            return _QUEUE

    def may_take_next(self) -> bool:
        """Whether a thread that finished a job takes another at once (a lent one does not)."""
        return self.threads <= self.max_threads

    def finished(self, took_next: bool, stop: bool = False) -> bool:
        """A thread finished a job and took the next (``stop``: the order to leave) or
        not; True when it leaves, else it waits as an idle thread."""
        with self.lock:
            self.outstanding -= 1
            if self.outstanding == 0:
                self.drained.notify_all()
            if took_next:
                if stop:
                    self.threads -= 1
                return stop
            leave = self.threads > self.max_threads and self.outstanding < self.threads
            if leave:
                self.threads -= 1
            else:
                self.idle += 1
            return leave

    def took(self, stop: bool = False) -> None:
        """An idle thread took a job (``stop``: the order to leave, and it leaves)."""
        with self.lock:
            self.idle -= 1
            if stop:
                self.threads -= 1

    def idle_too_long(self) -> bool:
        """An idle thread waited ``idle_s`` for nothing; True when it should leave."""
        with self.lock:
            leave = self.outstanding < self.threads
            if leave:
                self.threads -= 1
                self.idle -= 1
            return leave

    def lend(self) -> bool:
        """Raise the bound by one (a job waits for people); True: start a thread."""
        with self.lock:
            self.max_threads += 1
            start = self.outstanding > self.threads and self.idle == 0
            if start:
                self._add_thread()
            return start

    def give_back(self) -> None:
        """Lower the bound again after ``lend``."""
        with self.lock:
            self.max_threads -= 1

    def close(self) -> None:
        """Admit no more jobs."""
        with self.lock:
            self.closed = True

    def wait_drained(self, timeout: float) -> bool:
        """Wait until no job is queued or running; False on timeout."""
        with self.drained:
            return self.drained.wait_for(lambda: self.outstanding == 0, timeout)

    def _add_thread(self) -> None:
        self.threads += 1
        self.idle += 1
        if self.threads > self.peak_threads:
            self.peak_threads = self.threads
