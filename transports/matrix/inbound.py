"""Incoming Matrix events to univac Messages, and what never to act on. Layer: transport.

Runs on the transport's own thread (called by the session for each timeline event of a
live sync). The session itself drops whole batches that are history: the first sync
after start (what happened while the bot was away) and the timeline of a room in the
sync that first shows the bot in it. This filter drops, event by event:

- anything but an ``m.room.message`` with ``msgtype`` ``m.text``: notices (``m.notice``,
  what bots send, so two bots never answer each other), emotes, files, encrypted events;
- events sent by the bot's own account (from any of its devices);
- edits (``m.relates_to`` with ``rel_type`` ``m.replace``): an edited ``!deploy`` is not
  a second ``!deploy``.

A message in a thread (``rel_type`` ``m.thread``) gets the target ``<room id>/<thread
root event id>`` so that the reply goes to the same thread, and ``thread`` set to the
root's event id, so that the core counts it in its room (access rules, the channel rate
limit). A reply quoting another message loses the quoted fallback lines (``>
<@user:server> ...``) before the command.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from univac import Message

THREAD_SEPARATOR = "/"
"""Between the room and the thread root in a target; neither room ids nor aliases hold it."""


@dataclass(frozen=True)
class RoomView:
    """What the filter needs to know of the room an event came from."""

    room_id: str
    private: bool = False


def to_message(event: dict[str, Any], room: RoomView, own_user_id: str, transport: str,
               bot_nick: str) -> Message | None:
    """Return the Message to deliver for ``event``, or None when it must be ignored."""
    content = event.get("content")
    sender = event.get("sender")
    if event.get("type") != "m.room.message" or not isinstance(content, dict):
        return None
    if not isinstance(sender, str) or sender == own_user_id:
        return None
    body = content.get("body")
    if content.get("msgtype") != "m.text" or not isinstance(body, str):
        return None
    relation = content.get("m.relates_to")
    relation = relation if isinstance(relation, dict) else {}
    if relation.get("rel_type") == "m.replace" or "m.new_content" in content:
        return None
    text = without_reply_fallback(body) if "m.in_reply_to" in relation else body
    if not text.strip():
        return None
    root = thread_root(relation)
    return Message(
        transport=transport, target=reply_target(room.room_id, root), sender=sender,
        text=text, private=room.private, identity=f"mxid:{sender}", bot_nick=bot_nick,
        thread=root,
    )


def thread_root(relation: dict[str, Any]) -> str:
    """The thread root's event id for a message in a thread, else ``""``."""
    root = relation.get("event_id")
    if relation.get("rel_type") == "m.thread" and isinstance(root, str) and root:
        return root
    return ""


def reply_target(room_id: str, root: str) -> str:
    """The room, or ``room/thread-root`` for a message in a thread."""
    return f"{room_id}{THREAD_SEPARATOR}{root}" if root else room_id


def without_reply_fallback(body: str) -> str:
    """Drop the ``> quoted`` lines (and the blank line after) a reply starts with."""
    lines = body.split("\n")
    if not lines or not lines[0].startswith(">"):
        return body
    index = 0
    while index < len(lines) and lines[index].startswith(">"):
        index += 1
    if index < len(lines) and not lines[index].strip():
        index += 1
    return "\n".join(lines[index:])
