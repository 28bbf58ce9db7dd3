"""The GitHub REST client: one ``requests.Session``, timeouts, pages, the rate limit.

Layer: plugin; any thread (the session is shared; the quota is read and written under
a lock). Every call says how much of the rate limit it must leave: the background
scan ``scan_reserve`` (half), everything else ``reserve`` (5 %). When the last
answer's ``X-RateLimit-Remaining`` is at or under that share of ``X-RateLimit-Limit``
and the reset is ahead, the call is not made and ``RateLimited`` says until when; a
403 or 429 for a spent quota or with ``Retry-After`` (GitHub's secondary limits) says
the same. Pages follow ``Link: rel="next"``, only on the configured origin (the
token goes nowhere else).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from univac import __version__

from .auth import AppAuth, AuthError, TokenAuth
from .settings import Settings

HEADERS = {
    "Accept": "application/vnd.github+json",
    "X-GitHub-Api-Version": "2022-11-28",
    "User-Agent": f"Univac/{__version__} (+chat-ops bot; triage)",
}
PER_PAGE = 100
MAX_PAGES = 50
"""A timeline longer than 5,000 events is read only that far."""


class GitHubError(Exception):
    """A call failed: network, HTTP error, or an answer of the wrong shape."""


class NotFound(GitHubError):
    """404 or 410: deleted, transferred, or never there."""


class RateLimited(GitHubError):
    """Calls must wait until ``until`` (seconds since the epoch)."""

    def __init__(self, until: float, why: str) -> None:
        super().__init__(f"rate limited until {time.strftime('%H:%M:%S', time.gmtime(until))} "
                         f"UTC ({why})")
        self.until = until


@dataclass
class Quota:
    """The rate limit as the last answer gave it (``limit`` 0: not known yet)."""

    limit: int = 0
    remaining: int = 0
    reset: float = 0.0

    def held_back(self, reserve: float, wall: float) -> bool:
        return bool(self.limit) and self.remaining <= self.limit * reserve and wall < self.reset


class GitHub:
    """Calls the REST API at ``api_url`` for one repository."""

    def __init__(self, settings: Settings, counted: Callable[[str, float], None],
                 wall: Callable[[], float] = time.time) -> None:
        self.api_url = settings.api_url.rstrip("/")
        self.repo_path = "/repos/" + "/".join(quote(p, safe="") for p in settings.repo.split("/"))
        self._timeout_s = settings.timeout_s
        self._counted = counted
        self._wall = wall
        self._session = requests.Session()
        self._session.trust_env = False
        self._session.headers.update(HEADERS)
        self._lock = threading.Lock()
        self.quota = Quota()
        self.auth = _auth(settings, self._session.post)

    def close(self) -> None:
        self._session.close()

    def call(self, method: str, path: str, reserve: float, body: Any = None,
             params: dict[str, Any] | None = None) -> requests.Response:
        """One call (``path`` under ``api_url``, or a full URL on it); the checked reply."""
        url = path if path.startswith(self.api_url + "/") else self.api_url + path
        with self._lock:
            quota = Quota(self.quota.limit, self.quota.remaining, self.quota.reset)
        if quota.held_back(reserve, self._wall()):
            raise RateLimited(quota.reset, f"keeping {reserve:.0%} of {quota.limit} in reserve")
        try:
            headers = {"Authorization": self.auth.header()}
        except AuthError as error:
            raise GitHubError(str(error)) from None
        started = time.perf_counter()
        try:
            reply = self._session.request(method, url, json=body, params=params,
                                          headers=headers, timeout=self._timeout_s)
        except requests.RequestException as error:
            raise GitHubError(f"{method} {path}: {type(error).__name__}") from None
        finally:
            self._counted(method, time.perf_counter() - started)
        self._note_quota(reply)
        return self._checked(method, path, reply)

    def json(self, method: str, path: str, reserve: float, body: Any = None,
             params: dict[str, Any] | None = None) -> Any:
        reply = self.call(method, path, reserve, body, params)
        try:
            return reply.json() if reply.content else None
        except ValueError:
            raise GitHubError(f"{method} {path}: the answer is not JSON") from None

    def pages(self, path: str, reserve: float, params: dict[str, Any] | None = None,
              max_pages: int = MAX_PAGES) -> Iterator[list[Any]]:
        """Each page of a list, following ``Link: rel="next"`` on this origin."""
        url, query = path, {"per_page": PER_PAGE} | dict(params or {})
        for _ in range(max_pages):
            reply = self.call("GET", url, reserve, params=query)
            page = reply.json()
            if not isinstance(page, list):
                raise GitHubError(f"GET {path}: expected a list")
            yield page
            url, query = reply.links.get("next", {}).get("url", ""), None
            if not url:
                return
            if not _same_origin(url, self.api_url):
                raise GitHubError(f"GET {path}: the next page is on another server")

    def issue_path(self, number: int, tail: str = "") -> str:
        return f"{self.repo_path}/issues/{number}{tail}"

    def _note_quota(self, reply: requests.Response) -> None:
        headers = reply.headers
        try:
            limit = int(headers["X-RateLimit-Limit"])
            remaining = int(headers["X-RateLimit-Remaining"])
            reset = float(headers["X-RateLimit-Reset"])
        except (KeyError, ValueError):
            return
        if headers.get("X-RateLimit-Resource", "core") != "core":
            return
        with self._lock:
            self.quota = Quota(limit, remaining, reset)

    def _checked(self, method: str, path: str, reply: requests.Response) -> requests.Response:
        status = reply.status_code
        if status < 300:
            return reply
        if status in (403, 429) and (until := self._limited_until(reply)) is not None:
            raise RateLimited(until, f"HTTP {status}")
        if status in (404, 410):
            raise NotFound(f"{method} {path}: HTTP {status}")
        raise GitHubError(f"{method} {path}: HTTP {status}")

    def _limited_until(self, reply: requests.Response) -> float | None:
        retry = reply.headers.get("Retry-After", "")
        if retry.strip().isdigit():
            return self._wall() + int(retry)
        if reply.headers.get("X-RateLimit-Remaining") == "0":
            return self.quota.reset or self._wall() + 60
        if reply.status_code == 429 or "rate limit" in reply.text.lower():
            return self._wall() + 60
        return None


def _auth(settings: Settings, post: Callable[..., requests.Response]) -> TokenAuth | AppAuth:
    if settings.token:
        return TokenAuth(settings.token)
    return AppAuth(settings.app_id, settings.app_key, settings.installation_id,
                   settings.api_url, post, settings.timeout_s)


def _same_origin(url: str, base: str) -> bool:
    a, b = urlsplit(url), urlsplit(base)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc)
