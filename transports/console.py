"""The console transport: a line-based chat on stdin and stdout. Layer: transport.

The embedded default, for trying the bot and for scripts: each input line is a private
message from the local user (so ``help`` works as well as ``!help``), and each reply
is a line on stdout. A line ``#room text`` is said in the channel ``#room`` instead,
as channel chat (so ``@match`` handlers and channel rules can be tried; replies to it
show as ``[#room] text``). It works with piped input (``echo '!help' | univac``) and
finishes at end of input, which shuts the bot down cleanly. Text said to another
target is shown as ``[target] text``.

Thread model: ``run`` reads stdin on the transport thread (with ``select``, so ``stop``
ends it at once); ``send`` writes stdout under a lock from any thread.
"""

from __future__ import annotations

import getpass
import os
import select
import sys
import threading
import time
from dataclasses import dataclass
from typing import TextIO

from univac import Deliver, Message, TransportStatus

BANNER = ("You are chatting with {nick}. Try: help, echo hi, status; "
          "'#room text' speaks in a channel. Ctrl-D quits.")
MAX_LINE_BYTES = 16_384
POLL_S = 0.2


@dataclass(frozen=True)
class Settings:
    """Settings of a ``type = "console"`` transport."""

    user: str = ""
    """The name you chat as; defaults to your login name."""
    nick: str = "univac"
    """The bot's name, for addressing it as ``univac: help``."""


class ConsoleTransport:
    """Chat with the bot on the terminal or through a pipe."""

    def __init__(self, name: str, settings: Settings, stdin_fd: int, stdout: TextIO) -> None:
        self.name = name
        self._settings = settings
        self._user = settings.user or _login_name()
        self._fd = stdin_fd
        self._out = stdout
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._state = "starting"
        self._last_inbound: float | None = None

    def run(self, deliver: Deliver) -> None:
        """Read lines until end of input or ``stop``."""
        self._state = "connected"
        if os.isatty(self._fd):
            print(BANNER.format(nick=self._settings.nick), file=sys.stderr, flush=True)
        pending = b""
        while not self._stopping.is_set():
            chunk = self._read()
            if chunk is None:
                continue
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            if len(pending) > MAX_LINE_BYTES:
                lines, pending = [*lines, pending], b""
            for line in lines:
                self._deliver(line, deliver)
        if pending.strip() and not self._stopping.is_set():
            self._deliver(pending, deliver)
        self._state = "stopped"

    def _read(self) -> bytes | None:
        """Up to 64 KiB of input, b"" at end of input, None when nothing came in time."""
        ready, _, _ = select.select([self._fd], [], [], POLL_S)
        return os.read(self._fd, 65_536) if ready else None

    def _deliver(self, raw: bytes, deliver: Deliver) -> None:
        text = raw.decode("utf-8", errors="replace").rstrip("\r")
        if not text.strip():
            return
        self._last_inbound = time.time()
        room, said = channel_line(text)
        deliver(Message(
            transport=self.name, target=room or self._user, sender=self._user, text=said,
            private=not room, identity=f"console:{self._user}", bot_nick=self._settings.nick,
        ))

    def send(self, target: str, text: str) -> None:
        """Print ``text``; lines for another target are marked with it."""
        shown = text if target == self._user else f"[{target}] {text}"
        with self._lock:
            try:
                self._out.write(shown.replace("\r", "") + "\n")
                self._out.flush()
            except (BrokenPipeError, ValueError):
                self._stopping.set()

    def stop(self, goodbye: str = "") -> None:
        """End ``run`` soon; the goodbye is not printed (the console is yours)."""
        self._stopping.set()

    def status(self) -> TransportStatus:
        detail = f"stdin/stdout with {self._user}"
        return TransportStatus(self._state, self._settings.nick, (), detail, self._last_inbound)


def channel_line(text: str) -> tuple[str, str]:
    """``("#room", "text")`` for a line ``#room text``; ``("", text)`` for any other line."""
    if text.startswith("#"):
        room, _, said = text.partition(" ")
        if len(room) > 1 and said.strip():
            return room, said
    return "", text


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "you"


def create(name: str, settings: Settings) -> ConsoleTransport:
    """Make a console transport on this process's stdin and stdout."""
    return ConsoleTransport(name, settings, sys.stdin.fileno(), sys.stdout)
