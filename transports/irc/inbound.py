"""Incoming IRC chat: which PRIVMSGs become ``Message`` objects, and who sent them.

Layer: transport (IRC adapter); stdlib + ``univac``. The transport's I/O thread runs it.
Never delivered: our own words (and the Slack gateway's ``[nick]`` self-DM echo),
bouncer playback (ZNC markers, IRCv3 playback batches, ``server-time`` older than the
connection), bridge edits (configured prefixes), CTCP, and NOTICEs (bots must not answer
them). Identity is the IRCv3 account when known, else the full ``nick!user@host``: with
``account-tag`` negotiated the message's tag alone says which account sent it (no tag:
no account); without it, ``accounts.Accounts`` answers only for nicks the bot shares a
channel with.
"""

from __future__ import annotations

import logging
from datetime import datetime

from univac import Message

from .accounts import Accounts
from .lines import Line
from .state import Link

log = logging.getLogger("univac.transports.irc")

PLAYBACK_BATCHES = frozenset({"chathistory", "draft/chathistory", "znc.in/playback"})
VERSION = "Univac IRC bot"


def server_time(value: str) -> float | None:
    """Parse an IRCv3 ``time`` tag (``2024-01-02T03:04:05.678Z``)."""
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class Inbound:
    """Turns PRIVMSG lines into ``Message``s, keeping the state filtering needs."""

    def __init__(self, name: str, edit_prefixes: tuple[str, ...], skew: float) -> None:
        self.name = name
        self.edit_prefixes = tuple(p for p in edit_prefixes if p)
        self.skew = skew
        self.batches: dict[str, str] = {}
        self.znc_playback: set[str] = set()
        self.accounts = Accounts()

    def reset(self) -> None:
        """Forget per-connection state."""
        self.batches.clear()
        self.znc_playback.clear()
        self.accounts.reset()

    def on_batch(self, line: Line) -> None:
        """Track ``BATCH +id type`` / ``BATCH -id``."""
        ref = line.arg(0)
        if len(self.batches) > 1000:  # a server that never closes its batches
            self.batches.clear()
        if ref.startswith("+"):
            outer = self.batches.get(line.tags.get("batch", ""), "")
            self.batches[ref[1:]] = outer if outer in PLAYBACK_BATCHES else line.arg(1).lower()
        elif ref.startswith("-"):
            self.batches.pop(ref[1:], None)

    def identity(self, link: Link, line: Line) -> str:
        """``account:<name>`` when known, else ``mask:<nick!user@host>``."""
        account = line.tags.get("account", "")
        if account and account != "*":
            return f"account:{account}"
        if "account-tag" in link.caps:  # the server tags every logged-in sender
            return f"mask:{line.source}"
        known = self.accounts.account(link, line.nick)
        return f"account:{known}" if known else f"mask:{line.source}"

    def is_replay(self, link: Link, line: Line) -> bool:
        """Whether the line is bouncer history rather than something said now."""
        tags = line.tags
        if not tags and not self.znc_playback:
            return False  # the common case, checked cheaply
        if self.batches.get(tags.get("batch", "")) in PLAYBACK_BATCHES:
            return True
        if self.znc_playback and link.fold(line.arg(0)) in self.znc_playback:
            return True
        stamp = server_time(tags["time"]) if "time" in tags else None
        return stamp is not None and stamp < link.connected_at - self.skew

    def _znc_marker(self, link: Link, line: Line) -> bool:
        if line.nick != "***":
            return False
        text, channel = line.arg(1), link.fold(line.arg(0))
        if text.startswith("Buffer Playback"):
            self.znc_playback.add(channel)
        elif text.startswith("Playback Complete"):
            self.znc_playback.discard(channel)
        return True

    def message(self, link: Link, line: Line) -> Message | None:
        """The ``Message`` for a PRIVMSG, or ``None`` when it must not be acted on."""
        nick, params = line.nick, line.params
        if len(params) < 2 or not nick or not params[1]:
            return None
        if link.is_me(nick) or self._znc_marker(link, line) or self.is_replay(link, line):
            return None
        target, text = params[0], params[1]
        statusmsg = link.isupport.get("STATUSMSG") or "@+"
        if len(target) > 1 and target[0] in statusmsg and link.is_channel(target[1:]):
            target = target[1:]  # "@#chan": to the channel's ops; answer in the channel
        private = not link.is_channel(target)
        if text.startswith("\x01") or text.startswith(self.edit_prefixes or ("\x00",)):
            return None
        if private and text.startswith(f"[{link.nick}] "):
            return None
        where = nick if private else target
        return Message(self.name, where, nick, text, private, self.identity(link, line), link.nick)


def ctcp_reply(line: Line, now: float) -> tuple[str, str] | None:
    """``(nick, reply)`` for a CTCP VERSION/PING/TIME request, else ``None``."""
    text = line.arg(1)
    if not (text.startswith("\x01") and line.command == "PRIVMSG" and line.nick):
        return None
    body = text.strip("\x01")
    kind, _sep, rest = body.partition(" ")
    kind = kind.upper()
    if kind == "VERSION":
        return line.nick, f"\x01VERSION {VERSION}\x01"
    if kind == "PING":
        return line.nick, f"\x01PING {rest[:64]}\x01"
    if kind == "TIME":
        return line.nick, f"\x01TIME {datetime.fromtimestamp(now).isoformat()}\x01"
    return None
