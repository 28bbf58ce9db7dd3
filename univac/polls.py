"""What a poller may return besides None: ``Skip`` and ``RetryAfter``. Layer: core (public API).

A poller that returns None has polled. Two other answers tell the core what happened,
so that ``!status`` and ``/healthz`` count real polls and the core keeps one backoff:

- ``Skip()``: nothing to do now (nothing configured, not due): not counted as a run;
  the next run comes on schedule.
- ``RetryAfter(when)``: the service asked us to wait (a 429, a spent quota): a run,
  not a failure; the next run comes exactly then, with no backoff added on top.
  ``when`` is seconds, a ``timedelta`` or an aware ``datetime`` (compared with
  ``ctx.now()``).

Raising an exception is a failure: the poller backs off (``univac.Backoff``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Skip:
    """Nothing to do this time; ``reason`` goes to the debug log."""

    reason: str = ""


@dataclass(frozen=True)
class RetryAfter:
    """Come back at ``when``: seconds from now, a duration, or a moment."""

    when: float | timedelta | datetime
    reason: str = ""

    def seconds(self, now: datetime) -> float:
        """Seconds from ``now`` until the retry, never negative."""
        when = self.when
        if isinstance(when, datetime):
            left = (when - now).total_seconds()
        elif isinstance(when, timedelta):
            left = when.total_seconds()
        else:
            left = float(when)
        return max(0.0, left)
