"""What every poller plugin shares: "announce only new items" and "not before" times.

Private helper for the github, gitlab and feeds plugins; it registers nothing. All of
it lives in ``ctx.state`` (persisted JSON, locked), so a restart remembers what was seen
and when the service asked us to wait:

- ``seen:<source>``: the keys of the items seen, newest first, at most ``keep``;
  missing means "never polled": that first run only records the keys, silently.
- ``next_run``: when the next run is due (the configured interval; the core ticks the
  poller more often and adds the jitter), pushed back when the quota runs low.
- ``etag:<source>``: the first page's ETag, sent as ``If-None-Match``.
- ``not_before``: a rate-limit pause; runs before it fail at once with RateLimited.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from univac import Context
from univac.plugins._http import FetchError, RateLimited, Response, check
from univac.plugins._http import slow_down as quota_low

KEEP_MIN = 500


@dataclass(frozen=True)
class Item:
    """One thing a source lists: a stable key and the line announcing it."""

    key: str
    line: str


def check_watch(
    key: str, names: Sequence[str], shape: re.Pattern[str], example: str,
    targets: Sequence[str],
) -> None:
    """Validate a poller's watched names and targets (settings ``__post_init__``)."""
    for name in names:
        if not shape.fullmatch(name):
            raise ValueError(f"{key}: {name!r} is not {example}")
    if names and not targets:
        raise ValueError(f"{key} are watched but targets is empty")
    if any(":" not in target for target in targets):
        raise ValueError("targets must be written transport:target, e.g. irc:#ops")


def check_paging(interval_s: float, per_page: int, max_pages: int) -> None:
    """Validate a REST poller's interval and paging settings."""
    if interval_s < 60 or not 1 <= per_page <= 100 or max_pages < 1:
        raise ValueError("need interval_s >= 60, per_page 1..100, max_pages >= 1")


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


def collect(
    ctx: Context,
    source: str,
    url: str,
    get_page: Callable[[str, str], Response],
    to_item: Callable[[Any], Item],
    max_pages: int,
) -> tuple[list[Item] | None, str]:
    """Read a newest-first JSON list and its ``Link: rel="next"`` pages.

    Returns the items (None when the first page answered 304 Not Modified) and the first
    page's ETag. ``get_page(url, etag)`` fetches and checks one page. Paging stops at the
    first page holding a seen item, at ``max_pages``, or at once on a first run.
    """
    seen = seen_keys(ctx, source)
    etag = ctx.state.get(f"etag:{source}", "")
    items: list[Item] = []
    new_etag = ""
    for page in range(max_pages):
        response = get_page(url, etag if page == 0 else "")
        if response.status == 304:
            return None, etag
        new_etag = new_etag or response.headers.get("ETag", "")
        listed = [_safely(to_item, entry) for entry in _entries(response)]
        items.extend(listed)
        url = response.links.get("next", "")
        if seen is None or not url or any(item.key in seen for item in listed):
            break
    return items, new_etag


def record(ctx: Context, source: str, found: tuple[list[Item] | None, str]) -> list[Item]:
    """Store what ``collect`` found (index and ETag); return the new items, oldest first."""
    items, etag = found
    new = fresh(ctx, source, items) if items is not None else []
    ctx.state[f"etag:{source}"] = etag
    return new


def entry(response: Response) -> dict[str, Any]:
    """The JSON object a single-item API call returns; FetchError when it is not one."""
    found = response.json()
    if not isinstance(found, dict):
        raise FetchError("unexpected response shape")
    return found


def _entries(response: Response) -> list[Any]:
    found = response.json()
    if not isinstance(found, list):
        raise FetchError("unexpected response shape: not a list")
    return found


def _safely(to_item: Callable[[Any], Item], entry: Any) -> Item:
    try:
        return to_item(entry)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise FetchError("unexpected response shape: an entry lacks a field") from None


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


Get = Callable[[Context, str, dict[str, str]], Response]


def watch(ctx: Context, name: str, source: str, url: str, get: Get,
          to_item: Callable[[Any], Item], summary: str) -> bool:
    """Fetch one watched list (conditionally, following pages), then record and announce
    what is new; False when it failed (logged; retried on the next run)."""
    settings = ctx.config
    page = partial(conditional_page, ctx, get)
    try:
        found = collect(ctx, source, url, page, to_item, settings.max_pages)
    except RateLimited as error:
        pause(ctx, error.until)
        return False
    except FetchError as error:
        ctx.log.warning("%s %s: %s", name, source, error)
        return False
    announce(ctx, settings.targets, record(ctx, source, found), settings.max_announce, summary)
    return True


def conditional_page(ctx: Context, get: Get, url: str, etag: str) -> Response:
    """One checked page; a nearly spent quota pushes the next run to its reset."""
    response = check(get(ctx, url, {"If-None-Match": etag} if etag else {}), ctx.now())
    until = quota_low(response, ctx.config.reserve)
    if until is not None:
        slow_down(ctx, until)
    return response
