"""Who may do what with incidents, and where details may be shown. Reactive threads.

Roles are named Univac roles (``[roles]``, docs/access.md), asked with ``ctx.has_role``:

- ``writers`` create and change incidents (and read them);
- ``readers`` list and read them (empty: the writers only);
- ``viewers`` see the details (empty: the readers, and always the writers).

Details (titles, services, coordinators, timelines, notes) are shown only to a viewer,
and only in a private message or in one of the configured ``channels``. Elsewhere the
answer says that the incident exists (its id, or how many there are) and where to
ask, and nothing more. Everyone else gets a refusal naming the role they lack.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from univac import Context

from .settings import Settings


@dataclass(frozen=True)
class Access:
    """What the sender of one message may do, and whether details may be shown here."""

    writer: bool
    reader: bool
    viewer: bool
    here: bool
    """A private message or a configured channel."""

    @property
    def details(self) -> bool:
        return self.viewer and self.here


def access_of(ctx: Context[Any], settings: Settings) -> Access:
    """The sender's rights, from their roles and where they ask."""
    return rights(settings, ctx.has_role, in_detail_place(ctx, settings))


def rights(settings: Settings, holds: Callable[[str], bool], here: bool) -> Access:
    """The rights of someone holding the roles ``holds`` says, asking ``here`` or not
    (chat asks ``ctx.has_role``; the pages, the signed-in visitor's roles)."""
    writer = holds(settings.writers)
    reader = writer or (bool(settings.readers) and holds(settings.readers))
    seeing = settings.viewers or settings.readers
    viewer = writer or (bool(seeing) and holds(seeing))
    return Access(writer, reader, viewer, here)


def in_detail_place(ctx: Context[Any], settings: Settings) -> bool:
    """A private message, or a channel named in ``channels`` (``irc:#sre`` or ``#sre``)."""
    message = ctx.message
    if message is None:
        return False
    if message.private:
        return True
    channels = {c.casefold() for c in settings.channels}
    return bool({message.target.casefold(),
                 f"{message.transport}:{message.target}".casefold()} & channels)


def refusal(settings: Settings, write: bool, doing: str) -> str:
    """``You need the 'sre' role to resolve incidents.``"""
    roles = [settings.writers] if write or not settings.readers else \
        [settings.readers, settings.writers]
    named = " or ".join(f"'{role}'" for role in dict.fromkeys(roles))
    return f"You need the {named} role to {doing}."


def where_to_look(settings: Settings) -> str:
    """``ask me in a private message (or in #sre)``."""
    places = f" (or in {', '.join(settings.channels)})" if settings.channels else ""
    return f"ask me in a private message{places}"


def viewers_only(settings: Settings) -> str:
    """The answer to a reader who may not see details anywhere."""
    role = settings.viewers or settings.readers or settings.writers
    return f"details are for the '{role}' role"
