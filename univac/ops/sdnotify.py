"""The sd_notify protocol: tell systemd or the bundled watchdog how the bot is. Layer: core.

A service manager that wants news hands the bot ``$NOTIFY_SOCKET``: the address of a
Unix datagram socket, a path or, when it starts with ``@``, a name in the abstract
namespace. Each datagram holds ``KEY=VALUE`` lines. Univac sends:

- ``READY=1`` on the supervisor's first tick, once every thread has been started;
- ``STATUS=...`` whenever the one-line summary of the transports and pollers changes
  (with ``[ha]`` on it begins with the role: ``leader``, ``taking over``, ``standby``);
- ``WATCHDOG=1`` every half of ``$WATCHDOG_USEC``, but only while every transport and
  poller thread is running: a dead thread awaiting restart, or a main loop stuck
  behind a wedged transport, means no ping, and the manager restarts the bot;
- ``STOPPING=1`` when the shutdown begins.

Thread model: ``Heartbeat.tick`` runs on the main thread from the supervisor's
``on_tick``; that a ping is sent only from there is what makes a stalled main loop
visible. Sending never blocks and never raises: a lost datagram is only logged.

The receiving end, ``NotifyServer``, is the bundled watchdog's (main thread there).
"""

from __future__ import annotations

import logging
import os
import socket
import struct
import time
from collections.abc import Callable, Mapping, MutableMapping

log = logging.getLogger("univac.sdnotify")
ENVIRONMENT = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")
CREDENTIALS = struct.Struct("3i")


def socket_address(value: str) -> str | None:
    """The ``sendto`` address for a ``$NOTIFY_SOCKET`` value; None when unusable."""
    if value.startswith("@") and len(value) > 1:
        return "\0" + value[1:]
    return value if value.startswith("/") else None


def ping_interval(environ: Mapping[str, str], pid: int) -> float | None:
    """Seconds between ``WATCHDOG=1`` pings (half the timeout), or None when not asked for.

    As in ``sd_watchdog_enabled``: ``$WATCHDOG_PID``, when set, must name this process.
    """
    usec = environ.get("WATCHDOG_USEC", "")
    owner = environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0 or (owner and owner != str(pid)):
        return None
    return int(usec) / 2_000_000


def parse(datagram: bytes) -> dict[str, str]:
    """The ``KEY=VALUE`` lines of one notification (for the watchdog and for tests)."""
    fields = {}
    for line in datagram.decode("utf-8", errors="replace").splitlines():
        key, sep, value = line.partition("=")
        if sep and key:
            fields[key] = value
    return fields


class Notifier:
    """Sends notifications to ``$NOTIFY_SOCKET``; does nothing when there is none."""

    def __init__(self, address: str | None, interval: float | None) -> None:
        self.address = address
        self.interval = interval if address else None
        self._socket: socket.socket | None = None
        self._warned = False

    @classmethod
    def from_environ(cls, environ: MutableMapping[str, str], unset: bool = True) -> Notifier:
        """Read the protocol's variables; ``unset`` keeps them from plugins' subprocesses."""
        raw = environ.get("NOTIFY_SOCKET", "")
        address = socket_address(raw)
        if raw and address is None:
            log.warning("NOTIFY_SOCKET=%s is not a path or @name; not notifying", raw)
        notifier = cls(address, ping_interval(environ, os.getpid()))
        for name in ENVIRONMENT if unset else ():
            environ.pop(name, None)
        return notifier

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, *fields: str) -> bool:
        """Send ``KEY=VALUE`` fields in one datagram; True when it left."""
        if self.address is None or not fields:
            return False
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self._socket.setblocking(False)
            self._socket.sendto("\n".join(fields).encode("utf-8"), self.address)
            return True
        except OSError as error:
            if not self._warned:
                log.warning("cannot notify %s: %s", self.address.lstrip("\0"), error)
                self._warned = True
            return False

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


class Heartbeat:
    """Turns supervisor ticks into READY, STATUS and WATCHDOG notifications."""

    def __init__(
        self,
        notifier: Notifier,
        down: Callable[[], list[str]],
        summary: Callable[[], str],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._notifier = notifier
        self._down = down
        self._summary = summary
        self._clock = clock
        self._ready = False
        self._status = ""
        self._last_ping: float | None = None

    def tick(self) -> None:
        """Called about once a second, and at least once per ping interval, by the loop."""
        if not self._notifier.enabled:
            return
        fields = [] if self._ready else ["READY=1"]
        status = self._summary()
        if status != self._status:
            fields.append(f"STATUS={status}")
        if self._ping_due() and not self._down():
            fields.append("WATCHDOG=1")
            self._last_ping = self._clock()
        if fields and self._notifier.send(*fields):
            self._ready, self._status = True, status

    def stopping(self) -> None:
        """Say that the shutdown has begun."""
        self._notifier.send("STOPPING=1", "STATUS=stopping")

    def _ping_due(self) -> bool:
        interval = self._notifier.interval
        if interval is None:
            return False
        return self._last_ping is None or self._clock() - self._last_ping >= interval * 0.95


def summary(states: Mapping[str, str], down: list[str], pollers: int, role: str = "") -> str:
    """The STATUS line: the ``[ha]`` role if any, each transport's state, then how many
    pollers run (a standby's transports are ``standby`` and its pollers wait)."""
    parts = []
    for name, state in states.items():
        dead = f"transport:{name}" in down
        parts.append(f"{name} {'down, restarting' if dead else state}")
    dead_pollers = sum(1 for child in down if child.startswith("poll:"))
    text = (f"{role}; " if role else "") + "transports: " + (", ".join(parts) or "none")
    return text + f"; pollers: {pollers - dead_pollers}/{pollers} running"


class NotifyServer:
    """A datagram socket in a private folder that only the watchdog's user can reach."""

    def __init__(self) -> None:
        import tempfile  # here, not at the top: the bot itself never receives

        self._folder = tempfile.mkdtemp(prefix="univac-watchdog-")
        self.address = os.path.join(self._folder, "notify")
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.socket.bind(self.address)
        self.socket.setblocking(False)

    def receive(self, pid: int) -> list[dict[str, str]]:
        """Every waiting notification sent by process ``pid``; others are dropped."""
        found, room = [], socket.CMSG_SPACE(CREDENTIALS.size)
        while True:
            try:
                data, ancillary, _, _ = self.socket.recvmsg(4096, room)
            except BlockingIOError:
                return found
            if _sender(ancillary) == pid:
                found.append(parse(data))
            else:
                log.warning("ignored a notification from pid %s (the bot is %d)",
                            _sender(ancillary), pid)

    def close(self) -> None:
        import shutil

        self.socket.close()
        shutil.rmtree(self._folder, ignore_errors=True)


def _sender(ancillary: list[tuple[int, int, bytes]]) -> int | None:
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            return int(CREDENTIALS.unpack(data[: CREDENTIALS.size])[0])
    return None
