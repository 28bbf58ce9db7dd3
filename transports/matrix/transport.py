"""The Matrix transport: rooms and direct chats on a homeserver, on matrix-nio.
Layer: transport.

Threads: ``run`` is called on the transport's own thread (``transport:<name>``); it
creates an asyncio loop there and the nio client on it, and nothing else ever touches
them. ``send``, ``stop`` and ``status`` are called from any thread: ``send`` and
``stop`` cross into the loop with ``call_soon_threadsafe``; ``status`` reads an
immutable snapshot that the loop thread replaces.

The pieces: ``session`` (sync loop, reconnect, status), ``login``, ``client`` (the nio
client), ``rooms`` (joins, invites, encrypted rooms), ``inbound`` (what reaches the core
and what is ignored), ``outbound`` and ``sender`` (notices, in order), ``memory``
(device, access token and sync token across restarts, in the state store), ``support``
(failure log). See docs/matrix.md for every setting.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import queue
import threading
from collections.abc import Callable
from pathlib import Path

from univac import Deliver, TransportContext, TransportStatus

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
        self._outbox: queue.SimpleQueue[tuple[str, str]] = queue.SimpleQueue()
        self._stopped = threading.Event()
        self._goodbye = ""
        self._session: Session | None = None
        self._live: tuple[Session, asyncio.AbstractEventLoop] | None = None
        self._status = TransportStatus(state="starting", nick=settings.user_id)

    def run(self, deliver: Deliver) -> None:
        """Log in, sync and reconnect until ``stop``; runs on the transport's thread."""
        self.memory.load()
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            session = Session(self.name, self.settings, self.memory, deliver, self._outbox,
                              self._publish, loop)
            self._session = session
            self._live = (session, loop)
            if self._stopped.is_set():
                session.request_stop(self._goodbye)
            loop.call_soon(session.drain)
            loop.run_until_complete(session.serve())
        finally:
            self._live = None
            _close_loop(loop)
            self.memory.flush(FLUSH_S)
            self._publish(dataclasses.replace(self._status, state="stopped", targets=()))

    def send(self, target: str, text: str) -> None:
        """Queue ``text`` for a room (id or alias), or a thread in it (``room/$root``).
        Thread-safe."""
        self._outbox.put((target, text))
        self._call_soon(lambda session: session.drain())

    def stop(self, goodbye: str = "") -> None:
        """Send what is queued, set the goodbye as presence status, end ``run``.
        Thread-safe."""
        self._goodbye = goodbye
        self._stopped.set()
        self._call_soon(lambda session: session.request_stop(goodbye))

    def status(self) -> TransportStatus:
        """A snapshot of the connection and joined rooms. Thread-safe."""
        session = self._session
        inbound = session.last_inbound if session is not None else None
        return dataclasses.replace(self._status, last_inbound=inbound)

    def _publish(self, status: TransportStatus) -> None:
        self._status = status  # one reference swap: readers see the old or the new snapshot

    def _call_soon(self, action: Callable[[Session], None]) -> None:
        live = self._live
        if live is None:
            return  # run() has not started: it drains the outbox and checks stop itself
        session, loop = live
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(action, session)


def _close_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what is left on ``loop``, let it finish, and close the loop."""
    tasks = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()
    asyncio.set_event_loop(None)
