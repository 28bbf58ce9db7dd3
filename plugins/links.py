"""Post the title of web pages linked in chat, in the channels that opt in.

For each http(s) link in a message (at most ``max_links``) in a channel listed in
``channels``, the bot fetches the page and replies with its ``og:title`` or
``<title>``. It reads at most ``max_bytes``, only ``text/html`` pages, follows at
most ``max_redirects`` redirects, and stays silent on any failure. A link that is not
a valid URL (``http://[::1/``, a port over 65535) is skipped quietly.

Server-side request forgery guard (``univac.kit.fetch.Guard``): the bot never
connects to loopback, private, link-local, shared, multicast or reserved addresses.
The host name is resolved first, every address is checked, and only then is a
connection opened, to a checked address; the same for every redirect.
``allow_networks`` lists networks to allow anyway (an intranet, or tests).

Settings (``[plugins.links]``)::

    channels = ["irc:#ops", "#lobby"]   # transport:channel, or a channel on any transport
    allow_networks = []                 # e.g. ["10.1.0.0/16"]
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import urlsplit

from bs4 import BeautifulSoup

from univac import Context, match
from univac.kit.fetch import FetchError, Guard, Limits, Response, fetch
from univac.kit.text import one_line

URL = r"\bhttps?://[^\s<>\"'`]+"
TRAILING = ".,;:!?)]}>'\""
HTML = ("text/html", "application/xhtml+xml")


@dataclass(frozen=True)
class Settings:
    """The ``[plugins.links]`` table."""

    channels: tuple[str, ...] = ()
    allow_networks: tuple[str, ...] = ()
    skip_hosts: tuple[str, ...] = ("xkcd.com", "www.xkcd.com", "m.xkcd.com")
    max_links: int = 2
    max_bytes: int = 262_144
    max_redirects: int = 3
    timeout_s: float = 5.0
    max_title_chars: int = 200
    RENAMED: ClassVar[dict[str, str]] = {"max_title": "max_title_chars"}

    def __post_init__(self) -> None:
        for network in self.allow_networks:
            ipaddress.ip_network(network, strict=False)
        if self.max_links < 1 or self.max_bytes < 1024 or self.max_redirects < 0:
            raise ValueError("need max_links >= 1, max_bytes >= 1024, max_redirects >= 0")


@match(URL)
def titles(ctx: Context, found: re.Match[str]) -> Iterator[str]:
    """Reply with the title of each page linked (opted-in channels only, quiet errors)."""
    settings: Settings = ctx.config
    if not _opted_in(ctx):
        return
    urls = [url for url in _urls(found) if _host(url) not in (None, *settings.skip_hosts)]
    for url in urls[: settings.max_links]:
        try:
            title = _title(ctx, url)
        except FetchError as error:
            ctx.log.info("no title for a link: %s", error)
            continue
        if title:
            yield title


def _opted_in(ctx: Context) -> bool:
    message = ctx.message
    if message is None or message.private:
        return False
    channels = ctx.config.channels
    return message.target in channels or f"{message.transport}:{message.target}" in channels


def _urls(found: re.Match[str]) -> list[str]:
    """Every link in the message once, without trailing punctuation."""
    urls = (m.group().rstrip(TRAILING) for m in found.re.finditer(found.string))
    return list(dict.fromkeys(urls))


def _host(url: str) -> str | None:
    """The URL's host name; None when the URL is malformed (bad brackets or port)."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a port out of range
    except ValueError:
        return None
    return parts.hostname


def _title(ctx: Context, url: str) -> str:
    """The page's title line, or "" when it has none; FetchError when it cannot be read."""
    settings: Settings = ctx.config
    limits = Limits(settings.timeout_s, settings.max_bytes, settings.max_redirects)
    response = fetch(
        url, limits, guard=Guard(settings.allow_networks), truncate=True, media_types=HTML,
        headers={"Accept": "text/html,application/xhtml+xml;q=0.9"},
    )
    if response.status != 200:
        raise FetchError(f"HTTP {response.status}")
    title = _page_title(response)
    host = urlsplit(response.url).hostname or ""
    return f"[ {one_line(title, settings.max_title_chars)} ] - {host}" if title else ""


def _page_title(response: Response) -> str:
    """``og:title`` when the page has one, else ``<title>``."""
    charset = _charset(response.headers.get("Content-Type", ""))
    soup = BeautifulSoup(response.body, "html.parser", from_encoding=charset)
    og = soup.find("meta", attrs={"property": "og:title"})
    if og is not None and str(og.get("content", "")).strip():
        return str(og.get("content"))
    return soup.title.get_text() if soup.title is not None else ""


def _charset(content_type: str) -> str | None:
    found = re.search(r"charset=[\"']?([\w.:-]+)", content_type, re.IGNORECASE)
    return found[1] if found else None
