"""Per-connection IRC state shared by the protocol helpers, and the ``Closed`` signal.

Layer: transport (IRC adapter); stdlib only. Only the transport's I/O thread reads or
writes a ``Link``; the transport publishes snapshots of it for ``status()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

Backoff = Literal["normal", "now", "auth"]

_RFC1459 = str.maketrans("[]\\~", "{}|^")


class Closed(Exception):
    """End this connection; ``backoff`` says how soon to dial again. ``quit``: the bot
    decided to leave a link that still works, so it sends ``QUIT :<reason>`` first (a
    dead socket, or a server that already said ERROR, gets none)."""

    def __init__(self, reason: str, backoff: Backoff = "normal", sts_port: int = 0,
                 quit: bool = False) -> None:  # fmt: skip
        super().__init__(reason)
        self.reason = reason
        self.backoff: Backoff = backoff
        self.sts_port = sts_port
        self.quit = quit


@dataclass
class Link:
    """What one connection knows about itself and the server."""

    wanted_nick: str
    nick: str
    tls: bool
    connected_at: float
    port: int = 0
    registered: bool = False
    registered_at: float = 0.0
    account: str = ""
    userhost: str = ""
    isupport: dict[str, str] = field(default_factory=dict)
    caps: set[str] = field(default_factory=set)
    quitting: bool = False

    def fold(self, name: str) -> str:
        """Case-fold a nick or channel by the server's CASEMAPPING."""
        return _fold(name, self.isupport.get("CASEMAPPING", "rfc1459"))

    def is_me(self, nick: str) -> bool:
        """Whether ``nick`` is our current nick."""
        return bool(nick) and self.fold(nick) == self.fold(self.nick)

    def mask(self) -> str:
        """Our ``nick!user@host`` as the server shows it, or a worst-case guess."""
        return f"{self.nick}!{self.userhost or ('~' + 'u' * 9 + '@' + 'h' * 63)}"

    def is_channel(self, target: str) -> bool:
        """Whether ``target`` names a channel (by CHANTYPES, default ``#&``)."""
        types = self.isupport.get("CHANTYPES") or "#&"
        return bool(target) and target[0] in types


@lru_cache(maxsize=4096)
def _fold(name: str, casemapping: str) -> str:
    lowered = name.lower()
    return lowered if casemapping.lower() == "ascii" else lowered.translate(_RFC1459)
