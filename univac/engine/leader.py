"""The leader: seeks, holds and gives up the leader lease. Layer: core; thread ``leader``
(a supervised child of the main loop), talking to the database through ``leader:db``.

Roles, one at a time:

- ``standby``: every ``heartbeat_s`` it tries to take the lease (the try keeps its
  database session open and checked). When it gets it, the answer says whether the
  previous leader released the lease itself (its transports were stopped then): if
  so it leads at once, else it is ``taking over``.
- ``taking over``: it holds the lease but waits ``grace_s`` before leading, confirming
  the lease every ``heartbeat_s`` meanwhile: the previous leader may still be speaking
  for up to ``lease_s + step_down_s`` after its last confirmation, which came before
  this takeover (docs/architecture.md, "Two instances, one active").
- ``leader``: it set the fence's epoch, reloaded every plugin's state from the store
  and opened a term (terms.py): transports connect, pollers run, webhooks are taken.
  Every ``heartbeat_s`` it confirms the lease with a deadline: the last good
  confirmation's start plus ``lease_s``. A failed confirmation, or none by the
  deadline, and it steps down at once: writes are refused (fence), transports are
  stopped and must be gone within ``step_down_s``, else the process exits with code
  6 (``exitcodes.LEASE_LOST``), which closes every socket. Then it closes the lease's
  connection, is a standby again, and competes again.

At shutdown a leader waits until the bot has stopped its transports, then releases the
lease, marked as released, so a standby takes over without waiting.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from univac import exitcodes
from univac.engine.lease import HaSettings, Lease, LeaseLine
from univac.engine.store import Fence
from univac.engine.terms import Terms
from univac.errors import StoreError

log = logging.getLogger("univac.leader")
EXIT_LEASE_LOST = exitcodes.LEASE_LOST
STALE = 0
"""The fence epoch of an instance that does not lead: no lease row ever holds it."""
ACQUIRE_TIMEOUT_S = 20.0
"""An attempt to take the lease (connecting included) that takes longer is given up."""
STANDBY, TAKING_OVER, LEADER = "standby", "taking over", "leader"


@dataclass(frozen=True)
class Hooks:
    """What the leader does to the rest of the bot."""

    terms: Terms
    fence: Fence
    reload: Callable[[], None]
    """Read every plugin's state from the store again (StoreError when it cannot)."""
    exit: Callable[[int], None] = os._exit


class Leader:
    """The role machine (see the module docstring); ``run`` is the thread body."""

    def __init__(self, open_lease: Callable[[], Lease], settings: HaSettings, hooks: Hooks,
                 holder: str = "", stop_wait_s: float = 15.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._open_lease = open_lease
        self._settings = settings
        self._hooks = hooks
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}"
        self._stop_wait_s = stop_wait_s
        self._clock = clock
        self._line: LeaseLine | None = None
        self._wake = threading.Event()
        self._closing = False
        self.role = STANDBY
        self.epoch: int | None = None
        self.detail = "starting"
        self.since = time.time()
        self._confirmed = 0.0
        self._lead_at = 0.0

    def run(self) -> None:
        """Seek, hold and give up the lease until ``close``."""
        try:
            while not self._closing:
                delay = self.step()
                self._wake.wait(delay)
                self._wake.clear()
        finally:
            self._finish()

    def close(self) -> None:
        """Stop competing; a leader releases the lease once its transports are down."""
        self._closing = True
        self._wake.set()

    def step(self) -> float:
        """One beat of the role machine; the seconds until the next one."""
        return self._seek() if self.epoch is None else self._hold()

    # standby ------------------------------------------------------------------------

    def _seek(self) -> float:
        started = self._clock()
        try:
            got = self._call("acquire", self.holder, timeout=ACQUIRE_TIMEOUT_S)
        except (StoreError, TimeoutError) as error:
            self._retire()
            self._become(STANDBY, f"cannot take the lease: {error}", logging.ERROR)
            return self._settings.heartbeat_s
        if got is None:
            self._become(STANDBY, "another instance leads")
            return self._settings.heartbeat_s
        self.epoch, previous = got
        self._confirmed = started
        if not previous:
            self._promote()
            return self._settings.heartbeat_s
        grace = self._settings.grace_s
        self._lead_at = self._clock() + grace
        self._become(TAKING_OVER, f"epoch {self.epoch}: {previous} did not release the "
                     f"lease; leading in {grace:.0f} s", logging.WARNING)
        return min(self._settings.heartbeat_s, grace)

    # holding ------------------------------------------------------------------------

    def _hold(self) -> float:
        started = self._clock()
        deadline = self._confirmed + self._settings.lease_s
        try:
            if started >= deadline:
                raise TimeoutError(f"no confirmation for {self._settings.lease_s:.1f} s")
            self._call("confirm", self.epoch, timeout=deadline - started)
        except Exception as error:  # any doubt about the lease: step down
            self._step_down(str(error) or type(error).__name__)
            return self._settings.heartbeat_s
        self._confirmed = started
        if self.role == TAKING_OVER and self._clock() >= self._lead_at:
            self._promote()
        beat = started + self._settings.heartbeat_s
        if self.role == TAKING_OVER:
            beat = min(beat, self._lead_at)
        return max(0.0, beat - self._clock())

    def _promote(self) -> None:
        hooks = self._hooks
        hooks.fence.epoch = self.epoch
        try:
            hooks.reload()
        except StoreError as error:
            self._step_down(f"cannot read the state to lead with: {error}")
            return
        if hooks.terms.begin():
            self._become(LEADER, f"epoch {self.epoch}", logging.WARNING)

    def _step_down(self, reason: str) -> None:
        """Lose the lease: refuse writes, stop speaking, close the lease's connection."""
        leading = self.role == LEADER
        self._hooks.fence.epoch = STALE
        self.epoch = None
        self._become(STANDBY, f"lease lost: {reason}", logging.ERROR)
        if leading and not self._hooks.terms.end():
            log.critical("transports still running %.1f s after the lease was lost: "
                         "exiting so that their sockets close", self._settings.step_down_s)
            self._hooks.exit(EXIT_LEASE_LOST)
        self._retire()

    def _finish(self) -> None:
        """The thread ends (shutdown, or a crash): give the lease up."""
        terms = self._hooks.terms
        if self.role == LEADER:
            if self._closing and terms.wait_stopped(self._stop_wait_s):
                self._release()
            elif not terms.end():
                self._hooks.exit(EXIT_LEASE_LOST)
        self._hooks.fence.epoch = STALE
        self.epoch = None
        self._retire()
        self._become(STANDBY, "stopped" if self._closing else "restarting")

    def _release(self) -> None:
        try:
            self._call("release", self.epoch, timeout=self._settings.lease_s)
            log.info("lease released (epoch %s): a standby may lead at once", self.epoch)
        except Exception as error:  # the standby will wait its grace period instead
            log.warning("cannot release the lease: %s", error)

    # plumbing -----------------------------------------------------------------------

    def _call(self, method: str, *args: object, timeout: float) -> object:
        if self._line is None:
            self._line = LeaseLine(self._open_lease())
        return self._line.call(method, *args, timeout=timeout)

    def _retire(self) -> None:
        if self._line is not None:
            self._line.retire()
            self._line = None

    def _become(self, role: str, detail: str, level: int = logging.INFO) -> None:
        if (role, detail) == (self.role, self.detail):
            return
        if role != self.role:
            self.since = time.time()
        self.role, self.detail = role, detail
        log.log(level, "%s: %s", role, detail)
