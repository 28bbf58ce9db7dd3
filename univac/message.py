"""Messages that transports deliver to the core. Layer: core; immutable, any thread."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

THREAD_SEPARATOR = "/"
"""Between a channel and a thread in a target: ``<channel>/<thread>``."""


class Message(NamedTuple):
    """One chat message as a transport received it.

    ``target`` is where a reply goes: the channel or room, or the sender for a private
    message. ``identity`` is who sent it in a form nobody else can take (IRC account or
    full mask, XMPP bare JID, console user); it is empty when the transport cannot tell.
    ``bot_nick`` is the bot's own nick on that transport when the message arrived: the
    core uses it for addressing (``univac: help``) and to ignore the bot's own words.
    ``thread`` is the thread the message came in, on transports that have threads
    (Matrix, Slack); the target is then ``<channel>/<thread>``, so that the reply goes
    to the thread, and ``channel`` is the channel the thread belongs to: what access
    rules and the channel rate limit see.

    A named tuple rather than a frozen dataclass: every chat line that reaches the bot
    builds one on the transport's thread, and a frozen dataclass took three times as
    long to build (1.3 vs 0.4 us here).
    """

    transport: str
    target: str
    sender: str
    text: str
    private: bool = False
    identity: str = ""
    bot_nick: str = ""
    thread: str = ""

    @property
    def channel(self) -> str:
        """The target without its thread: the channel or room the message was said in."""
        if not self.thread:
            return self.target
        return self.target.removesuffix(THREAD_SEPARATOR + self.thread)


Deliver = Callable[[Message], None]
"""What a transport calls for each incoming message: thread-safe, quick, never raises."""
