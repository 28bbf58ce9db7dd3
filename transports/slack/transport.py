"""The Slack transport: channels, direct messages and threads through Socket Mode.
Layer: transport.

Threads: ``run`` is called on the transport's own thread (``transport:<name>``); it
creates an asyncio loop there and slack_sdk's asyncio clients on it, and nothing else
ever touches them. ``send``, ``stop`` and ``status`` are called from any thread:
``send`` and ``stop`` cross into the loop with ``call_soon_threadsafe``; ``status``
reads an immutable snapshot that the loop thread replaces (``univac.LoopHost`` does
all this).

The pieces: ``session`` (the connection, acknowledgements, status), ``inbound`` (what
reaches the core and what is ignored), ``outbound`` (escaping, splitting, the sender),
``support`` (user names, quiet SDK logs). See docs/slack.md.
"""

from __future__ import annotations

from univac import Deliver, LoopHost, TransportStatus

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
        self._host = LoopHost(TransportStatus(state="starting"))

    def run(self, deliver: Deliver) -> None:
        """Connect, serve and reconnect until ``stop``; runs on the transport's thread."""
        self._host.run(lambda loop: Session(self.name, self.settings, deliver,
                                            self._host.publish, loop))

    def send(self, target: str, text: str) -> None:
        """Queue ``text`` for a channel id (``C...``, ``D...``) or a thread in it
        (``C.../<thread ts>``). Thread-safe."""
        self._host.send(target, text)

    def stop(self, goodbye: str = "") -> None:
        """Send what is queued, close the connection, end ``run``. Thread-safe. (Slack
        has no place for a goodbye that would not disturb a channel; it is not sent.)"""
        self._host.stop("")

    def status(self) -> TransportStatus:
        """A snapshot of the connection. Thread-safe."""
        return self._host.status()
