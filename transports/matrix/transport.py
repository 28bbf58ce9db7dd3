"""The Matrix transport: rooms and direct chats on a homeserver, on matrix-nio.
Layer: transport.

Threads: ``run`` is called on the transport's own thread (``transport:<name>``); it
creates an asyncio loop there and the nio client on it, and nothing else ever touches
them. ``send``, ``stop`` and ``status`` are called from any thread: ``send`` and
``stop`` cross into the loop with ``call_soon_threadsafe``; ``status`` reads an
immutable snapshot that the loop thread replaces (``univac.LoopHost`` does all this).

The pieces: ``session`` (sync loop, reconnect, status), ``login``, ``client`` (the nio
client), ``rooms`` (joins, invites, encrypted rooms), ``inbound`` (what reaches the core
and what is ignored), ``outbound`` and ``sender`` (notices, in order), ``memory``
(device, access token and sync token across restarts, in the state store), ``support``
(the reply cut). See docs/matrix.md for every setting.
"""

from __future__ import annotations

from pathlib import Path

from univac import Deliver, LoopHost, TransportContext, TransportStatus

from .memory import StoreMemory, default_former_file
from .session import Session
from .settings import Settings

__all__ = ["MatrixTransport", "Settings", "create"]
FLUSH_S = 2.0
"""How long ``run`` waits at its end for the memory's last write (the store may hang)."""


def create(name: str, settings: Settings, context: TransportContext) -> MatrixTransport:
    """Return the Matrix transport named ``name``, its memory in ``context.state`` (an
    earlier version's file, ``state_file`` or the default one, imported once)."""
    former = Path(settings.state_file).expanduser() if settings.state_file else \
        default_former_file(name)
    return MatrixTransport(name, settings, StoreMemory(name, context, former))


class MatrixTransport:
    """The thread-facing side of the transport (see the module docstring)."""

    def __init__(self, name: str, settings: Settings, memory: StoreMemory) -> None:
        self.name = name
        self.settings = settings
        self.memory = memory
        self._host = LoopHost(TransportStatus(state="starting", nick=settings.user_id))

    def run(self, deliver: Deliver) -> None:
        """Log in, sync and reconnect until ``stop``; runs on the transport's thread."""
        self.memory.load()
        try:
            self._host.run(lambda loop: Session(self.name, self.settings, self.memory,
                                                deliver, self._host.publish, loop))
        finally:
            self.memory.flush(FLUSH_S)

    def send(self, target: str, text: str) -> None:
        """Queue ``text`` for a room (id or alias), or a thread in it (``room/$root``).
        Thread-safe."""
        self._host.send(target, text)

    def stop(self, goodbye: str = "") -> None:
        """Send what is queued, set the goodbye as presence status, end ``run``.
        Thread-safe."""
        self._host.stop(goodbye)

    def status(self) -> TransportStatus:
        """A snapshot of the connection and joined rooms. Thread-safe."""
        return self._host.status()
