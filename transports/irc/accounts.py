"""Services accounts of the people the bot can see, for servers without ``account-tag``.

Layer: transport (IRC adapter); stdlib only. The transport's I/O thread runs it.
Without ``account-tag`` a message does not say which account sent it, so the account
learnt from ``extended-join``, ``account-notify`` (``ACCOUNT``) or WHOX is remembered
per nick. That memory is only true while the bot shares a channel with the nick: then
the server shows the bot every QUIT, NICK, PART and KICK that could hand the nick to
someone else. So an entry lives exactly as long as that: a PART or KICK that leaves no
shared channel, a QUIT, a nick change, or the bot's own PART or KICK drops it, and a nick
the bot shares no channel with has no account, whatever it had before.
"""

from __future__ import annotations

from .lines import Line
from .state import Link

FOLLOWED = frozenset({"JOIN", "PART", "KICK", "QUIT", "NICK", "ACCOUNT", "353", "354"})
"""The commands ``Accounts.follow`` reads."""
WHOX_TOKEN = "42"
"""The token of our ``WHO #channel %tcna,42`` queries."""
NAMES_PREFIXES = "~&@%+!"
"""Membership prefixes in NAMES replies besides those of ISUPPORT ``PREFIX``."""


class Accounts:
    """Who is in the channels the bot is in, and the accounts of those people."""

    def __init__(self) -> None:
        self.members: dict[str, set[str]] = {}
        """Our channels (folded) -> the folded nicks in them, ourselves left out."""
        self.channels_of: dict[str, set[str]] = {}
        """Folded nick -> the channels in ``members`` it is in (never empty)."""
        self.known: dict[str, str] = {}
        """Folded nick -> account, only for nicks in ``channels_of``."""

    def reset(self) -> None:
        """Forget everything (the connection is gone)."""
        self.members.clear()
        self.channels_of.clear()
        self.known.clear()

    def account(self, link: Link, nick: str) -> str:
        """The account behind ``nick``, or ``""`` when unknown or out of sight."""
        return self.known.get(link.fold(nick), "") if self.known else ""

    def follow(self, link: Link, line: Line) -> None:
        """Update from one JOIN, PART, KICK, QUIT, NICK, ACCOUNT, 353 or 354 line."""
        command, nick = line.command, line.nick
        if command == "JOIN" and line.arg(0):
            self._joined(link, line.arg(0), nick)
            if "extended-join" in link.caps and len(line.params) >= 2:
                self._set(link, nick, line.arg(1))
        elif command in ("PART", "KICK"):
            self._left(link, line.arg(0), line.arg(1) if command == "KICK" else nick)
        elif command == "QUIT":
            self._gone(link.fold(nick))
        elif command == "NICK" and line.arg(0):
            self._renamed(link.fold(nick), link.fold(line.arg(0)))
        elif command == "ACCOUNT":
            self._set(link, nick, line.arg(0))
        elif command == "353" and len(line.params) >= 4:
            self._names(link, line.arg(2), line.arg(-1).split())
        elif command == "354" and len(line.params) >= 5 and line.arg(1) == WHOX_TOKEN:
            self._joined(link, line.arg(2), line.arg(3))  # me 42 #channel nick account
            self._set(link, line.arg(3), line.arg(4))

    def _set(self, link: Link, nick: str, account: str) -> None:
        folded = link.fold(nick)
        if account and account not in ("*", "0") and folded in self.channels_of:
            self.known[folded] = account
        else:
            self.known.pop(folded, None)

    def _joined(self, link: Link, channel: str, nick: str) -> None:
        if not nick:
            return
        if link.is_me(nick):
            self.members.setdefault(link.fold(channel), set())
        else:
            self._add(link.fold(channel), link.fold(nick))

    def _add(self, channel: str, folded: str) -> None:
        members = self.members.get(channel)
        if members is not None:  # a channel the bot is in
            members.add(folded)
            self.channels_of.setdefault(folded, set()).add(channel)

    def _names(self, link: Link, channel: str, names: list[str]) -> None:
        prefixes = NAMES_PREFIXES + link.isupport.get("PREFIX", "").partition(")")[2]
        nicks = [name.lstrip(prefixes).split("!", 1)[0] for name in names]
        if any(link.is_me(nick) for nick in nicks):
            self.members.setdefault(link.fold(channel), set())  # e.g. a bouncer's channel
        for nick in nicks:
            if nick and not link.is_me(nick):
                self._add(link.fold(channel), link.fold(nick))

    def _left(self, link: Link, channel: str, nick: str) -> None:
        if not channel or not nick:
            return
        if link.is_me(nick):
            folded_channel = link.fold(channel)
            for folded in self.members.pop(folded_channel, set()):
                self._drop(folded_channel, folded)
        elif (members := self.members.get(link.fold(channel))) is not None:
            members.discard(link.fold(nick))
            self._drop(link.fold(channel), link.fold(nick))

    def _drop(self, channel: str, folded: str) -> None:
        """``folded`` is no longer in ``channel``: forget it when no channel is left."""
        channels = self.channels_of.get(folded)
        if channels is not None:
            channels.discard(channel)
            if channels:
                return
            del self.channels_of[folded]
        self.known.pop(folded, None)

    def _gone(self, folded: str) -> None:
        for channel in self.channels_of.pop(folded, set()):
            self.members[channel].discard(folded)
        self.known.pop(folded, None)

    def _renamed(self, before: str, after: str) -> None:
        if before == after:  # a change of case only
            return
        account = self.known.pop(before, "")
        self._gone(after)  # nobody else can hold the new nick: drop anything stale
        channels = self.channels_of.pop(before, set())
        for channel in channels:
            self.members[channel].discard(before)
            self.members[channel].add(after)
        if channels:
            self.channels_of[after] = channels
            if account:
                self.known[after] = account
