"""Watch newest-first JSON lists of a REST service and announce what is new.

Part of the plugin kit; runs on the poller's thread (``poll``) or a reactive thread
(``lookup``). The github and gitlab plugins are this module plus what differs: a
``Service`` (name, headers, how the token is sent), the URLs and the item shapes.

For each ``Source`` (one list, e.g. a repository's issues) a poll:

- asks for the first page with ``If-None-Match`` and ``If-Modified-Since`` from the
  last answer's ``ETag`` and ``Last-Modified`` (an unchanged list costs a 304 and, on
  GitHub, no quota) and follows ``Link: rel="next"`` pages until a page holds an
  item already seen, at most ``max_pages`` (on a first run only the first page);
- records the keys (``kit.watch.fresh``) and announces the new items, oldest first, at
  most ``max_announce`` per list, then one summary line;
- when fewer than ``reserve`` requests remain (``X-RateLimit-Remaining`` or
  ``RateLimit-Remaining``), books the next poll after the quota's reset, quietly;
- on 429, or 403/503 with ``Retry-After`` or a spent quota, pauses every list until
  then (``kit.watch.pause``); the run then fails with ``RateLimited``.

A list that fails is logged and tried again on the next poll; the others go on, and
the run ends with ``FetchError`` naming how many failed.

The plugin's settings must have the fields of ``RestSettings``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from univac import Context, UserError
from univac.kit.fetch import (
    FetchError,
    HttpStatus,
    Limits,
    RateLimited,
    Response,
    check,
    fetch,
)
from univac.kit.fetch import slow_down as quota_low
from univac.kit.watch import Item, announce, due, fresh, pause, paused, seen_keys
from univac.kit.watch import slow_down as book_after

__all__ = ["RestSettings", "Service", "Source", "check_paging", "get", "lookup", "poll"]


class RestSettings(Protocol):
    """The settings a REST watcher reads from ``ctx.config``."""

    @property
    def api_url(self) -> str: ...
    @property
    def token(self) -> str: ...
    @property
    def targets(self) -> tuple[str, ...]: ...
    @property
    def interval_s(self) -> float: ...
    @property
    def per_page(self) -> int: ...
    @property
    def max_pages(self) -> int: ...
    @property
    def max_announce(self) -> int: ...
    @property
    def reserve(self) -> int: ...
    @property
    def timeout_s(self) -> float: ...
    @property
    def max_bytes(self) -> int: ...


@dataclass(frozen=True)
class Service:
    """What differs between REST services: a name for people, headers, the token."""

    name: str
    """As users read it: "GitHub asks me to slow down"."""
    headers: Mapping[str, str]
    """Sent with every request (``Accept``, an API version)."""
    token_header: str = "Authorization"
    token_value: str = "Bearer {token}"
    """How a configured token is sent: ``{token}`` stands for it."""


@dataclass(frozen=True)
class Source:
    """One watched list: its name in the state, its first page, how to read an entry."""

    key: str
    url: str
    to_item: Callable[[Any], Item]
    """An entry of the JSON list to an Item; KeyError/TypeError/ValueError when malformed."""
    summary: str
    """The line after ``max_announce`` items, with ``{count}``."""


def check_paging(interval_s: float, per_page: int, max_pages: int) -> None:
    """Validate a REST poller's interval and paging settings (for ``__post_init__``)."""
    if interval_s < 60 or not 1 <= per_page <= 100 or max_pages < 1:
        raise ValueError("need interval_s >= 60, per_page 1..100, max_pages >= 1")


def get(ctx: Context, service: Service, path_or_url: str,
        extra: Mapping[str, str] | None = None) -> Response:
    """GET an API path (``/repos/...``, joined to ``api_url``) or a full URL."""
    settings: RestSettings = ctx.config
    url = path_or_url
    if path_or_url.startswith("/"):
        url = settings.api_url.rstrip("/") + path_or_url
    headers = dict(service.headers)
    if settings.token:
        headers[service.token_header] = service.token_value.format(token=settings.token)
    limits = Limits(settings.timeout_s, settings.max_bytes)
    return fetch(url, limits, headers=headers | dict(extra or {}))


def lookup(ctx: Context, service: Service, path: str, shown: str) -> dict[str, Any]:
    """One item (a JSON object) for a command; UserError with a short reason otherwise.

    ``shown`` names the item in the replies: "acme/rocket#99 was not found.".
    """
    try:
        return _object(check(get(ctx, service, path), ctx.now()))
    except RateLimited:
        raise UserError(f"{service.name} asks me to slow down; try again later.") from None
    except FetchError as error:
        if isinstance(error, HttpStatus) and error.status == 404:
            raise UserError(f"{shown} was not found.") from None
        ctx.log.warning("%s %s: %s", service.name, shown, error)
        raise UserError(f"{service.name} did not answer; try again later.") from None


def poll(ctx: Context, service: Service, sources: Sequence[Source]) -> None:
    """Poll every source when the interval has passed; FetchError when some failed."""
    settings: RestSettings = ctx.config
    if not sources or not due(ctx, settings.interval_s):
        return
    failed = [s for s in sources if paused(ctx) or not _watch(ctx, service, s)]
    if failed:
        raise FetchError(f"{len(failed)} of {len(sources)} lists failed")


def _watch(ctx: Context, service: Service, source: Source) -> bool:
    """Fetch one list, then record and announce what is new; False when it failed."""
    settings: RestSettings = ctx.config
    try:
        items, validators = _collect(ctx, service, source)
    except RateLimited as error:
        pause(ctx, error.until)
        return False
    except FetchError as error:
        ctx.log.warning("%s %s: %s", service.name, source.key, error)
        return False
    with ctx.state:
        new = fresh(ctx, source.key, items) if items is not None else []
        for name, value in validators.items():
            ctx.state[f"{name}:{source.key}"] = value
    announce(ctx, settings.targets, new, settings.max_announce, source.summary)
    return True


VALIDATORS = {"etag": ("ETag", "If-None-Match"), "modified": ("Last-Modified", "If-Modified-Since")}
"""State key prefix -> (the response header, the request header that sends it back)."""


def _collect(
    ctx: Context, service: Service, source: Source
) -> tuple[list[Item] | None, dict[str, str]]:
    """The items of the list's pages (None: 304 Not Modified) and the first page's
    validators (``etag``, ``modified``) to store.

    Paging stops at the first page holding a seen item, at ``max_pages``, or at once on
    a first run.
    """
    seen = seen_keys(ctx, source.key)
    known = {name: ctx.state.get(f"{name}:{source.key}", "") for name in VALIDATORS}
    conditional = {VALIDATORS[name][1]: value for name, value in known.items() if value}
    items: list[Item] = []
    validators: dict[str, str] = {}
    url = source.url
    for page in range(ctx.config.max_pages):
        response = _page(ctx, service, url, conditional if page == 0 else {})
        if response.status == 304:
            return None, known
        if page == 0:
            validators = {name: response.headers.get(header, "")
                          for name, (header, _) in VALIDATORS.items()}
        listed = [_item(source.to_item, entry) for entry in _list(response)]
        items.extend(listed)
        url = response.links.get("next", "")
        if seen is None or not url or any(item.key in seen for item in listed):
            break
    return items, validators


def _page(ctx: Context, service: Service, url: str, conditional: Mapping[str, str]) -> Response:
    """One checked page; a nearly spent quota books the next poll after its reset."""
    response = check(get(ctx, service, url, conditional), ctx.now())
    until = quota_low(response, ctx.config.reserve)
    if until is not None:
        book_after(ctx, until)
    return response


def _object(response: Response) -> dict[str, Any]:
    found = response.json()
    if not isinstance(found, dict):
        raise FetchError("unexpected response shape")
    return found


def _list(response: Response) -> list[Any]:
    found = response.json()
    if not isinstance(found, list):
        raise FetchError("unexpected response shape: not a list")
    return found


def _item(to_item: Callable[[Any], Item], entry: Any) -> Item:
    try:
        return to_item(entry)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise FetchError("unexpected response shape: an entry lacks a field") from None

