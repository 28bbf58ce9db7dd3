"""The contract between the core and a transport. Layer: core; no protocol code here.

A transport module (``univac.transports.irc``, or any module named by ``type`` in the
config) provides two names, found by the loader; nothing registers itself on import:

- ``Settings``: a frozen dataclass of the transport's own settings, filled from its
  ``[[transports]]`` table (unknown keys are errors, ``<key>_file`` reads secrets);
- ``create(name: str, settings: Settings) -> Transport``, or, for a transport that
  keeps something across restarts or learns secrets at run time,
  ``create(name: str, settings: Settings, context: TransportContext) -> Transport``:
  a ``create`` with a third positional parameter (with a default or not: a transport
  that also runs on older cores declares ``context: TransportContext | None = None``)
  gets a ``TransportContext``. ``create`` only builds the object; it connects to
  nothing and reads or writes nothing in the store (with ``[ha]`` a standby creates
  its transports too, and its writes are refused): that is ``run``'s job.

With ``[ha]``, ``create`` is called again for each term of leadership (terms.py), with
the same ``context``, whose state was reloaded from the store as the term began.

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
dropped link is the transport's own job, inside ``run``; ``univac.Backoff`` gives the
delays.

Threads (Matrix, Slack): a message in a thread gets the target ``<channel>/<thread>``
(so that the reply goes to the thread, and ``send`` takes such targets) and
``Message.thread`` set to the thread's id; the core then counts it in its channel for
access rules and the channel rate limit (``Message.channel``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from univac.engine.state import State
from univac.message import Deliver


@dataclass(frozen=True)
class TransportContext:
    """What the core lends a transport whose ``create`` takes a third parameter."""

    state: State
    """A few values kept in the state store across restarts (and, with ``[ha]``, across
    a failover): the mapping of JSON values a plugin has as ``ctx.state``, under the
    namespace ``transport:<name>``; ``with state:`` is one transaction. A write waits for
    the store (a database round trip; at worst its timeout when the database cannot be
    reached) and raises ``StoreError`` when it fails, for instance on an instance that
    no longer leads: keep writes off an event loop that must stay responsive, and carry
    on with what is in memory when one fails."""
    mask: Callable[[str], None]
    """Treat a value learnt at run time (an access token from a password login) as a
    secret, like the configured ones: masked (``***``) in every log line and every
    line sent to chat from now on. Thread-safe; values under 4 characters are ignored."""


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
