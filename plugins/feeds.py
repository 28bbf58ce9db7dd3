"""Announce new entries of RSS and Atom feeds.

Each run fetches every feed with ``If-None-Match`` / ``If-Modified-Since`` (a 304 costs
nothing), parses it with ``feedparser`` (RSS 0.9x, 1.0 and 2.0, Atom 0.3 and 1.0, CDF;
it copes with the malformed feeds real sites serve: wrong encodings, undeclared HTML
entities, unclosed tags, relative links and ``xml:base``, dates in many formats) and
announces the entries it has not seen, oldest first, to ``targets``. The first run of
a feed only records its entries. A feed that answers 429 (or 403/503 with
``Retry-After``) is skipped until then; the other feeds carry on.

XML safety: the body is capped at ``max_bytes`` and fetched with the kit's timeouts. A
document that declares entities is refused before it is parsed: feedparser drops
nested and external entity declarations but expands the others, so a small feed could
still grow a hundredfold in memory ("quadratic blowup"). feedparser never fetches an
external entity or DTD (it removes the DOCTYPE and turns off external entities in its
expat parser), and the body is handed to it as a stream, never as a string it could
take for a URL or a file name.

Settings (``[plugins.feeds]``)::

    feeds = ["https://example.org/news.atom"]
    targets = ["irc:#news"]    # transport:target
"""

from __future__ import annotations

import calendar
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser
from bs4 import BeautifulSoup
from feedparser.encodings import convert_to_utf8

from univac import Context, Target, every
from univac.kit.fetch import FetchError, Limits, RateLimited, Response, check, fetch
from univac.kit.text import one_line
from univac.kit.watch import Item, announce, check_watch, due, fresh

URL = re.compile(r"https?://\S+")
FIRST_ELEMENT = re.compile(rb"<\w")
"""Where feedparser's prolog ends: entity declarations before it are the ones it reads."""


@dataclass(frozen=True)
class Settings:
    """The ``[plugins.feeds]`` table."""

    feeds: tuple[str, ...] = ()
    targets: tuple[Target, ...] = ()
    interval_s: float = 600.0
    max_announce: int = 5
    timeout_s: float = 10.0
    max_bytes: int = 2_000_000

    def __post_init__(self) -> None:
        check_watch("feeds", self.feeds, URL, "an http:// or https:// URL", self.targets)
        if self.interval_s < 60 or self.max_announce < 1:
            raise ValueError("need interval_s >= 60 and max_announce >= 1")


@dataclass(frozen=True)
class Feed:
    """A parsed feed: its title and entries, newest first."""

    title: str
    entries: list[Item]


@every(60)
def poll(ctx: Context) -> None:
    """Announce the feed entries published since the last run."""
    settings: Settings = ctx.config
    if not settings.feeds or not due(ctx, settings.interval_s):
        return
    failed = [url for url in settings.feeds if not _poll_feed(ctx, url)]
    if failed:
        raise FetchError(f"{len(failed)} of {len(settings.feeds)} feeds failed")


def _poll_feed(ctx: Context, url: str) -> bool:
    """Fetch, parse and announce one feed; False when that failed (logged)."""
    settings: Settings = ctx.config
    if ctx.now().timestamp() < ctx.state.get(f"pause:{url}", 0.0):
        return True  # the service asked us to wait: skipped, not failed again
    try:
        response = check(_get(ctx, url), ctx.now())
        feed = None
        if response.status != 304:
            feed = parse(response.body, response.url or url, response.headers.get(
                "Content-Type", ""))
    except RateLimited as error:
        ctx.state[f"pause:{url}"] = error.until.timestamp()
        ctx.log.warning("feed %s: %s", _shown(url), error)
        return False
    except FetchError as error:
        ctx.log.warning("feed %s: %s", _shown(url), error)
        return False
    if feed is not None:
        new = fresh(ctx, url, feed.entries)
        summary = f"[{feed.title}] ... and {{count}} more new entries"
        announce(ctx, settings.targets, new, settings.max_announce, summary)
        _remember_validators(ctx, url, response)
    return True


def _get(ctx: Context, url: str) -> Response:
    settings: Settings = ctx.config
    headers = {"Accept": "application/atom+xml, application/rss+xml, application/xml;q=0.9"}
    if etag := ctx.state.get(f"etag:{url}"):
        headers["If-None-Match"] = etag
    if modified := ctx.state.get(f"modified:{url}"):
        headers["If-Modified-Since"] = modified
    return fetch(url, Limits(settings.timeout_s, settings.max_bytes), headers=headers)


def _shown(url: str) -> str:
    """A feed URL without its query, which may hold a private feed token."""
    parts = urlsplit(url)
    return f"{parts.hostname}{parts.path}"


def _remember_validators(ctx: Context, url: str, response: Response) -> None:
    with ctx.state:
        ctx.state[f"etag:{url}"] = response.headers.get("ETag", "")
        ctx.state[f"modified:{url}"] = response.headers.get("Last-Modified", "")


def parse(body: bytes, base_url: str, content_type: str = "") -> Feed:
    """Parse any RSS or Atom feed; FetchError when it is none, or declares entities.

    ``base_url`` resolves relative links; ``content_type`` (the HTTP header) may name
    the charset. Entries come newest first: by date when every entry has one, else in
    the feed's order.
    """
    data = convert_to_utf8({"content-type": content_type}, body, {})
    if b"<!ENTITY" in data[: _prolog_end(data)]:
        raise FetchError("the feed declares entities; refused")
    # No base URL for feedparser: it would rewrite guids into URLs, changing the keys.
    parsed = feedparser.parse(io.BytesIO(data), response_headers={
        "content-type": "application/xml; charset=utf-8"})
    if not parsed.get("version"):
        raise FetchError("not an RSS or Atom feed")
    title = one_line(_text(parsed.feed, "title"), 60) or _shown(base_url)
    entries = [entry for entry in (_entry(e, base_url) for e in parsed.entries) if entry]
    if all(when is not None for _, _, when in entries):
        entries.sort(key=lambda entry: entry[2] or 0.0, reverse=True)
    return Feed(title, [Item(key, f"[{title}] {line}") for key, line, _ in entries])


def _prolog_end(data: bytes) -> int:
    found = FIRST_ELEMENT.search(data)
    return found.end() if found else len(data)


def _entry(entry: dict[str, Any], base_url: str) -> tuple[str, str, float | None] | None:
    """An entry's stable key, its announcement (without the feed title) and its date.

    The key is the entry's ``guid`` / ``id`` as written, else its link, else its title.
    """
    title = one_line(_text(entry, "title"), 200)
    written = str(entry.get("link") or "")
    link = one_line(urljoin(base_url, written), 300) if written else ""
    key = str(entry.get("id") or "") or link or title
    if not key:
        return None  # nothing to tell it from the next one: a fragment of a broken feed
    updated = dict.get(entry, "updated_parsed")  # not feedparser's fallback to "published"
    when = entry.get("published_parsed") or updated
    line = f"{title or '(untitled)'} {link}".strip()
    return key, line, float(calendar.timegm(when)) if when else None


def _text(node: Mapping[str, Any], field: str) -> str:
    """A text field; HTML (Atom type="html", RSS titles with markup) loses its tags."""
    raw = str(node.get(field) or "")
    kind = str((node.get(f"{field}_detail") or {}).get("type", ""))
    if "html" in kind:
        raw = BeautifulSoup(raw, "html.parser").get_text()
    return raw.strip()
