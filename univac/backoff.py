"""Exponential backoff with jitter, reset after a healthy time. Layer: core (public API).

One object per thing that can fail and be tried again (a poller, a supervised thread,
the watchdog's child, a transport's connection); it is used by one thread at a time.
The delay before try ``n`` (``n`` failures in a row) is ``min(cap, base * 2**(n-1))``
times a random factor in ``[1 - jitter, 1]``: with the default jitter of 0.5 that is
"equal jitter", half fixed and half random, so many clients that failed together do
not come back together, and none waits longer than the cap.

"Healthy" resets the count: ``started()`` marks when the thing came up (connected,
started, ready); a failure ``healthy_after_s`` or more after that starts again from
``base``. ``reset()`` starts again at once (after a success).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

MAX_DOUBLINGS = 64
"""Past this, ``2**n`` only overflows: the cap has long been reached."""


class Backoff:
    """Delays between tries: exponential from ``base_s`` to ``cap_s``, with jitter."""

    def __init__(
        self,
        base_s: float,
        cap_s: float,
        *,
        jitter: float = 0.5,
        healthy_after_s: float | None = None,
        rng: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``cap_s`` below ``base_s`` counts as ``base_s`` (0: no wait at all);
        ``healthy_after_s`` None: only ``reset()`` starts again."""
        if not base_s >= 0 or not 0 <= jitter <= 1:
            raise ValueError(f"Backoff needs base_s >= 0 and 0 <= jitter <= 1, "
                             f"not base_s={base_s!r}, jitter={jitter!r}")
        self.base_s = float(base_s)
        self.cap_s = max(float(cap_s), self.base_s)
        self.jitter = jitter
        self.healthy_after_s = healthy_after_s
        self.failures = 0
        """Failures in a row, this one included once ``failed()`` returned."""
        self._rng = rng
        self._clock = clock
        self._up_since: float | None = None

    def started(self, at: float | None = None) -> None:
        """The thing is up (since ``at``, on the backoff's clock; default: now)."""
        self._up_since = self._clock() if at is None else at

    def failed(self, now: float | None = None) -> float:
        """Count one failure; return the seconds to wait before the next try.

        When the thing had been up for ``healthy_after_s`` the count starts again first.
        """
        now = self._clock() if now is None else now
        if self._healthy(now):
            self.failures = 0
        self._up_since = None
        self.failures += 1
        return self.delay(self.failures)

    def reset(self) -> None:
        """Forget the failures (after a success): the next delay is ``base_s`` again."""
        self.failures = 0

    def delay(self, failures: int) -> float:
        """The delay after ``failures`` failures in a row (1, 2, ...), with jitter."""
        doublings = min(max(failures - 1, 0), MAX_DOUBLINGS)
        ceiling = min(self.cap_s, self.base_s * 2.0 ** doublings)
        return ceiling * (1.0 - self.jitter * self._rng())

    def _healthy(self, now: float) -> bool:
        return (self.healthy_after_s is not None and self._up_since is not None
                and now - self._up_since >= self.healthy_after_s)
