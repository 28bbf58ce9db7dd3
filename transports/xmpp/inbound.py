"""Incoming XMPP messages to univac Messages, and what never to act on. Layer: transport.

Runs on the transport's own thread (called from the slixmpp ``message`` event). The
filter drops, before anything reaches the core:

- history (a ``urn:xmpp:delay`` or legacy ``jabber:x:delay`` element), and any groupchat
  message from a room whose join has not completed (no self-presence yet);
- the room reflecting our own messages (sent from our current nick in that room);
- corrections (XEP-0308 ``replace``) of earlier messages;
- direct messages from our own account, errors, headlines and messages without a body.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from slixmpp import JID
from slixmpp.stanza import Message as Stanza

from univac import Message

DELAY_TAGS = ("{urn:xmpp:delay}delay", "{jabber:x:delay}x")
CORRECTION_TAG = "{urn:xmpp:message-correct:0}replace"


@dataclass
class RoomView:
    """What the filter needs to know of one room (kept by ``rooms``)."""

    jid: str
    nick: str
    joined: bool = False
    occupants: dict[str, str] = field(default_factory=dict)
    """Occupant nick to real bare JID ("" when the room hides it)."""

    def identity(self, nick: str) -> str:
        real = self.occupants.get(nick, "")
        return f"jid:{real}" if real else f"occupant:{self.jid}/{nick}"


def is_replay_or_edit(stanza: Stanza) -> bool:
    """True for history (delayed delivery) and for XEP-0308 corrections."""
    xml = stanza.xml
    return any(xml.find(tag) is not None for tag in (*DELAY_TAGS, CORRECTION_TAG))


def to_message(
    stanza: Stanza, transport: str, own: JID, room_of: Callable[[str], RoomView | None]
) -> Message | None:
    """Return the Message to deliver for ``stanza``, or None when it must be ignored."""
    kind = stanza["type"]
    body = stanza["body"]
    if not body or kind not in ("groupchat", "chat", "normal") or is_replay_or_edit(stanza):
        return None
    sender = stanza["from"]
    room = room_of(sender.bare)
    if kind == "groupchat":
        return _from_room(stanza, transport, room)
    if room is not None:
        return _private_in_room(stanza, transport, room)
    if sender.bare == own.bare or not sender.user:
        return None
    return Message(
        transport=transport, target=sender.bare, sender=sender.bare, text=body,
        private=True, identity=f"jid:{sender.bare}", bot_nick=own.user,
    )


def _from_room(stanza: Stanza, transport: str, room: RoomView | None) -> Message | None:
    nick = stanza["from"].resource
    if room is None or not room.joined or not nick or nick == room.nick:
        return None
    return Message(
        transport=transport, target=room.jid, sender=nick, text=stanza["body"],
        identity=room.identity(nick), bot_nick=room.nick,
    )


def _private_in_room(stanza: Stanza, transport: str, room: RoomView) -> Message | None:
    """A private message from a room occupant: the reply goes to its occupant JID."""
    nick = stanza["from"].resource
    if not nick or nick == room.nick:
        return None
    return Message(
        transport=transport, target=f"{room.jid}/{nick}", sender=nick, text=stanza["body"],
        private=True, identity=room.identity(nick), bot_nick=room.nick,
    )
