"""Helpers of the incidents tests: a settable clock, the roles, one-reply asks.

``alice`` (identity ``test:alice``) holds ``sre``, the writers' role; ``bob`` holds
``oncall``, the readers' role; ``eve`` holds none.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from univac.testing import Harness

ROLES = {"sre": {"*": ["test:alice"]}, "oncall": {"*": ["test:bob"]}}
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday


class Clock:
    """``ctx.now()`` for the bot: a fixed time the test moves."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def ask(bot: Harness, text: str, who: str = "alice", private: bool = True, **options: Any) -> str:
    """The bot's one reply to ``who`` (in private unless told), as one string."""
    replies = bot.ask(text, sender=who, private=private, **options)
    assert len(replies) == 1, replies
    return replies[0]


def store_of(bot: Harness) -> Any:
    """The incident store of a running bot."""
    return bot.bot.contexts["incidents"].shared.incidents.store


def created_id(reply: str) -> str:
    """The incident id in a ``Created inc_... (#n)`` reply."""
    assert reply.startswith("Created inc_"), reply
    return reply.split()[1]
