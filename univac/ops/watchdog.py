"""The bundled watchdog: runs the bot as a child process and restarts it. Layer: core.

    univac watchdog [options] -- univac --config /etc/univac/univac.toml

The child gets ``/dev/null`` as standard input, and both its output streams go to the
watchdog's standard error. It also gets ``$NOTIFY_SOCKET`` (a datagram socket in a
private folder) and ``$WATCHDOG_USEC``: the bot speaks the same sd_notify protocol to
the watchdog as to systemd (see ``univac/ops/sdnotify.py``), and only datagrams sent by the
child's own pid count.

- Exit code 0 ends the watchdog with 0. Codes 1 (invalid configuration) and 2 (bad
  command line) are not crashes: restarting cannot mend them, so the watchdog exits
  with the same code.
- Any other exit, or death by a signal, is a crash: the child is restarted after an
  exponential backoff (reset once it ran healthy for a while). More than
  ``max_crashes`` crashes within ``window_s`` and the watchdog gives up (exit code 4).
- Hang: no ``READY=1`` within ``start_timeout_s`` of the start, or no ``WATCHDOG=1``
  for ``hang_timeout_s`` after it. The child gets SIGABRT (its faulthandler prints
  every thread's stack), then SIGKILL if it is still there after a grace period.
- SIGTERM and SIGINT are forwarded and end the watchdog once the child has exited
  (SIGKILL after ``stop_timeout_s``); SIGHUP is forwarded and the child is started
  afresh at once, which rereads the configuration. Every restart is logged with its
  reason: the exit code, the signal or the hang.
- The child dies with the watchdog: on Linux the kernel sends it SIGKILL when the
  watchdog dies, even by SIGKILL (``univac/ops/parentdeath.py``), so a new watchdog
  never runs a second bot beside an orphan.

Thread model: the watchdog process's main thread alone; it waits in ``select`` on the
notify socket and on a pipe that signal handlers write to (``signal.set_wakeup_fd``).
"""

from __future__ import annotations

import logging
import os
import select
import signal
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass

from univac import exitcodes
from univac.backoff import Backoff
from univac.ops.parentdeath import die_with_parent
from univac.ops.sdnotify import NotifyServer

log = logging.getLogger("univac.watchdog")
KILL_GRACE_S = 5.0


@dataclass(frozen=True)
class Policy:
    """When the watchdog restarts, kills, and gives up."""

    max_crashes: int = 5
    window_s: float = 600.0
    hang_timeout_s: float = 60.0
    """0 turns hang detection off."""
    start_timeout_s: float = 90.0
    stop_timeout_s: float = 30.0
    backoff_s: tuple[float, float] = (1.0, 60.0)
    healthy_after_s: float = 60.0


def describe(returncode: int) -> str:
    """How a child ended, for the log: ``exited with code 3``, ``killed by SIGKILL``."""
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    meaning = exitcodes.MEANINGS.get(returncode) if returncode != exitcodes.OK else None
    return f"exited with code {returncode}" + (f" ({meaning})" if meaning else "")


class CrashBudget:
    """Counts crashes in a sliding window; spent when there are more than allowed."""

    def __init__(self, max_crashes: int, window_s: float) -> None:
        self.max_crashes = max_crashes
        self.window_s = window_s
        self._times: deque[float] = deque()

    def record(self, now: float) -> bool:
        """Count one crash at ``now``; True when the budget is spent."""
        self._times.append(now)
        while now - self._times[0] > self.window_s:
            self._times.popleft()
        return len(self._times) > self.max_crashes

    @property
    def count(self) -> int:
        return len(self._times)


class SignalPipe:
    """SIGTERM, SIGINT, SIGHUP and SIGCHLD as bytes on a pipe that ``select`` can watch."""

    WATCHED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD)

    def __init__(self) -> None:
        self.read_fd, self._write_fd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._previous = {s: signal.signal(s, _ignore) for s in self.WATCHED}
        self._old_fd = signal.set_wakeup_fd(self._write_fd, warn_on_full_buffer=False)

    def take(self) -> list[int]:
        """The signals that came since the last call, SIGCHLD left out."""
        try:
            data = os.read(self.read_fd, 512)
        except BlockingIOError:
            return []
        return [number for number in data if number != signal.SIGCHLD]

    def close(self) -> None:
        signal.set_wakeup_fd(self._old_fd)
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        os.close(self.read_fd)
        os.close(self._write_fd)


def _ignore(signum: int, frame: object) -> None:
    """A Python-level handler, so that the signal reaches the wakeup pipe."""


@dataclass
class Child:
    """One run of the bot and what the watchdog has heard from it."""

    process: subprocess.Popen[bytes]
    started: float
    last_beat: float | None = None
    stopping: float | None = None
    killed: float | None = None
    hang: str = ""
    request: str = ""
    """``stop`` or ``restart`` when an operator's signal was forwarded."""
    status: str = ""


class Watchdog:
    """Starts the command, watches it, restarts it; ``run`` returns the exit code."""

    def __init__(self, command: list[str], policy: Policy) -> None:
        self.command = command
        self.policy = policy
        self.budget = CrashBudget(policy.max_crashes, policy.window_s)
        self.backoff = Backoff(*policy.backoff_s, healthy_after_s=policy.healthy_after_s,
                               jitter=0.0)  # one child: no crowd to spread, exact delays
        self.server = NotifyServer()
        self.signals = SignalPipe()

    def run(self) -> int:
        try:
            return self._loop()
        finally:
            self.server.close()
            self.signals.close()

    def _loop(self) -> int:
        while True:
            try:
                child = Child(self._spawn(), time.monotonic())
            except OSError as error:
                log.error("cannot start %s: %s", self.command[0], error.strerror or error)
                return exitcodes.USAGE
            log.info("started the bot (pid %d): %s", child.process.pid, " ".join(self.command))
            returncode = self._watch(child)
            code = self._after(child, returncode)
            if code is not None:
                return code

    def _spawn(self) -> subprocess.Popen[bytes]:
        env = dict(os.environ, NOTIFY_SOCKET=self.server.address)
        env.pop("WATCHDOG_PID", None)
        env.pop("WATCHDOG_USEC", None)
        if self.policy.hang_timeout_s > 0:
            env["WATCHDOG_USEC"] = str(int(self.policy.hang_timeout_s * 1_000_000))
        output = sys.stderr.fileno()
        return subprocess.Popen(self.command, stdin=subprocess.DEVNULL, stdout=output,
                                stderr=output, env=env, preexec_fn=die_with_parent())

    def _watch(self, child: Child) -> int:
        """Serve one child until it exits; return its exit status."""
        while (returncode := child.process.poll()) is None:
            wait = self._deadline(child) - time.monotonic()
            select.select([self.server.socket, self.signals.read_fd], [], [],
                          min(1.0, max(0.0, wait)))
            for fields in self.server.receive(child.process.pid):
                self._heard(child, fields)
            for number in self.signals.take():
                self._forward(child, number)
            if time.monotonic() >= self._deadline(child):
                self._overdue(child)
        return returncode

    def _deadline(self, child: Child) -> float:
        policy = self.policy
        if child.killed is not None:
            return child.killed + KILL_GRACE_S
        if child.stopping is not None:
            return child.stopping + policy.stop_timeout_s
        if policy.hang_timeout_s <= 0:
            return float("inf")
        if child.last_beat is None:
            return child.started + policy.start_timeout_s
        return child.last_beat + policy.hang_timeout_s

    def _heard(self, child: Child, fields: dict[str, str]) -> None:
        now = time.monotonic()
        if "READY" in fields and child.last_beat is None:
            log.info("the bot (pid %d) is ready", child.process.pid)
            self.backoff.started(child.started)  # healthy: up since it was started
        if "READY" in fields or "WATCHDOG" in fields:
            child.last_beat = now
        if "STOPPING" in fields and child.stopping is None:
            child.stopping = now
        if fields.get("STATUS", child.status) != child.status:
            child.status = fields["STATUS"]
            log.info("bot status: %s", child.status)

    def _forward(self, child: Child, number: int) -> None:
        name = signal.Signals(number).name
        log.info("%s: passing it on to the bot (pid %d)", name, child.process.pid)
        if child.request != "stop":  # a stop already asked for wins over a SIGHUP
            child.request = "restart" if number == signal.SIGHUP else "stop"
        if number != signal.SIGHUP and child.stopping is None:
            child.stopping = time.monotonic()
        child.process.send_signal(number)

    def _overdue(self, child: Child) -> None:
        pid = child.process.pid
        if child.killed is not None or child.stopping is not None:
            log.error("the bot (pid %d) is still running; sending SIGKILL", pid)
            child.process.kill()
            child.killed = float("inf")  # nothing left to do but wait for the exit
            return
        started = child.last_beat is not None
        waited = self.policy.hang_timeout_s if started else self.policy.start_timeout_s
        child.hang = (f"hung: no heartbeat for {waited:g} s" if started
                      else f"hung: not ready within {waited:g} s")
        log.error("the bot (pid %d) %s; sending SIGABRT", pid, child.hang)
        child.process.send_signal(signal.SIGABRT)
        child.killed = time.monotonic()

    def _after(self, child: Child, returncode: int) -> int | None:
        """The watchdog's exit code, or None to start the bot again."""
        how = child.hang or describe(returncode)
        if child.request == "stop":
            log.info("the bot %s after it was asked to stop", how)
            return 0 if returncode in (0, -signal.SIGTERM, -signal.SIGINT) else _code(returncode)
        if child.request == "restart":
            log.warning("restarting the bot (SIGHUP): it %s", how)
            return None
        if returncode == 0 and not child.hang:
            log.info("the bot exited cleanly; the watchdog ends")
            return 0
        if returncode in exitcodes.NOT_CRASHES and not child.hang:
            log.error("the bot %s: not restarting", describe(returncode))
            return returncode
        return self._crashed(child, how)

    def _crashed(self, child: Child, how: str) -> int | None:
        now = time.monotonic()
        policy = self.policy
        if self.budget.record(now):
            log.critical("giving up: %d crashes within %g s (the last one: %s)",
                         self.budget.count, policy.window_s, how)
            return exitcodes.WATCHDOG_GAVE_UP
        delay = self.backoff.failed(now)
        log.warning("the bot %s; restarting in %.3g s (crash %d of at most %d within %g s)",
                    how, delay, self.budget.count, policy.max_crashes, policy.window_s)
        return self._pause(delay)

    def _pause(self, delay: float) -> int | None:
        """Wait before a restart; a stop signal ends the watchdog, SIGHUP cuts it short."""
        deadline = time.monotonic() + delay
        while (left := deadline - time.monotonic()) > 0:
            select.select([self.signals.read_fd], [], [], left)
            for number in self.signals.take():
                if number != signal.SIGHUP:
                    log.info("%s while waiting to restart: stopping", signal.Signals(number).name)
                    return 0
                return None
        return None


def _code(returncode: int) -> int:
    """A child's status as a shell would report it: 128 + the signal for a kill."""
    return 128 - returncode if returncode < 0 else returncode
