"""The leader lease: its contract, the ``[ha]`` settings, and calls with a deadline.
Layer: core; the ``leader`` thread and the ``leader:db`` thread it talks through.

With ``[ha] enabled = true`` several instances run with one configuration and one
PostgreSQL database, and exactly one of them leads: it holds a lease on the database
(leader.py says how it is used, docs/architecture.md why it is safe). A store backend
that can hold one provides ``open_lease(settings, timeout_s) -> Lease`` beside
``connect``; the PostgreSQL store does (``univac.stores.postgres_lease``): a session
advisory lock on a connection of its own, and the row ``univac_lease`` (name
``'leader'``) whose epoch grows by one at each takeover and fences every write
(store.py). ``timeout_s`` is how soon a dead network link must be noticed.

The contract (every method is called on one thread at a time, and may block):

- ``acquire(holder)``: try to take the lease without waiting. None when another
  session holds it; else the new epoch and the previous holder, ``""`` when the
  previous leader released the lease itself (its transports were already stopped).
  Connects first when not connected.
- ``confirm(epoch)``: one round trip proving that this session still holds the lease
  at ``epoch``; raises when it does not, or cannot tell.
- ``release(epoch)``: give the lease up, marking it released: call it only when this
  instance's transports are stopped and it waited out its grace period.
- ``close()``: close the connection; the database ends the lock with the session.

Errors are ``StoreError`` (its text names the problem). A call may also hang (a
database that accepts the connection but answers nothing): ``LeaseLine`` runs the calls
on a thread of their own so that the caller can give up at a deadline.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger("univac.leader")


class Lease(Protocol):
    """What a store backend's leader lease provides (see the module docstring)."""

    def acquire(self, holder: str) -> tuple[int, str] | None: ...

    def confirm(self, epoch: int) -> None: ...

    def release(self, epoch: int) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class HaSettings:
    """The ``[ha]`` table: two or more instances, one active."""

    enabled: bool = False
    heartbeat_s: float = 1.0
    """How often the leader confirms its lease, and a standby tries to take it."""
    lease_s: float = 3.0
    """A leader whose last confirmation started longer ago than this steps down."""
    step_down_s: float = 3.0
    """A leader stepping down must have closed its transports within this, or it exits."""
    grace_s: float = 7.0
    """Taking over from a leader that did not release the lease: wait this long first."""

    def __post_init__(self) -> None:
        if min(self.heartbeat_s, self.step_down_s) <= 0:
            raise ValueError("heartbeat_s and step_down_s must be positive")
        if self.lease_s < 2 * self.heartbeat_s:
            raise ValueError("lease_s must be at least twice heartbeat_s")
        if self.grace_s < self.lease_s + self.step_down_s:
            raise ValueError("grace_s must be at least lease_s + step_down_s: a leader that "
                             "lost the lease may speak that long before it is silent")


def check(ha: HaSettings | None, backend: str, module: Any,
          issue: Callable[[str, str], None]) -> None:
    """Report ``[ha] enabled`` on a store that cannot hold a leader lease."""
    if ha is not None and ha.enabled and module is not None and not hasattr(module, "open_lease"):
        issue("ha.enabled", f'needs [store] backend = "postgres": the {backend} store has no '
              "leader lease (instances share the lease through one database)")


class LeaseLine:
    """One lease and the thread (``leader:db``) that makes its calls, so that a caller
    can stop waiting at a deadline. A line whose call timed out is retired: it closes
    its lease once that call returns, and a new line takes its place."""

    def __init__(self, lease: Lease) -> None:
        self._lease = lease
        self._jobs: queue.SimpleQueue[tuple[str, tuple[Any, ...], _Box] | None] = (
            queue.SimpleQueue())
        threading.Thread(target=self._serve, name="leader:db", daemon=True).start()

    def call(self, method: str, *args: Any, timeout: float) -> Any:
        """``lease.<method>(*args)``; TimeoutError when it has not returned in time."""
        box = _Box()
        self._jobs.put((method, args, box))
        return box.result(max(0.0, timeout))

    def retire(self) -> None:
        """Close the lease after the call in progress, if any, and end the thread."""
        self._jobs.put(None)

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            method, args, box = job
            try:
                box.done(getattr(self._lease, method)(*args), None)
            except BaseException as error:  # handed to the caller, who decides
                box.done(None, error)
        try:
            self._lease.close()
        except Exception:  # the connection is being dropped anyway
            log.debug("closing the lease failed", exc_info=True)


class _Box:
    """The outcome of one call, handed from the ``leader:db`` thread to the caller."""

    def __init__(self) -> None:
        self._ready = threading.Event()
        self._value: Any = None
        self._error: BaseException | None = None

    def done(self, value: Any, error: BaseException | None) -> None:
        self._value, self._error = value, error
        self._ready.set()

    def result(self, timeout: float) -> Any:
        if not self._ready.wait(timeout):
            raise TimeoutError(f"no answer from the database within {timeout:.1f} s")
        if self._error is not None:
            raise self._error
        return self._value
