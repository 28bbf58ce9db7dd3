"""The Slack transport: channels, direct messages and threads through Socket Mode.
Layer: transport.

Threads: ``run`` is called on the transport's own thread (``transport:<name>``); it
creates an asyncio loop there and slack_sdk's asyncio clients on it, and nothing else
ever touches them. ``send``, ``stop`` and ``status`` are called from any thread:
``send`` and ``stop`` cross into the loop with ``call_soon_threadsafe``; ``status``
reads an immutable snapshot that the loop thread replaces.

The pieces: ``session`` (the connection, acknowledgements, status), ``inbound`` (what
reaches the core and what is ignored), ``outbound`` (escaping, splitting, the sender),
``support`` (failure log, user names). See docs/slack.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import queue
import threading
from collections.abc import Callable

from univac import Deliver, TransportStatus

from .session import Session
from .settings import Settings

__all__ = ["Settings", "SlackTransport", "create"]


def create(name: str, settings: Settings) -> SlackTransport:
    """Return the Slack transport named ``name`` (``Settings`` checked itself already)."""
    return SlackTransport(name, settings)


class SlackTransport:
    """The thread-facing side of the transport (see the module docstring)."""

    def __init__(self, name: str, settings: Settings) -> None:
        self.name = name
        self.settings = settings
        self._outbox: queue.SimpleQueue[tuple[str, str]] = queue.SimpleQueue()
        self._stopped = threading.Event()
        self._session: Session | None = None
        self._live: tuple[Session, asyncio.AbstractEventLoop] | None = None
        self._status = TransportStatus(state="starting")

    def run(self, deliver: Deliver) -> None:
        """Connect, serve and reconnect until ``stop``; runs on the transport's thread."""
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            session = Session(self.name, self.settings, deliver, self._outbox,
                              self._publish, loop)
            self._session = session
            self._live = (session, loop)
            if self._stopped.is_set():
                session.request_stop("")
            loop.call_soon(session.drain)
            loop.run_until_complete(session.serve())
        finally:
            self._live = None
            _close_loop(loop)
            self._publish(dataclasses.replace(self._status, state="stopped", targets=()))

    def send(self, target: str, text: str) -> None:
        """Queue ``text`` for a channel id (``C...``, ``D...``) or a thread in it
        (``C.../<thread ts>``). Thread-safe."""
        self._outbox.put((target, text))
        self._call_soon(lambda session: session.drain())

    def stop(self, goodbye: str = "") -> None:
        """Send what is queued, close the connection, end ``run``. Thread-safe. (Slack
        has no place for a goodbye that would not disturb a channel; it is not sent.)"""
        self._stopped.set()
        self._call_soon(lambda session: session.request_stop(goodbye))

    def status(self) -> TransportStatus:
        """A snapshot of the connection. Thread-safe."""
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
