"""Announce new entries of RSS and Atom feeds.

Each run fetches every feed with ``If-None-Match`` / ``If-Modified-Since`` (a 304 costs
nothing), parses RSS 2.0, RSS 1.0 (RDF) or Atom, and announces the entries it has not
seen, oldest first, to ``targets``. The first run of a feed only records its entries.
A feed that answers 429 (or 403/503 with ``Retry-After``) is skipped until then; the
other feeds carry on.

XML safety: the standard library's expat parser building an ElementTree, with entity
declarations and external entities refused (as ``defusedxml`` does) and the body
capped at ``max_bytes``.

Settings (``[plugins.feeds]``)::

    feeds = ["https://example.org/news.atom"]
    targets = ["irc:#news"]    # transport:target
"""

from __future__ import annotations

import pyexpat
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from bs4 import BeautifulSoup

from univac import Context, Target, every
from univac.plugins import _poll
from univac.plugins._http import FetchError, Limits, RateLimited, Response, check, fetch
from univac.plugins._text import one_line

URL = re.compile(r"https?://\S+")


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
        _poll.check_watch("feeds", self.feeds, URL, "an http:// or https:// URL", self.targets)
        if self.interval_s < 60 or self.max_announce < 1:
            raise ValueError("need interval_s >= 60 and max_announce >= 1")


@dataclass(frozen=True)
class Feed:
    """A parsed feed: its title and entries, newest first as the feed lists them."""

    title: str
    entries: list[_poll.Item]


@every(60)
def poll(ctx: Context) -> None:
    """Announce the feed entries published since the last run."""
    settings: Settings = ctx.config
    if not settings.feeds or not _poll.due(ctx, settings.interval_s):
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
        feed = parse(response.body, response.url or url) if response.status != 304 else None
    except RateLimited as error:
        ctx.state[f"pause:{url}"] = error.until.timestamp()
        ctx.log.warning("feed %s: %s", _shown(url), error)
        return False
    except FetchError as error:
        ctx.log.warning("feed %s: %s", _shown(url), error)
        return False
    if feed is not None:
        new = _poll.fresh(ctx, url, feed.entries)
        summary = f"[{feed.title}] ... and {{count}} more new entries"
        _poll.announce(ctx, settings.targets, new, settings.max_announce, summary)
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


def parse(body: bytes, base_url: str) -> Feed:
    """Parse RSS 2.0, RSS 1.0 or Atom; FetchError when it is none of them."""
    root = _xml(body)
    if _local(root.tag) not in ("rss", "RDF", "feed"):
        raise FetchError("not an RSS or Atom feed")
    channel = _child(root, "channel") if _local(root.tag) != "feed" else root
    feed_title = _text(_child(channel, "title")) if channel is not None else ""
    nodes = (node for node in root.iter() if _local(node.tag) in ("item", "entry"))
    entries = [_entry(node, base_url) for node in nodes]
    title = one_line(feed_title, 60) or _shown(base_url)
    return Feed(title, [_poll.Item(key, f"[{title}] {line}") for key, line in entries])


def _entry(node: ET.Element, base_url: str) -> tuple[str, str]:
    """An entry's stable key and its announcement (without the feed title)."""
    title = one_line(_text(_child(node, "title")), 200) or "(untitled)"
    link = _link(node, base_url)
    key = _text(_child(node, "guid")) or _text(_child(node, "id")) or link or title
    return key, f"{title} {link}".strip()


def _link(node: ET.Element, base_url: str) -> str:
    for child in node:
        if _local(child.tag) != "link":
            continue
        href = child.get("href")
        if href is None and (child.text or "").strip():
            return one_line(urljoin(base_url, child.text.strip()), 300)
        if href and child.get("rel", "alternate") == "alternate":
            return one_line(urljoin(base_url, href), 300)
    return ""


def _xml(body: bytes) -> ET.Element:
    """Parse with expat into an ElementTree, refusing entity declarations (as defusedxml)."""
    builder = ET.TreeBuilder()
    parser = pyexpat.ParserCreate(namespace_separator="}")
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    parser.EntityDeclHandler = _refuse
    parser.UnparsedEntityDeclHandler = _refuse
    parser.ExternalEntityRefHandler = _refuse
    try:
        parser.Parse(body, True)
        return builder.close()
    except (pyexpat.ExpatError, AssertionError):
        raise FetchError("the feed is not well-formed XML") from None


def _refuse(*args: object) -> None:
    raise FetchError("the feed declares entities; refused")


def _child(node: ET.Element | None, name: str) -> ET.Element | None:
    if node is None:
        return None
    return next((child for child in node if _local(child.tag) == name), None)


def _text(node: ET.Element | None) -> str:
    """An element's text; HTML titles (Atom type="html", RSS) lose their tags."""
    raw = "".join(node.itertext()) if node is not None else ""
    if "<" in raw or "&" in raw:
        raw = BeautifulSoup(raw, "html.parser").get_text()
    return raw.strip()


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""
