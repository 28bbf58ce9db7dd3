"""Announce only new items: what every poller that watches a list shares.

Part of the plugin kit; runs on the poller's thread. What was seen lives in
``ctx.state`` (persistent, locked), so a restart remembers it: ``seen:<source>`` holds
the keys of the items seen, newest first, at most ``keep``; missing means "never
polled", and that first run only records the keys, silently.

When to poll is the core's business, not the kit's: the poller is declared with
``@every(setting="interval_s")`` and returns ``Skip()`` when it has nothing to watch
or ``RetryAfter(until)`` when the service asked it to wait (``univac.Skip``,
``univac.RetryAfter``). A typical poller::

    @every(setting="interval_s")
    def poll(ctx: Context):
        if not ctx.config.url:
            return Skip("nothing to watch")
        items = [watch.Item(entry["id"], one_line(entry["title"])) for entry in listed()]
        new = watch.fresh(ctx, "my-source", items)       # newest first in, oldest first out
        watch.announce(ctx, ctx.config.targets, new, 5, "... and {count} more")
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from univac import Context

__all__ = ["KEEP_MIN", "Item", "announce", "check_targets", "check_watch", "fresh", "seen_keys"]

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
