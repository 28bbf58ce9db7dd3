"""Summarise xkcd comics: for links posted in chat, and with ``!xkcd [number]``.

A summary is one line: number, title, year, and the mouseover (alt) text, read from
xkcd's JSON interface (``/<n>/info.0.json``, ``/info.0.json`` for the latest). Comics
never change, so they are cached in the plugin's state (bounded); the latest number is
cached for ``latest_ttl_s``. For passive links: at most ``max_links`` summaries per
message, the same comic not again in the same channel within ``repeat_s``, and silence
on any error. The command replies with a short reason instead.

Settings (``[plugins.xkcd]``): ``base_url``, ``timeout_s``, ``max_bytes``,
``max_links``, ``repeat_s``, ``latest_ttl_s``, ``cache_size``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from univac import Context, UserError, command, match
from univac.kit.fetch import FetchError, HttpStatus, Limits, check, fetch
from univac.kit.text import one_line

LINK = r"\b(?:https?://)?(?:www\.|m\.)?xkcd\.com/(\d{1,5})\b"


@dataclass(frozen=True)
class Settings:
    """The ``[plugins.xkcd]`` table."""

    base_url: str = "https://xkcd.com"
    timeout_s: float = 5.0
    max_bytes: int = 100_000
    max_links: int = 3
    repeat_s: float = 600.0
    latest_ttl_s: float = 1800.0
    cache_size: int = 500

    def __post_init__(self) -> None:
        if self.max_links < 1 or self.cache_size < 1 or self.timeout_s <= 0:
            raise ValueError("need max_links >= 1, cache_size >= 1 and timeout_s > 0")


@command("xkcd")
def xkcd(ctx: Context, number: int = 0) -> str:
    """Summarise an xkcd comic: xkcd [number]; no number means the latest."""
    if number < 0:
        raise UserError("xkcd comics are numbered from 1.")
    try:
        return _summary(_comic(ctx, number or None))
    except HttpStatus as error:
        if error.status == 404:
            raise UserError(f"There is no xkcd {number}.") from None
        ctx.log.warning("xkcd %s: %s", number or "latest", error)
    except FetchError as error:
        ctx.log.warning("xkcd %s: %s", number or "latest", error)
    raise UserError("xkcd did not answer; try again later.")


@match(LINK)
def xkcd_link(ctx: Context, found: re.Match[str]) -> Iterator[str]:
    """Summarise each xkcd comic linked in a message (bounded, no repeats, quiet errors)."""
    settings: Settings = ctx.config
    numbers = list(dict.fromkeys(int(m[1]) for m in found.re.finditer(found.string)))
    for number in numbers[: settings.max_links]:
        if number == 0 or _shown_recently(ctx, number, mark=False):
            continue
        try:
            summary = _summary(_comic(ctx, number))
        except FetchError as error:
            ctx.log.info("xkcd link %d: %s", number, error)
            continue
        if not _shown_recently(ctx, number, mark=True):
            yield summary


def _shown_recently(ctx: Context, number: int, mark: bool) -> bool:
    """True when this channel got this comic within ``repeat_s``; ``mark`` records it."""
    assert ctx.message is not None
    now = ctx.now().timestamp()
    key = f"{ctx.message.transport}:{ctx.message.target}:{number}"
    with ctx.state:
        recent = {k: t for k, t in ctx.state.get("recent", {}).items()
                  if now - t < ctx.config.repeat_s}
        shown = key in recent
        if mark and not shown:
            recent[key] = now
            ctx.state["recent"] = recent
    return shown


def _comic(ctx: Context, number: int | None) -> dict[str, Any]:
    """The comic's JSON (number None: the latest), from the cache or from xkcd."""
    settings: Settings = ctx.config
    number = number or _latest_cached(ctx)
    cached = ctx.state.get("comics", {}).get(str(number)) if number else None
    if cached:
        return cached
    path = f"/{number}/info.0.json" if number else "/info.0.json"
    limits = Limits(settings.timeout_s, settings.max_bytes)
    data = check(fetch(settings.base_url.rstrip("/") + path, limits), ctx.now()).json()
    if not isinstance(data, dict) or not isinstance(data.get("num"), int):
        raise FetchError("unexpected response shape")
    comic = {k: str(data.get(k, "")) for k in ("title", "safe_title", "alt", "year")}
    comic["num"] = data["num"]
    _remember(ctx, comic, latest=number is None)
    return comic


def _latest_cached(ctx: Context) -> int | None:
    latest = ctx.state.get("latest") or {}
    fresh = ctx.now().timestamp() - latest.get("at", 0) < ctx.config.latest_ttl_s
    return latest.get("num") if fresh else None


def _remember(ctx: Context, comic: dict[str, Any], latest: bool) -> None:
    with ctx.state:
        comics = dict(ctx.state.get("comics", {}))
        comics[str(comic["num"])] = comic
        ctx.state["comics"] = dict(list(comics.items())[-ctx.config.cache_size:])
        if latest:
            ctx.state["latest"] = {"num": comic["num"], "at": ctx.now().timestamp()}


def _summary(comic: dict[str, Any]) -> str:
    title = one_line(html.unescape(comic["safe_title"] or comic["title"]), 100)
    alt = one_line(html.unescape(comic["alt"]), 300)
    return one_line(f"xkcd {comic['num']}: {title} ({comic['year']}) - {alt}", 450)
