"""The rooms of one Matrix session: joins, invites, encrypted rooms. Layer: transport.

Runs on the transport's own thread, in its asyncio loop. Which rooms the bot is in
comes from the sync responses only (``observe``): a room counts as joined once a sync
shows the bot in it, and stops counting when a sync shows it left. Configured rooms
(aliases or ids) are joined at each new session; a failed join is retried with
backoff. Invites are accepted when the inviter matches ``invite_from``, and rejected
otherwise. End-to-end encrypted rooms are not supported: the room summary is asked
before joining, and a configured room or an invite that it shows encrypted is not
joined (an invite is rejected); a joined room that is or becomes encrypted is left;
each with an ERROR line.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from nio import AsyncClient, JoinError, RoomResolveAliasResponse, SyncResponse

from univac import Backoff, background

from .client import LINK_ERRORS
from .inbound import RoomView

log = logging.getLogger("univac.transports.matrix")


class Rooms:
    """Joined rooms, configured rooms and invites of one client."""

    def __init__(self, name: str, client: AsyncClient, configured: tuple[str, ...],
                 invite_from: tuple[str, ...], backoff: Callable[[], Backoff],
                 on_change: Callable[[], None]) -> None:
        self.name, self.client = name, client
        self.configured = configured
        self.invite_from = tuple(p.casefold() for p in invite_from)
        self.backoff = backoff
        self.on_change = on_change
        self.joined: set[str] = set()
        self.ids: dict[str, str] = {}
        """Configured room (alias or id) to room id, once joined or resolved."""
        self.errors: dict[str, str] = {}
        self.refused: set[str] = set()
        self.handled_invites: set[str] = set()
        self.tasks: set[asyncio.Task[None]] = set()

    # -- what the syncs tell --------------------------------------------------

    def observe(self, response: SyncResponse) -> set[str]:
        """Take in one sync response; return the rooms it shows the bot in for the first
        time (their timeline is history to the bot)."""
        new = set(response.rooms.join) - self.joined
        self.handled_invites -= set(response.rooms.join) | set(response.rooms.leave)
        self.joined |= set(response.rooms.join)
        self.joined -= set(response.rooms.leave)
        for room_id, info in response.rooms.invite.items():
            self._invited(room_id, [event.source for event in info.invite_state])
        for room_id in response.rooms.join:
            room = self.client.rooms.get(room_id)
            if room is not None and room.encrypted and room_id not in self.refused:
                self._refuse(room_id, "is end-to-end encrypted")
        if new or response.rooms.leave:
            self.on_change()
        return new | self.refused

    def view(self, room_id: str) -> RoomView:
        """A room the bot is in is private when it holds two people at most and was
        not configured (a direct chat)."""
        room = self.client.rooms.get(room_id)
        people = room.joined_count if room is not None else 0
        configured = room_id in self.ids.values() or room_id in self.configured
        return RoomView(room_id, private=not configured and 0 < people <= 2)

    def labels(self) -> tuple[str, ...]:
        """The joined rooms as the configuration names them (others by id)."""
        names = {room_id: spec for spec, room_id in self.ids.items()}
        return tuple(sorted(names.get(r, r) for r in self.joined - self.refused))

    def waiting_for(self, room: str) -> bool:
        """True while a notice for ``room`` (alias or id) must wait: a configured room
        that no sync shows the bot in yet, or a room id the bot is not in while some
        configured room is still being joined (it may be that one)."""
        if room.startswith("#"):
            return room in self.configured and self._pending(room)
        if room in self.joined or room in self.refused:
            return False
        return any(self._pending(spec) for spec in self.configured)

    def _pending(self, spec: str) -> bool:
        room_id = self.ids.get(spec, spec if spec.startswith("!") else "")
        return room_id not in self.refused and room_id not in self.joined

    def problems(self) -> str:
        return "; ".join(f"{room}: {error}" for room, error in self.errors.items())

    # -- joining ----------------------------------------------------------------

    def join_configured(self) -> None:
        """Join every configured room (again: a join of a room the bot is in is a no-op)."""
        self.cancel()
        for spec in self.configured:
            self._spawn(self._join(spec), f"join {spec}")

    async def _join(self, spec: str) -> None:
        backoff = self.backoff()
        while True:
            try:
                if await self.encrypted(spec):
                    self._refuse_configured(spec)
                    return
                response = await self.client.join(spec)
            except LINK_ERRORS:
                await asyncio.sleep(backoff.failed())  # the session notices and reports it
                continue
            if not isinstance(response, JoinError):
                self.ids[spec] = response.room_id
                self.errors.pop(spec, None)
                self.on_change()
                return
            delay = backoff.failed()
            self.errors[spec] = f"{describe(response)}, retry in {delay:.1f}s"
            log.warning("%s: cannot join %s: %s", self.name, spec, self.errors[spec])
            self.on_change()
            await asyncio.sleep(delay)

    async def room_id(self, room: str) -> str:
        """The id of a room named by id or alias ("" when an alias cannot be resolved)."""
        if not room.startswith("#"):
            return room
        if room not in self.ids:
            response = await self.client.room_resolve_alias(room)
            if not isinstance(response, RoomResolveAliasResponse):
                log.warning("%s: cannot resolve %s: %s", self.name, room, describe(response))
                return ""
            self.ids[room] = response.room_id
        return self.ids[room]

    # -- invites and encrypted rooms -----------------------------------------

    def _invited(self, room_id: str, state: list[dict[str, Any]]) -> None:
        if room_id in self.handled_invites:
            return
        self.handled_invites.add(room_id)
        inviter = next((e.get("sender", "") for e in state if e.get("type") == "m.room.member"
                        and e.get("state_key") == self.client.user_id), "")
        if self.may_invite(inviter):
            self._spawn(self._accept(room_id, inviter), f"accept invite {room_id}")
            return
        log.info("%s: refused the invite of %s into %s (not in invite_from)",
                 self.name, inviter or "someone", room_id)
        self._spawn(self._leave(room_id), f"reject invite {room_id}")

    def may_invite(self, user_id: str) -> bool:
        user = user_id.casefold()
        return bool(user) and any(fnmatch.fnmatchcase(user, p) for p in self.invite_from)

    async def _accept(self, room_id: str, inviter: str) -> None:
        if await self.encrypted(room_id):
            log.error("%s: refused the invite of %s into %s: the room is end-to-end "
                      "encrypted, which this transport does not support", self.name,
                      inviter, room_id)
            await self._leave(room_id)
            return
        log.info("%s: accepting the invite of %s into %s", self.name, inviter, room_id)
        response = await self.client.join(room_id)
        if isinstance(response, JoinError):
            log.warning("%s: cannot join %s: %s", self.name, room_id, describe(response))

    async def encrypted(self, room: str) -> bool | None:
        """Whether the room summary (``GET /_matrix/client/v1/room_summary``, Matrix 1.15)
        says the room is encrypted; None when the homeserver does not tell (an older
        server, a room the bot may not see yet): the sync after joining tells then.
        Asked before joining, since nio's parsed invite state leaves encryption out."""
        path = f"/_matrix/client/v1/room_summary/{quote(room, safe='')}"
        headers = {"Authorization": f"Bearer {self.client.access_token}"}
        try:
            answer = await self.client.send("GET", path, headers=headers)
            if answer.status != 200:
                answer.release()
                return None
            summary = await answer.json()
        except (*LINK_ERRORS, ValueError):
            return None
        return bool(summary.get("encryption")) if isinstance(summary, dict) else None

    def _refuse_configured(self, spec: str) -> None:
        self.errors[spec] = "end-to-end encrypted: not supported, not joined"
        log.error("%s: refused to join %s: the room is end-to-end encrypted, which this "
                  "transport does not support", self.name, spec)
        self.on_change()

    def _refuse(self, room_id: str, why: str) -> None:
        self.refused.add(room_id)
        names = [spec for spec, rid in self.ids.items() if rid == room_id]
        for spec in names:
            self.errors[spec] = "end-to-end encrypted: not supported, left"
        log.error("%s: room %s %s; this transport does not support encryption and "
                  "leaves it without reading or answering anything there", self.name,
                  ", ".join(dict.fromkeys([*names, room_id])), why)
        self._spawn(self._leave(room_id), f"leave {room_id}")

    async def _leave(self, room_id: str) -> None:
        await self.client.room_leave(room_id)

    # -- tasks ---------------------------------------------------------------

    def _spawn(self, coro: Any, what: str) -> None:
        task = background(asyncio.get_running_loop(), coro, f"{self.name}: {what}", log)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def cancel(self) -> None:
        for task in list(self.tasks):
            task.cancel()


def describe(response: Any) -> str:
    """An error response as ``M_FORBIDDEN: You are not invited`` (no secrets in it)."""
    code = getattr(response, "status_code", "") or ""
    message = getattr(response, "message", "") or ""
    return f"{code}: {message}" if code and message else code or message or "error"
