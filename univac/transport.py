"""The contract between the core and a transport. Layer: core; no protocol code here.

A transport module (``univac.transports.irc``, or any module named by ``type`` in the
config) provides two names, found by the loader; nothing registers itself on import:

- ``Settings``: a frozen dataclass of the transport's own settings, filled from its
  ``[[transports]]`` table (unknown keys are errors, ``<key>_file`` reads secrets);
- ``create(name: str, settings: Settings) -> Transport``.

Thread model: the supervisor calls ``run`` on a thread of its own, named
``transport:<name>``; the transport touches its protocol library only from that thread.
``send``, ``stop`` and ``status`` are called from other threads and must be thread-safe
(outgoing text crosses on a queue that the I/O thread drains). ``send`` may take a
keyword ``requester``: who asked for the text (the identity of the message that caused
it, empty from pollers), so that a transport can queue and drop output fairly per
person. The router passes it only to transports whose ``send`` accepts it; a transport
written without it keeps working.

``run`` returns normally when ``stop`` was called or when the transport has finished
(the console at end of input); it raises when it failed in a way its own reconnect
logic cannot mend, and the supervisor restarts it with backoff. Reconnecting after a
dropped link is the transport's own job, inside ``run``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from univac.message import Deliver


@dataclass(frozen=True)
class TransportStatus:
    """A snapshot of one transport for ``!status`` and health checks (no secrets)."""

    state: str
    """One of ``starting``, ``connecting``, ``connected``, ``disconnected``, ``stopped``."""
    nick: str = ""
    targets: tuple[str, ...] = ()
    """Channels or rooms currently joined."""
    detail: str = ""
    """A short human-readable note, such as the last error's kind."""
    last_inbound: float | None = None
    """``time.time()`` of the last traffic received, if any."""
    reconnects: int = 0
    """How many times the transport has connected again after losing its link."""
    last_pong: float | None = None
    """``time.time()`` of the last answer to the transport's own keepalive ping, if any."""
    dropped: dict[str, int] = field(default_factory=dict)
    """Outgoing lines the transport dropped since it started, by reason (IRC: ``lines``,
    ``bytes``, ``ctcp``, ``inbox``); empty when it never drops any."""


@runtime_checkable
class Transport(Protocol):
    """What the core needs of a transport."""

    name: str

    def run(self, deliver: Deliver) -> None:
        """Connect and serve until stopped; call ``deliver`` for each incoming message."""

    def send(self, target: str, text: str) -> None:
        """Queue ``text`` for ``target`` (channel, room or nick). Thread-safe.

        Optionally ``send(target, text, requester="")``: see the module docstring."""

    def stop(self, goodbye: str = "") -> None:
        """Ask ``run`` to say ``goodbye`` where it can, disconnect and return. Thread-safe."""

    def status(self) -> TransportStatus:
        """Return a snapshot of the transport's state. Thread-safe."""
