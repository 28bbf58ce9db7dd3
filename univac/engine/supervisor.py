"""The supervisor: the main thread's loop over transport and poller threads. Layer: core.

It starts every child thread, checks them about once a second, and restarts a dead one
with exponential backoff and jitter (``univac.Backoff``, reset once a child has run
healthy for ``healthy_after_s``). More than ``max_crashes`` crashes within ``crash_window_s`` means
something is badly wrong: the supervisor gives up and the process exits non-zero, so
the watchdog or systemd can start it afresh. A child that returns normally has
finished (the console at end of input); when every essential child has finished, the
bot shuts down cleanly.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from univac import exitcodes
from univac.backoff import Backoff

log = logging.getLogger("univac.supervisor")


@dataclass
class Child:
    """One supervised thread and its restart bookkeeping."""

    name: str
    target: Callable[[], None]
    essential: bool
    backoff: Backoff
    thread: threading.Thread | None = None
    finished: bool = False
    restart_at: float | None = None


class Supervisor:
    """Starts, watches and restarts child threads until stopped."""

    def __init__(
        self,
        stop: threading.Event,
        max_crashes: int,
        crash_window_s: float,
        healthy_after_s: float = 60.0,
        backoff_s: tuple[float, float] = (1.0, 300.0),
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._stop = stop
        self._max_crashes = max_crashes
        self._window = crash_window_s
        self._backoff = partial(Backoff, *backoff_s, healthy_after_s=healthy_after_s, rng=rng)
        self._children: list[Child] = []
        self._crashes: deque[float] = deque()
        self._tick_callbacks: list[Callable[[], None]] = []
        self.wake = threading.Event()

    def add(self, name: str, target: Callable[[], None], essential: bool = False) -> None:
        self._children.append(Child(name, target, essential, self._backoff()))

    def on_tick(self, callback: Callable[[], None]) -> None:
        self._tick_callbacks.append(callback)

    def request_stop(self) -> None:
        """Ask the loop to end (thread-safe; use from a helper thread, not a handler)."""
        self._stop.set()
        self.wake.set()

    def run(self, tick_s: float = 1.0) -> int:
        """Supervise until stopped or given up; return the process exit code."""
        for child in self._children:
            self._start(child)
        while not self._stop.is_set():
            code = self._check(time.monotonic())
            if code is not None:
                return code
            for callback in self._tick_callbacks:
                callback()
            self.wake.wait(tick_s)
            self.wake.clear()
        return exitcodes.OK

    def alive(self) -> dict[str, bool]:
        """Whether each child thread is running now."""
        return {c.name: bool(c.thread and c.thread.is_alive()) for c in self._children}

    def down(self) -> list[str]:
        """The children neither running nor finished: crashed, awaiting their restart."""
        return [c.name for c in self._children
                if not (c.finished or (c.thread is not None and c.thread.is_alive()))]

    def join(self, timeout_s: float) -> list[str]:
        """Wait for every child thread; return the names still running after the timeout."""
        deadline = time.monotonic() + timeout_s
        for child in self._children:
            if child.thread is not None:
                child.thread.join(max(0.0, deadline - time.monotonic()))
        return [name for name, alive in self.alive().items() if alive]

    def _start(self, child: Child) -> None:
        child.restart_at, child.finished = None, False
        child.backoff.started()
        child.thread = threading.Thread(
            target=self._body, args=(child,), name=child.name, daemon=True
        )
        child.thread.start()

    def _body(self, child: Child) -> None:
        try:
            child.target()
            child.finished = True
        except Exception:
            log.exception("%s crashed", child.name)
        finally:
            self.wake.set()

    def _check(self, now: float) -> int | None:
        for child in self._children:
            alive = child.thread is not None and child.thread.is_alive()
            if not alive and not child.finished and self._restart(child, now):
                return exitcodes.CRASH_LOOP
        essentials = [c for c in self._children if c.essential]
        if essentials and all(c.finished for c in essentials):
            log.info("every transport has finished; shutting down")
            return exitcodes.OK
        return None

    def _restart(self, child: Child, now: float) -> bool:
        """Schedule or perform a restart; True when the crash budget is spent."""
        if child.restart_at is None:
            self._crashes.append(now)
            while self._crashes and now - self._crashes[0] > self._window:
                self._crashes.popleft()
            if len(self._crashes) > self._max_crashes:
                count = len(self._crashes)
                log.critical("%d crashes within %.0f s: giving up", count, self._window)
                return True
            delay = child.backoff.failed(now)
            child.restart_at = now + delay
            log.warning("%s died; restarting in %.1f s", child.name, delay)
        elif now >= child.restart_at:
            log.info("restarting %s", child.name)
            self._start(child)
        return False
