"""Running a transport's asyncio session on the transport's thread. Layer: core (for transports).

The XMPP, Matrix and Slack transports each talk to their server from one asyncio loop,
made on the transport's own thread in ``run``: their protocol library's objects are
touched only there. ``LoopHost`` is the part of such a transport that other threads
call: ``send`` queues text and asks the loop to hand what is queued to the session, in
order; ``stop`` does the same and then asks the session to end; ``status`` reads the
snapshot the session publishes (one reference swap, so a reader sees the old snapshot
or the new one). A transport composes one and gives ``run`` a function that makes its
session on the loop.

The session is the transport's own class; the host needs of it ``put(target, text)``
(send one queued reply, or hold it), ``request_stop(goodbye)``, the coroutine
``serve()`` (connect, reconnect, return once stopped) and ``last_inbound``. Also here:
``close_loop``, which ends a loop without leaving tasks pending, ``background``, a task
whose failure is logged, and ``until_stopped``, the wait a session's ``serve`` ends on.

``asyncio`` is imported where it is used, not with the module: every transport imports
``univac``, and the IRC transport and the console, which need no loop, should not pay
for loading it (about 2 MB of a process's memory).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import queue
import threading
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Protocol

from univac.transport import TransportStatus

if TYPE_CHECKING:
    import asyncio

Outbox = queue.SimpleQueue[tuple[str, str]]


class LoopSession(Protocol):
    """What ``LoopHost`` asks of a transport's session (on the loop's thread)."""

    last_inbound: float | None

    def put(self, target: str, text: str) -> None: ...
    def request_stop(self, goodbye: str) -> None: ...
    def serve(self) -> Coroutine[Any, Any, None]: ...


class LoopHost:
    """The thread-safe side of a transport whose session runs on an asyncio loop."""

    def __init__(self, status: TransportStatus) -> None:
        self._outbox: Outbox = queue.SimpleQueue()
        self._stopped = threading.Event()
        self._goodbye = ""
        self._session: LoopSession | None = None
        self._live: tuple[LoopSession, asyncio.AbstractEventLoop] | None = None
        """The running session and its loop, swapped as one reference for other threads."""
        self._status = status

    def run(self, make: Callable[[asyncio.AbstractEventLoop], LoopSession]) -> None:
        """Make the session on a new loop of this thread and serve until it ends."""
        import asyncio

        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            session = make(loop)
            self._session = session
            self._live = (session, loop)
            if self._stopped.is_set():
                self._end(session, self._goodbye)
            loop.call_soon(self._hand_over, session)
            loop.run_until_complete(session.serve())
        finally:
            self._live = None
            close_loop(loop)
            self.publish(dataclasses.replace(self._status, state="stopped", targets=()))

    def send(self, target: str, text: str) -> None:
        """Queue ``text`` for ``target``; the loop sends it. Thread-safe."""
        self._outbox.put((target, text))
        self._call_soon(self._hand_over)

    def stop(self, goodbye: str = "") -> None:
        """Hand the session what is queued, ask it to say ``goodbye`` and end ``run``.
        Thread-safe."""
        self._goodbye = goodbye
        self._stopped.set()
        self._call_soon(lambda session: self._end(session, goodbye))

    def status(self) -> TransportStatus:
        """The last published snapshot, with the session's live ``last_inbound``."""
        session = self._session
        inbound = session.last_inbound if session is not None else None
        return dataclasses.replace(self._status, last_inbound=inbound)

    def publish(self, status: TransportStatus) -> None:
        """Replace the snapshot (the session calls it on the loop's thread)."""
        self._status = status

    def _hand_over(self, session: LoopSession) -> None:
        """Give ``session`` everything other threads queued, in order (on the loop)."""
        while True:
            try:
                target, text = self._outbox.get_nowait()
            except queue.Empty:
                return
            session.put(target, text)

    def _end(self, session: LoopSession, goodbye: str) -> None:
        self._hand_over(session)
        session.request_stop(goodbye)

    def _call_soon(self, action: Callable[[LoopSession], None]) -> None:
        live = self._live
        if live is None:
            return  # run() has not started: it hands over the queue and checks stop itself
        session, loop = live
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(action, session)


def close_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what is left on ``loop``, let it finish, and close the loop."""
    import asyncio

    tasks = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()
    asyncio.set_event_loop(None)


def background(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, None], what: str,
               log: logging.Logger) -> asyncio.Task[None]:
    """Run ``coro`` as a task on ``loop``; an exception ending it is logged."""
    task = loop.create_task(coro, name=what)

    def ended(done: asyncio.Task[None]) -> None:
        if not done.cancelled() and done.exception() is not None:
            log.error("%s failed", what, exc_info=done.exception())

    task.add_done_callback(ended)
    return task


async def until_stopped(stopping: asyncio.Event,
                        tasks: list[asyncio.Task[None]]) -> BaseException | None:
    """Wait for ``stopping``, or for one of ``tasks`` to end: return its exception."""
    import asyncio

    waiter = asyncio.ensure_future(stopping.wait())
    done, _ = await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    ended = [task for task in tasks if task in done]
    return next((t.exception() or RuntimeError(f"{t.get_name()} ended") for t in ended), None)
