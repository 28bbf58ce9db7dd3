"""Outbound HTTP for plugins: one careful ``fetch`` and the rate-limit arithmetic.

Part of the plugin kit; runs on the calling thread (a reactive thread or a poller).
Every request has a connect and read timeout, a wall-clock deadline, the Univac
User-Agent, a cap on the bytes read (after decompression) and a bounded number of
redirects, followed here one by one so each hop is checked and credentials never
follow a redirect to another origin. A URL that cannot be parsed (``http://[::1/``,
a port over 65535) is a ``FetchError`` like any other failure.

The optional ``Guard`` stops server-side request forgery: before any connection is
opened, the host name is resolved, every address it resolves to must be public (or
inside an allow-listed network), and the connection is then made to one of those
checked addresses, so a name that resolves to an internal address never gets a TCP
connection, not even a refused one, and a second lookup cannot swap the address
(DNS rebinding). The URL keeps the name, so the ``Host`` header, TLS SNI and
certificate verification are for the name. This holds for every redirect hop.
Proxies from the environment are ignored on purpose: a proxy would connect for us.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

from univac import __version__

__all__ = [
    "REDIRECTS", "USER_AGENT", "Blocked", "FetchError", "Guard", "HttpStatus", "Limits",
    "RateLimited", "Resolver", "Response", "check", "fetch", "remaining", "reset_time",
    "retry_after", "slow_down", "system_resolver",
]

USER_AGENT = f"Univac/{__version__} (+chat-ops bot)"
REDIRECTS = frozenset({301, 302, 303, 307, 308})
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class FetchError(Exception):
    """A request failed; the text is short and safe to log (never a secret)."""


class HttpStatus(FetchError):
    """The service answered with an error status."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


class Blocked(FetchError):
    """The guard refused an address."""


class RateLimited(FetchError):
    """The service asked us to wait until ``until``."""

    def __init__(self, until: datetime) -> None:
        super().__init__(f"rate limited until {until:%H:%M:%S} UTC")
        self.until = until


@dataclass(frozen=True)
class Limits:
    """How long to wait, how much to read and how many redirects to follow."""

    timeout_s: float = 10.0
    max_bytes: int = 1_000_000
    max_redirects: int = 3


@dataclass(frozen=True)
class Response:
    """What a fetch returns: the final URL, status, headers and (capped) body."""

    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes
    truncated: bool = False
    links: Mapping[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        """The body as JSON; FetchError when it is not."""
        try:
            return json.loads(self.body)
        except ValueError:
            raise FetchError("the response is not JSON") from None

    @property
    def media_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";")[0].strip().lower()


Resolver = Callable[[str, int], list[str]]


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (the system resolver, ``getaddrinfo``)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class Guard:
    """Allows public addresses, and the networks an operator lists (e.g. an intranet).

    ``resolve`` maps a host name and port to its addresses (the system resolver unless
    given; tests pass their own).
    """

    def __init__(self, allow: Iterable[str] = (), resolve: Resolver = system_resolver) -> None:
        self.allow: tuple[Network, ...] = tuple(
            ipaddress.ip_network(network, strict=False) for network in allow
        )
        self._resolve = resolve

    def allows(self, address: str) -> bool:
        """True when a connection to ``address`` (an IP address) is allowed."""
        ip = ipaddress.ip_address(address.split("%")[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        if any(ip in network for network in self.allow):
            return True
        return ip.is_global and not ip.is_multicast

    def addresses(self, host: str, port: int) -> list[str]:
        """The addresses to connect to for ``host``: all of them checked.

        FetchError when the name does not resolve; Blocked when any of its addresses
        is not allowed (a name mixing public and internal addresses is refused whole).
        """
        try:
            found = self._resolve(host.strip("[]"), port)
        except (OSError, UnicodeError):
            raise FetchError("the host name does not resolve") from None
        if not found:
            raise FetchError("the host name does not resolve")
        if not all(self.allows(address) for address in found):
            raise Blocked("the address is not allowed")
        return found


def fetch(
    url: str,
    limits: Limits,
    *,
    headers: Mapping[str, str] | None = None,
    guard: Guard | None = None,
    truncate: bool = False,
    media_types: tuple[str, ...] = (),
) -> Response:
    """GET ``url``; FetchError on network trouble, too many redirects or a too-big body.

    ``truncate`` keeps the first ``max_bytes`` of a longer body instead of failing;
    ``media_types`` refuses (before reading the body) a response of another type.
    Any HTTP status is returned; ``check`` turns the bad ones into errors.
    """
    deadline = time.monotonic() + limits.timeout_s * 2
    origin = _origin(url)
    with _session(guard) as session:
        for _hop in range(limits.max_redirects + 1):
            sent = dict(headers or {}) if _origin(url) == origin else {}
            reply = _get(session, url, sent, limits.timeout_s)
            location = reply.headers.get("Location")
            if reply.status_code not in REDIRECTS or not location:
                _check_type(reply, media_types)
                return _read(reply, limits, deadline, truncate)
            reply.close()
            url = urljoin(url, location)
    raise FetchError("too many redirects")


def _session(guard: Guard | None) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.headers["User-Agent"] = USER_AGENT
    if guard is not None:
        adapter = _GuardedAdapter(guard)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
    return session


def _origin(url: str) -> tuple[str, str | None, int | None]:
    """(scheme, host, port) of an http(s) URL; FetchError for anything else."""
    try:
        parts = urlsplit(url)
        origin = parts.scheme, parts.hostname, parts.port
    except ValueError:  # "http://[::1/", a port over 65535
        raise FetchError("not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError("only http and https URLs with a host are fetched")
    return origin


def _check_type(reply: requests.Response, media_types: tuple[str, ...]) -> None:
    media_type = reply.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if media_types and media_type not in media_types:
        reply.close()
        raise FetchError(f"not {' or '.join(media_types)}")


def _get(
    session: requests.Session, url: str, headers: Mapping[str, str], timeout: float
) -> requests.Response:
    try:
        return session.get(
            url, headers=dict(headers), timeout=(timeout, timeout), stream=True,
            allow_redirects=False,
        )
    except requests.Timeout:
        raise FetchError("timed out") from None
    except requests.RequestException as error:
        raise FetchError(f"cannot connect ({type(error).__name__})") from None


def _read(reply: requests.Response, limits: Limits, deadline: float, truncate: bool) -> Response:
    with reply:
        declared = reply.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limits.max_bytes and not truncate:
            raise FetchError("the response is too large")
        body, truncated = _body(reply, limits.max_bytes, deadline)
    if truncated and not truncate:
        raise FetchError("the response is too large")
    links = {rel: link["url"] for rel, link in reply.links.items() if "url" in link}
    headers = CaseInsensitiveDict(reply.headers)
    return Response(reply.url or "", reply.status_code, headers, body, truncated, links)


def _body(reply: requests.Response, max_bytes: int, deadline: float) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in reply.iter_content(16384):
            chunks.append(chunk)
            size += len(chunk)
            if size > max_bytes:
                return b"".join(chunks)[:max_bytes], True
            if time.monotonic() > deadline:
                raise FetchError("the response is too slow")
    except requests.RequestException as error:
        raise FetchError(f"the transfer failed ({type(error).__name__})") from None
    return b"".join(chunks), False


def check(response: Response, now: datetime) -> Response:
    """Return a 2xx or 304 response; RateLimited or FetchError for the others.

    RateLimited: 429, or 403/503 with ``Retry-After`` or an exhausted quota.
    """
    until = retry_after(response, now)
    if response.status in (403, 429, 503) and until is not None:
        raise RateLimited(until)
    if response.status == 429:
        raise RateLimited(now + timedelta(seconds=60))
    if response.status == 304 or 200 <= response.status < 300:
        return response
    raise HttpStatus(response.status)


def retry_after(response: Response, now: datetime) -> datetime | None:
    """When to come back: ``Retry-After``, else an exhausted quota's reset, else None."""
    headers = response.headers
    waited = _retry_after_header(headers.get("Retry-After", ""), now)
    if waited is not None:
        return waited
    if remaining(headers) == 0:
        return reset_time(headers) or now + timedelta(seconds=60)
    return None


def slow_down(response: Response, reserve: int) -> datetime | None:
    """The quota's reset time when fewer than ``reserve`` requests remain, else None."""
    left = remaining(response.headers)
    return reset_time(response.headers) if left is not None and left < reserve else None


def remaining(headers: Mapping[str, str]) -> int | None:
    """Requests left in the window (GitHub ``X-RateLimit-*`` or GitLab ``RateLimit-*``)."""
    raw = headers.get("X-RateLimit-Remaining") or headers.get("RateLimit-Remaining") or ""
    return int(raw) if raw.strip().isdigit() else None


def reset_time(headers: Mapping[str, str]) -> datetime | None:
    """When the quota resets: an epoch in ``X-RateLimit-Reset`` or ``RateLimit-Reset``."""
    raw = headers.get("X-RateLimit-Reset") or headers.get("RateLimit-Reset") or ""
    if not raw.strip().isdigit():
        return None
    return datetime.fromtimestamp(int(raw), UTC)


def _retry_after_header(raw: str, now: datetime) -> datetime | None:
    raw = raw.strip()
    if raw.isdigit():
        return now + timedelta(seconds=int(raw))
    try:
        return parsedate_to_datetime(raw) if raw else None
    except (TypeError, ValueError):
        return None


class _GuardedAdapter(HTTPAdapter):
    """A requests adapter whose connections go only to addresses the guard checked."""

    def __init__(self, guard: Guard) -> None:
        self._guard = guard
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        """Give the pool manager connection pools whose connections resolve and check."""
        super().init_poolmanager(*args, **kwargs)
        guarded = {}
        for scheme, pool in self.poolmanager.pool_classes_by_scheme.items():
            plain = pool.ConnectionCls
            checked = type(f"Guarded{plain.__name__}", (_Checked, plain), {"guard": self._guard})
            guarded[scheme] = type(f"Guarded{pool.__name__}", (pool,), {"ConnectionCls": checked})
        self.poolmanager.pool_classes_by_scheme = guarded


class _Checked:
    """Mixin for the connections requests makes: resolve, check, connect to the checked.

    Only the socket is opened here; the connection keeps its host name, so TLS (SNI,
    certificate verification) and the ``Host`` header still use the name.
    """

    guard: Guard
    port: int
    timeout: Any
    source_address: tuple[str, int] | None
    socket_options: list[tuple[int, int, int]] | None

    def _new_conn(self) -> socket.socket:
        host = str(getattr(self, "_dns_host", ""))
        addresses = self.guard.addresses(host, self.port)
        timeout = self.timeout if isinstance(self.timeout, int | float) else None
        failure: OSError | None = None
        for address in addresses:
            try:
                sock = socket.create_connection((address, self.port), timeout,
                                                self.source_address)
            except OSError as error:
                failure = error
                continue
            for option in self.socket_options or ():
                sock.setsockopt(*option)
            return sock
        if isinstance(failure, TimeoutError):
            raise FetchError("timed out")
        raise FetchError(f"cannot connect ({type(failure).__name__})")
