"""The IRC protocol for one connection: registration, nicks, keepalive, dispatch.

Layer: transport (IRC adapter); stdlib + ``univac``. The transport's I/O thread runs it;
it owns no socket. ``handle`` takes one parsed line, ``tick`` fires timers; both queue
output on the ``Sender`` and raise ``Closed`` to end the connection. Registration is
complete at 001 (with or without a trailing parameter); channels are joined at the end
of the MOTD (376/422) or shortly after 001 when the server sends no MOTD at all. Timers:
no byte at all within ``first_byte`` of connecting, no 001 within ``register_timeout``,
or no answer to our keepalive PING end the connection (the wait for the answer grows by
the time a server that paces our input needs for our own lines ahead of the PING, see
``Sender.pinged``); every end the bot decides itself on a link that may still work is a
``Closed(..., quit=True)`` (a QUIT says why).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from univac import Deliver

from .accounts import FOLLOWED
from .caps import Caps
from .channels import Channels
from .inbound import Inbound, ctcp_reply
from .lines import Line, build
from .sender import Sender
from .state import Closed, Link

log = logging.getLogger("univac.transports.irc")

AUTH_FAILURES = frozenset({"444", "464", "465"})
JOIN_ERRORS = frozenset({"403", "405", "437", "471", "473", "474", "475", "476", "477", "520"})
NICK_ERRORS = frozenset({"431", "432", "433", "436", "437"})
GENERATED_NICKS = 10
"""Nicks of the form ``<nick>NN`` tried after the alternates before giving up."""


@dataclass(frozen=True)
class Timing:
    """Timer settings in seconds."""

    register_timeout: float = 60.0
    motd_wait: float = 2.0
    ping_interval: float = 10.0
    ping_timeout: float = 15.0
    nick_regain: float = 60.0
    first_byte: float = 20.0


@dataclass(frozen=True)
class Identity:
    """Who we say we are."""

    nick: str
    alt_nicks: tuple[str, ...]
    username: str
    realname: str
    password: str


class Session:
    """Protocol state and handlers for one connection."""

    def __init__(self, link: Link, out: Sender, caps: Caps, channels: Channels,
                 inbound: Inbound, who: Identity, timing: Timing, deliver: Deliver,
                 now: float) -> None:  # fmt: skip
        self.link, self.out, self.caps, self.channels = link, out, caps, channels
        self.inbound, self.who, self.timing, self.deliver = inbound, who, timing, deliver
        self.seen = inbound.accounts
        self.nick_tries = 0
        self.joined_once = False
        self.last_inbound = now
        self.last_pong: float | None = None
        self.pong_wait = timing.ping_timeout
        self.timers: dict[str, float] = {"register": now + timing.register_timeout,
                                         "first_byte": now + timing.first_byte}  # fmt: skip
        self.handlers: dict[str, Callable[[Line, float], None]] = {
            "PING": self.on_ping, "PONG": self.on_pong, "CAP": self.on_cap,
            "AUTHENTICATE": self.on_authenticate,
            "001": self.on_welcome, "005": self.on_isupport, "376": self.on_motd_end,
            "422": self.on_motd_end, "NICK": self.on_nick, "QUIT": self.on_quit,
            "JOIN": self.on_join, "PART": self.on_part, "KICK": self.on_kick,
            "366": self.on_names_end, "PRIVMSG": self.on_privmsg, "BATCH": self.on_batch,
            "ERROR": self.on_error,
            "RECONNECT": self.on_reconnect, "CHGHOST": self.on_chghost, "396": self.on_host,
            "421": self.on_unknown_command, "731": self.on_monitor_offline,
        }  # fmt: skip

    def urgent(self, lines: list[str]) -> None:
        """Queue lines that skip flood control."""
        for line in lines:
            self.out.urgent(line)

    def start(self) -> None:
        """Send CAP LS 302, PASS, NICK and USER (pipelined)."""
        who = self.who
        lines = ["CAP LS 302"]
        if who.password:
            lines.append(build("PASS", trailing=who.password))
        lines.append(build("NICK", who.nick))
        lines.append(build("USER", who.username, "0", "*", trailing=who.realname))
        self.urgent(lines)

    def handle(self, line: Line, now: float) -> None:
        """Dispatch one line to its handler (unknown commands are ignored)."""
        if line.command in FOLLOWED and "account-tag" not in self.link.caps:
            self.seen.follow(self.link, line)
        handler = self.handlers.get(line.command)
        if handler is not None:
            handler(line, now)
        elif line.command in AUTH_FAILURES:
            reason = f"server refused login ({line.command}: {line.arg(-1)})"
            raise Closed(reason, "auth", quit=True)
        elif line.command in NICK_ERRORS and not self.link.registered:
            self.next_nick(f"{line.command} {line.arg(-1)}")
        elif line.command in JOIN_ERRORS:
            self.channels.on_error(self.link, line.arg(1), now, f"{line.command} {line.arg(-1)}")
        elif line.command.startswith("90"):
            self.urgent(self.caps.on_numeric(self.link, line))

    def on_pong(self, line: Line, now: float) -> None:
        """An answer to our keepalive PING (wall-clock time, for status)."""
        self.last_pong = time.time()
        self.out.ponged()

    def touch(self, now: float) -> None:
        """Traffic arrived: the link is alive."""
        self.last_inbound = now
        self.timers.pop("pong", None)
        self.timers.pop("first_byte", None)

    # registration -------------------------------------------------------

    def on_cap(self, line: Line, now: float) -> None:
        self.urgent(self.caps.on_cap(self.link, line, now))

    def on_authenticate(self, line: Line, now: float) -> None:
        self.urgent(self.caps.on_authenticate(line))

    def on_unknown_command(self, line: Line, now: float) -> None:
        if line.arg(1).upper() == "CAP" and not self.link.registered:
            self.caps.ended = True
            self.caps.on_registered(self.link)

    def on_welcome(self, line: Line, now: float) -> None:
        link = self.link
        candidate = line.arg(0) if len(line.params) >= 2 else ""
        if candidate and " " not in candidate and candidate != "*":
            link.nick = candidate
        if not link.registered:
            link.registered, link.registered_at = True, now
            self.timers.pop("register", None)
            self.timers["motd"] = now + self.timing.motd_wait
            self.caps.on_registered(link)

    def on_monitor_offline(self, line: Line, now: float) -> None:
        wanted = self.link.fold(self.link.wanted_nick)
        if any(self.link.fold(t.split("!")[0]) == wanted for t in line.arg(-1).split(",")):
            self.timers["regain"] = now

    def on_isupport(self, line: Line, now: float) -> None:
        for token in line.params[1:-1]:
            key, _sep, value = token.partition("=")
            if key.startswith("-"):
                self.link.isupport.pop(key[1:].upper(), None)
            elif key:
                self.link.isupport[key.upper()] = value

    def on_motd_end(self, line: Line, now: float) -> None:
        if not self.link.registered:
            self.on_welcome(Line("001", [], line.source), now)
        self.join_channels(now)

    def join_channels(self, now: float) -> None:
        """Join configured channels once per connection (retries come from ``tick``)."""
        self.timers.pop("motd", None)
        if not self.joined_once:
            self.joined_once = True
            self.out.control(self.channels.join_all(self.link, now))
            link = self.link
            bot_mode = link.isupport.get("BOT", "")
            if len(bot_mode) == 1:  # IRCv3 bot mode: mark ourselves as a bot
                self.out.control([build("MODE", link.nick, f"+{bot_mode}")])
            if "MONITOR" in link.isupport and link.fold(link.nick) != link.fold(link.wanted_nick):
                self.out.control([build("MONITOR", "+", link.wanted_nick)])

    def next_nick(self, refusal: str) -> None:
        """Our nick is taken or refused during registration: try the next alternate,
        then ``GENERATED_NICKS`` of the form ``<nick>NN``, then give up on this link."""
        self.nick_tries += 1
        who = self.who
        if self.nick_tries > len(who.alt_nicks) + GENERATED_NICKS:
            reason = f"no nick accepted after {self.nick_tries} tries (last: {refusal})"
            raise Closed(reason, quit=True)
        if self.nick_tries <= len(who.alt_nicks):
            nick = who.alt_nicks[self.nick_tries - 1]
        else:
            nick = f"{who.nick[:12]}{self.nick_tries:02d}"
        self.link.nick = nick
        self.urgent([build("NICK", nick)])

    # people and channels -----------------------------------------------------

    def on_nick(self, line: Line, now: float) -> None:
        new = line.arg(0)
        if not new:
            return
        if self.link.is_me(line.nick):
            self.link.nick = new
        elif self.link.fold(line.nick) == self.link.fold(self.link.wanted_nick):
            self.timers["regain"] = now

    def on_quit(self, line: Line, now: float) -> None:
        if line.nick and self.link.fold(line.nick) == self.link.fold(self.link.wanted_nick):
            self.timers["regain"] = now

    def on_join(self, line: Line, now: float) -> None:
        channel = line.arg(0)
        if channel and self.link.is_me(line.nick):
            self.channels.on_joined(self.link, channel)
            if "!" in line.source:
                self.link.userhost = line.source.split("!", 1)[1]
            if "WHOX" in self.link.isupport and "account-tag" not in self.link.caps:
                self.out.control([build("WHO", channel, "%tcna,42")])

    def on_names_end(self, line: Line, now: float) -> None:
        if line.arg(1) and self.link.is_channel(line.arg(1)):
            self.channels.on_joined(self.link, line.arg(1))

    def on_part(self, line: Line, now: float) -> None:
        if self.link.is_me(line.nick) and line.arg(0):
            self.channels.on_left(self.link, line.arg(0), now, "parted")

    def on_kick(self, line: Line, now: float) -> None:
        if line.arg(1) and self.link.is_me(line.arg(1)):
            self.channels.on_left(self.link, line.arg(0), now, f"kicked by {line.nick}")

    def on_chghost(self, line: Line, now: float) -> None:
        if self.link.is_me(line.nick) and len(line.params) >= 2:
            self.link.userhost = f"{line.arg(0)}@{line.arg(1)}"

    def on_host(self, line: Line, now: float) -> None:
        if "@" in self.link.userhost and line.arg(1):
            self.link.userhost = f"{self.link.userhost.split('@')[0]}@{line.arg(1)}"

    def on_batch(self, line: Line, now: float) -> None:
        self.inbound.on_batch(line)

    def on_privmsg(self, line: Line, now: float) -> None:
        message = self.inbound.message(self.link, line)
        if message is not None:
            asker = message.identity or message.sender
            if not self.out.more(self.link, message.target, message.text, asker, now):
                self.deliver(message)
            return
        reply = ctcp_reply(line, now) if not self.inbound.is_replay(self.link, line) else None
        if reply is not None:
            self.out.ctcp(reply[0], reply[1], now)

    # keepalive and server control ---------------------------------------

    def on_ping(self, line: Line, now: float) -> None:
        token = line.arg(-1) if line.params else line.source
        self.urgent([build("PONG", trailing=token) if token else "PONG"])

    def on_error(self, line: Line, now: float) -> None:
        if not self.link.quitting:
            raise Closed(f"server said ERROR: {line.arg(-1)}", "now")

    def on_reconnect(self, line: Line, now: float) -> None:
        raise Closed("server asked us to reconnect", "now", quit=True)

    def tick(self, now: float) -> None:
        """Fire due timers: first byte, registration, joins, keepalive, nick regain."""
        timers, timing = self.timers, self.timing
        if timers.get("first_byte", now + 1) <= now:
            raise Closed(f"no byte from the server within {timing.first_byte:g} s", quit=True)
        if timers.get("register", now + 1) <= now:
            raise Closed(f"registration timed out after {timing.register_timeout:g} s", quit=True)
        if timers.get("pong", now + 1) <= now:
            silent = round(timing.ping_interval + self.pong_wait, 1)
            raise Closed(f"no answer to our PING: link silent for {silent:g} s", quit=True)
        if timers.get("motd", now + 1) <= now:
            self.join_channels(now)
        if self.link.registered:
            self._keepalive(now)
            self._regain(now)
            self.out.control(self.channels.due(self.link, now))

    def _keepalive(self, now: float) -> None:
        if "pong" not in self.timers and now - self.last_inbound >= self.timing.ping_interval:
            self.urgent([build("PING", trailing=f"univac-{int(now)}")])
            self.pong_wait = self.timing.ping_timeout + self.out.pinged()
            self.timers["pong"] = now + self.pong_wait

    def _regain(self, now: float) -> None:
        link = self.link
        if link.fold(link.nick) == link.fold(link.wanted_nick):
            self.timers.pop("regain", None)
            return
        due = self.timers.setdefault("regain", now + self.timing.nick_regain)
        if due <= now:
            self.urgent([build("NICK", link.wanted_nick)])
            self.timers["regain"] = now + self.timing.nick_regain

    def deadline(self) -> float:
        """When ``tick`` next needs to run."""
        timers = self.timers
        if not self.link.registered:
            return min((t for k, t in timers.items() if k != "regain"), default=float("inf"))
        soonest = min(timers.values(), default=float("inf"))
        if "pong" not in timers:
            soonest = min(soonest, self.last_inbound + self.timing.ping_interval)
        return min(soonest, self.channels.deadline())
