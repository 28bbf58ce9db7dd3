"""Announce only new items: what every poller that watches a list shares.

Part of the plugin kit; runs on the poller's thread. All of it lives in ``ctx.state``
(persistent, locked), so a restart remembers what was seen and when a service asked
us to wait:

- ``seen:<source>``: the keys of the items seen, newest first, at most ``keep``;
  missing means "never polled": that first run only records the keys, silently.
- ``next_run``: when the next poll is due. An ``@every(60)`` poller calls ``due`` on
  each tick and polls only when its own interval has passed; pushed back by
  ``slow_down`` when a quota runs low.
- ``not_before``: a rate-limit pause set by ``pause``; ``due`` raises RateLimited
  until it ends, so ``!status`` shows the pause as the poller's last error.

A typical poller::

    @every(60)
    def poll(ctx: Context) -> None:
        if not watch.due(ctx, ctx.config.interval_s):
            return
        items = [watch.Item(entry["id"], one_line(entry["title"])) for entry in listed()]
        new = watch.fresh(ctx, "my-source", items)       # newest first in, oldest first out
        watch.announce(ctx, ctx.config.targets, new, 5, "... and {count} more")
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from univac import Context
from univac.kit.fetch import RateLimited

__all__ = [
    "KEEP_MIN", "Item", "announce", "check_targets", "check_watch", "due", "fresh", "pause",
    "paused", "seen_keys", "slow_down",
]

KEEP_MIN = 500


@dataclass(frozen=True)
class Item:
    """One thing a source lists: a stable key and the line announcing it."""

    key: str
    line: str


def check_targets(targets: Sequence[str]) -> None:
    """ValueError unless every target is written ``transport:target``."""
    if any(":" not in target for target in targets):
        raise ValueError("targets must be written transport:target, e.g. irc:#ops")


def check_watch(
    key: str, names: Sequence[str], shape: re.Pattern[str], example: str,
    targets: Sequence[str],
) -> None:
    """Validate a poller's watched names and targets (for a settings ``__post_init__``)."""
    for name in names:
        if not shape.fullmatch(name):
            raise ValueError(f"{key}: {name!r} is not {example}")
    if names and not targets:
        raise ValueError(f"{key} are watched but targets is empty")
    check_targets(targets)


def due(ctx: Context, interval_s: float) -> bool:
    """True (and the next run booked) when the interval has passed.

    During a rate-limit pause it raises RateLimited instead, so the pause shows as the
    poller's last error in ``!status`` rather than as a success.
    """
    now = ctx.now().timestamp()
    with ctx.state:
        not_before = ctx.state.get("not_before", 0.0)
        if now < not_before:
            raise RateLimited(datetime.fromtimestamp(not_before, UTC))
        if now < ctx.state.get("next_run", 0.0):
            return False
        ctx.state["next_run"] = now + interval_s * 0.9
    return True


def pause(ctx: Context, until: datetime) -> None:
    """Refuse runs until ``until`` (the service said 403/429: Retry-After or a reset)."""
    with ctx.state:
        ctx.state["not_before"] = max(ctx.state.get("not_before", 0.0), until.timestamp())
    ctx.log.warning("rate limited: pausing until %s", until.isoformat())


def paused(ctx: Context) -> bool:
    """True while a rate-limit pause holds (stop asking in this run too)."""
    return ctx.now().timestamp() < ctx.state.get("not_before", 0.0)


def slow_down(ctx: Context, until: datetime) -> None:
    """Quietly skip runs until ``until`` (the quota is nearly spent; no error)."""
    with ctx.state:
        ctx.state["next_run"] = max(ctx.state.get("next_run", 0.0), until.timestamp())
    ctx.log.info("rate-limit quota low: next run after %s", until.isoformat())


def seen_keys(ctx: Context, source: str) -> set[str] | None:
    """The keys already seen for ``source``; None before its first run."""
    keys = ctx.state.get(f"seen:{source}")
    return None if keys is None else set(keys)


def fresh(ctx: Context, source: str, items: Sequence[Item], keep: int = KEEP_MIN) -> list[Item]:
    """Record ``items`` (newest first) as seen and return the new ones, oldest first.

    The first run for a source returns nothing: it only builds the index.
    """
    keep = max(keep, KEEP_MIN, 2 * len(items))
    with ctx.state:
        known = ctx.state.get(f"seen:{source}")
        seen = set(known or ())
        new = list({i.key: i for i in items if i.key not in seen}.values())
        ctx.state[f"seen:{source}"] = ([i.key for i in new] + list(known or ()))[:keep]
    return [] if known is None else new[::-1]


def announce(
    ctx: Context, targets: Sequence[str], items: Sequence[Item], limit: int, summary: str
) -> None:
    """Say each item's line to every target, at most ``limit``, then one summary line.

    ``summary`` is a format string with ``{count}``, the number of items left out.
    """
    shown = items[:limit]
    lines = [item.line for item in shown]
    if len(items) > len(shown):
        lines.append(summary.format(count=len(items) - len(shown)))
    for target in targets:
        try:
            for line in lines:
                ctx.say(target, line)
        except ValueError:
            ctx.log.error("cannot announce to %s: no transport of that name", target)
