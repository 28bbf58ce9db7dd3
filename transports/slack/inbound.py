"""Incoming Slack events to univac Messages, and what never to act on. Layer: transport.

Runs on the transport's own thread (called by the session for each ``events_api``
envelope, after it was acknowledged). Acted on: ``message`` events (in channels, private
channels, group and direct messages) without a subtype or with ``thread_broadcast``, and
``app_mention`` events. Never acted on: messages from bots (``bot_id``: other bots and
this one), from the bot's own user, edits (``message_changed``), deletions and every
other subtype (joins, topic changes...). When an app subscribes to both ``message`` and
``app_mention``, a mention arrives twice; ``Seen`` lets the session act on it once
(and on an envelope Slack delivers again after a missed acknowledgement).

Text: a leading mention of the bot (``<@U0BOT> help``) becomes ``<bot name>: help`` so
the core sees the bot addressed; other markup is turned back into what the user typed
(``<@U1>`` -> ``@U1``, ``<#C1|ops>`` -> ``#ops``, ``<https://x.org|x.org>`` -> ``x.org``,
``<!here>`` -> ``@here``) and ``&amp;``, ``&lt;``, ``&gt;`` are unescaped.

A message in a thread gets the target ``<channel>/<thread_ts>``, so that the reply goes
to the thread, and ``thread`` set to that ``thread_ts``, so that the core counts it in
its channel (access rules, the channel rate limit).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from univac import Message

THREAD_SEPARATOR = "/"
"""Between the channel and the thread's ``ts`` in a target (neither holds it)."""
ACTED_SUBTYPES = (None, "thread_broadcast")
MARKUP = re.compile(r"<([^<>]*)>")


@dataclass(frozen=True)
class Me:
    """Who the bot is in the workspace (from ``auth.test``)."""

    user_id: str
    name: str


def to_message(event: dict[str, Any], me: Me, transport: str, sender: str) -> Message | None:
    """Return the Message to deliver for ``event``, or None when it must be ignored.
    ``sender`` is the user's name (or id) for display."""
    if not acted_on(event, me):
        return None
    text = plain_text(event.get("text") or "", me)
    if not text.strip():
        return None
    thread = thread_ts(event)
    return Message(
        transport=transport, target=reply_target(event), sender=sender, text=text,
        private=event.get("channel_type") == "im", identity=f"slack:{event['user']}",
        bot_nick=me.name, thread=thread,
    )


def acted_on(event: dict[str, Any], me: Me) -> bool:
    """True for a human's new message (or mention) in a channel the bot is in."""
    if event.get("type") not in ("message", "app_mention"):
        return False
    if event.get("subtype") not in ACTED_SUBTYPES or event.get("bot_id"):
        return False
    user, channel = event.get("user"), event.get("channel")
    return isinstance(user, str) and bool(user) and user != me.user_id and \
        isinstance(channel, str) and bool(channel) and isinstance(event.get("ts"), str)


def thread_ts(event: dict[str, Any]) -> str:
    """The ``ts`` of the thread's parent message for a message in a thread, else ``""``."""
    thread = event.get("thread_ts")
    return thread if isinstance(thread, str) else ""


def reply_target(event: dict[str, Any]) -> str:
    """The channel, or ``channel/thread_ts`` for a message in a thread."""
    thread, channel = thread_ts(event), event["channel"]
    return f"{channel}{THREAD_SEPARATOR}{thread}" if thread else channel


def plain_text(text: str, me: Me) -> str:
    """Slack's markup back to what the user typed; a leading bot mention to ``name:``."""
    stripped = text.lstrip()
    own = f"<@{me.user_id}>"
    if stripped.startswith(own):
        text = f"{me.name}: {stripped[len(own):].lstrip()}"
    text = MARKUP.sub(lambda m: _unmark(m.group(1)), text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _unmark(inner: str) -> str:
    link, _, label = inner.partition("|")
    if link.startswith(("@U", "@W", "@B")):
        return f"@{label or link[1:]}"
    if link.startswith("#C"):
        return f"#{label or link[1:]}"
    if link.startswith("!"):
        return f"@{label or link[1:].partition('^')[0]}"
    return label or link


class Seen:
    """The last ``size`` messages (channel, ts) acted on, to act on each only once."""

    def __init__(self, size: int = 2000) -> None:
        self.size = size
        self.keys: OrderedDict[tuple[str, str], None] = OrderedDict()

    def first_time(self, event: dict[str, Any]) -> bool:
        key = (str(event.get("channel")), str(event.get("ts")))
        if key in self.keys:
            return False
        self.keys[key] = None
        if len(self.keys) > self.size:
            self.keys.popitem(last=False)
        return True
