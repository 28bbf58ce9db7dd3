"""Multi-user chat rooms: join, retry, nick conflicts, self-ping, kicks. Layer: transport.

Runs on the transport's own thread only (slixmpp event handlers and loop timers).

A join is done at our self-presence (status code 110), whether or not the room ever
sends a subject. A join error is kept for ``status()`` and retried with backoff
(``univac.Backoff``, which starts again from its base only after the bot stayed in the
room for ``healthy_after_s``, so a room that removes the bot at once is not rejoined
every second); a nick
conflict retries at once with the alternate nick (``nick`` + suffix, then twice the
suffix, and so on). Leaving a room we did not ask to leave (a kick, status 333 for a
technical removal, the room going away, or a failed XEP-0410 self-ping) rejoins it.

Self-pings are scheduled here, one task per joined room that ``_stop_ping`` cancels,
and sent with slixmpp's one-shot ``send_self_ping``. slixmpp's own scheduler
(``enable_self_ping``) leaves a pending task behind at every interval, which asyncio
reports as "Task was destroyed but it is pending!" once the room's pings are disabled.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from slixmpp import JID, ClientXMPP
from slixmpp.plugins.xep_0410 import PingStatus
from slixmpp.stanza import Message, Presence

from univac import Backoff, background

from .inbound import RoomView
from .support import RoomSpec

log = logging.getLogger("univac.transports.xmpp")

JOIN_HISTORY_STANZAS = 0
"""History asked for on join. Servers may send history anyway; the inbound filter drops it."""
MAX_NICK_CONFLICTS = 5
LEAVE_REASONS = {301: "banned", 307: "kicked", 321: "removed (affiliation)",
                 322: "removed (members only)", 332: "service shutdown",
                 333: "removed (technical)"}
REJOIN_AT_ONCE = {332, 333}


@dataclass(frozen=True)
class RoomOptions:
    """Room behaviour taken from the transport's settings."""

    alt_nick_suffix: str = "_"
    join_timeout_s: float = 30.0
    retry_min_s: float = 1.0
    retry_max_s: float = 300.0
    healthy_after_s: float = 60.0
    """In a room this long, a removal retries from ``retry_min_s`` again."""
    self_ping_interval_s: float = 300.0
    ping_timeout_s: float = 10.0


@dataclass
class RoomState:
    """One configured room: the view the filter reads plus the join machinery."""

    spec: RoomSpec
    view: RoomView
    backoff: Backoff
    error: str = ""
    conflicts: int = 0
    token: int = 0
    timer: asyncio.TimerHandle | None = None
    pinger: asyncio.Task | None = None
    active_at: float = 0.0
    """Loop time of the room's last message or presence to the bot."""


class Rooms:
    """The configured rooms of one client."""

    def __init__(self, client: ClientXMPP, specs: tuple[RoomSpec, ...], options: RoomOptions,
                 on_joined: Callable[[str], None], on_change: Callable[[], None]) -> None:
        self.client = client
        self.options = options
        self.on_joined = on_joined
        self.on_change = on_change
        self.rooms = {
            spec.jid: RoomState(spec, RoomView(spec.jid, spec.nick),
                                Backoff(options.retry_min_s, options.retry_max_s,
                                        healthy_after_s=options.healthy_after_s))
            for spec in specs
        }
        self.leaving = False
        client.add_event_handler("groupchat_presence", self.on_presence)
        client.add_event_handler("groupchat_message", self.on_room_message)
        client.add_event_handler("presence_error", self.on_presence_error)

    def view(self, jid: str) -> RoomView | None:
        state = self.rooms.get(jid)
        return state.view if state else None

    def joined(self) -> tuple[str, ...]:
        return tuple(jid for jid, state in self.rooms.items() if state.view.joined)

    def errors(self) -> str:
        return "; ".join(f"{jid}: {s.error}" for jid, s in self.rooms.items() if s.error)

    def join_all(self) -> None:
        """Join every room afresh (a new session: the server forgot us)."""
        for state in self.rooms.values():
            self._forget(state)
            state.conflicts = 0
            state.backoff.reset()
            self._join(state, state.spec.nick)

    def session_lost(self) -> None:
        """Stop timers and pings; the rooms stay marked joined in case the stream resumes."""
        for state in self.rooms.values():
            self._cancel_timer(state)
            self._stop_ping(state)

    def session_resumed(self) -> None:
        for state in self.rooms.values():
            if state.view.joined:
                self._start_ping(state)
            elif not state.timer:
                self._join(state, state.view.nick)

    def close(self) -> None:
        """Stop every timer and self-ping for good (at shutdown)."""
        self.leaving = True
        for state in self.rooms.values():
            self._cancel_timer(state)
            self._stop_ping(state)

    def leave_all(self, status: str) -> None:
        """Send unavailable presence to every joined room and ``close`` (at shutdown)."""
        self.close()
        for state in self.rooms.values():
            if state.view.joined:
                self.client.send_presence(pto=f"{state.view.jid}/{state.view.nick}",
                                          ptype="unavailable", pstatus=status or None)

    def _join(self, state: RoomState, nick: str) -> None:
        state.view.nick = nick
        state.token += 1
        stanza = self.client.plugin["xep_0045"].make_join_stanza(
            JID(state.spec.jid), nick, password=state.spec.password,
            maxstanzas=JOIN_HISTORY_STANZAS)
        stanza.send()
        self._set_timer(state, self.options.join_timeout_s, self._join_timed_out)

    def _join_timed_out(self, state: RoomState) -> None:
        self._failed(state, "join timed out")

    def _failed(self, state: RoomState, error: str) -> None:
        delay = state.backoff.failed()
        state.error = f"{error}, retry in {delay:.1f}s"
        log.warning("room %s: %s", state.spec.jid, state.error)
        self._forget(state)
        state.conflicts = 0
        self._set_timer(state, delay, lambda s: self._join(s, s.spec.nick))
        self.on_change()

    def on_room_message(self, msg: Message) -> None:
        state = self.rooms.get(msg["from"].bare)
        if state is not None and msg["type"] != "error":
            state.active_at = self.client.loop.time()

    def on_presence(self, pr: Presence) -> None:
        state = self.rooms.get(pr["from"].bare)
        if state is None or pr["type"] == "error" or self.leaving:
            return
        state.active_at = self.client.loop.time()
        nick, codes = pr["from"].resource, pr["muc"]["status_codes"]
        if 110 in codes:
            self._self_presence(state, pr, nick, codes)
        elif pr["type"] == "unavailable":
            state.view.occupants.pop(nick, None)
        else:
            real = pr["muc"]["jid"]
            state.view.occupants[nick] = real.bare if real else ""

    def _self_presence(self, state: RoomState, pr: Presence, nick: str, codes: set[int]) -> None:
        if pr["type"] != "unavailable":
            self._joined(state, nick)
        elif 303 in codes:
            state.view.nick = pr["muc"]["item_nick"] or state.view.nick
        else:
            code = min((c for c in codes if c in LEAVE_REASONS), default=0)
            reason = LEAVE_REASONS.get(code, "left the room")
            log.warning("room %s: %s", state.spec.jid, reason)
            self._forget(state)
            if code in REJOIN_AT_ONCE:
                state.error = reason
                self._set_timer(state, 0.0, lambda s: self._join(s, s.spec.nick))
                self.on_change()
            else:
                self._failed(state, reason)

    def _joined(self, state: RoomState, nick: str) -> None:
        first = not state.view.joined
        state.view.nick = nick
        state.view.joined = True
        if first:
            self._cancel_timer(state)
            state.error = ""
            state.backoff.started()
            state.conflicts = 0
            self._start_ping(state)
            log.info("room %s: joined as %s", state.spec.jid, nick)
            self.on_joined(state.spec.jid)
            self.on_change()

    def on_presence_error(self, pr: Presence) -> None:
        state = self.rooms.get(pr["from"].bare)
        if state is None or state.view.joined or self.leaving:
            return
        condition = pr["error"]["condition"] or "error"
        if condition == "conflict" and state.conflicts < MAX_NICK_CONFLICTS:
            state.conflicts += 1
            alternate = state.spec.nick + self.options.alt_nick_suffix * state.conflicts
            log.info("room %s: nick %s taken, trying %s", state.spec.jid,
                     state.view.nick, alternate)
            self._join(state, alternate)
            return
        text = pr["error"]["text"]
        self._failed(state, f"{condition}: {text}" if text else condition)

    def _self_ping_lost(self, state: RoomState) -> None:
        log.warning("room %s: self-ping says we are no longer in the room", state.spec.jid)
        self._forget(state)
        state.error = "lost (self-ping)"
        self._join(state, state.spec.nick)
        self.on_change()

    def _forget(self, state: RoomState) -> None:
        self._stop_ping(state)
        self._cancel_timer(state)
        state.view.joined = False
        state.view.occupants.clear()

    def _start_ping(self, state: RoomState) -> None:
        if self.options.self_ping_interval_s <= 0:
            return
        self._stop_ping(state)
        state.active_at = self.client.loop.time()
        state.pinger = background(self.client.loop, self._self_ping(state),
                                  f"room {state.spec.jid}: self-ping", log)

    def _stop_ping(self, state: RoomState) -> None:
        if state.pinger is not None:
            state.pinger.cancel()
            state.pinger = None

    async def _self_ping(self, state: RoomState) -> None:
        """After ``self_ping_interval_s`` of room silence, ask the room whether we are in."""
        loop, interval = self.client.loop, self.options.self_ping_interval_s
        while True:
            quiet = loop.time() - state.active_at
            if quiet < interval:
                await asyncio.sleep(interval - quiet)
                continue
            result = await self.client.plugin["xep_0410"].send_self_ping(
                JID(f"{state.view.jid}/{state.view.nick}"), timeout=self.options.ping_timeout_s)
            state.active_at = loop.time()
            if result == PingStatus.DISCONNECTED and not self.leaving:
                state.pinger = None  # this task ends here; _forget must not cancel it
                self._self_ping_lost(state)
                return

    def _set_timer(self, state: RoomState, delay: float,
                   action: Callable[[RoomState], None]) -> None:
        self._cancel_timer(state)
        token = state.token

        def fire() -> None:
            state.timer = None
            if state.token == token and not self.leaving:
                action(state)
        state.timer = self.client.loop.call_later(delay, fire)

    @staticmethod
    def _cancel_timer(state: RoomState) -> None:
        if state.timer is not None:
            state.timer.cancel()
            state.timer = None
