"""Who is asking for an incident page: a reverse proxy's user, or a bearer token.

The HTTP server's worker threads call it. Pages are never open by default: with
neither way in configured they do not exist (404). The two ways in:

- a reverse proxy that signs people in and names the user in a header
  (``page_user_header``, e.g. ``X-Forwarded-User``), believed only from the proxies'
  addresses (``page_proxies``: addresses or networks). The user is then the identity
  ``http:<user>`` and holds the roles whose ``"*"`` patterns match it
  (``[roles.sre] "*" = ["http:alice"]``), as a chat identity would;
- a bearer token (``page_token``, a secret: ``page_token_file``), compared in constant
  time, which grants one role (``page_token_role``).

The header from any other peer is ignored, as if it were not there. A request that
brings neither is asked to sign in (401), and so is a wrong token.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from univac import WebhookRequest
from univac.kit.webhook import bearer_ok

if TYPE_CHECKING:
    from .settings import Settings

IDENTITY_PREFIX = "http:"
USER_CHARS = 200
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Visitor:
    """Someone signed in: the identity (``http:alice``, or ``token``) and the roles they
    hold (asked one role at a time, as ``ctx.has_role`` is)."""

    identity: str
    user: str
    """The proxy's user name, empty for the token."""
    holds: Callable[[str], bool]


@dataclass(frozen=True)
class Unknown:
    """Nobody signed in: why (``missing``: no credentials; ``token``: a wrong token)."""

    reason: str


def enabled(settings: Settings) -> bool:
    """Whether either way in is configured (otherwise the pages do not exist)."""
    return bool(settings.page_token or settings.page_user_header)


def visitor(request: WebhookRequest, settings: Settings,
            roles_of: Callable[[str], Callable[[str], bool]]) -> Visitor | Unknown:
    """Who sent ``request``; ``roles_of(user)`` tells which roles a proxy's user holds."""
    user = proxied_user(request, settings)
    if user:
        return Visitor(IDENTITY_PREFIX + user, user, roles_of(user))
    authorization = request.header("Authorization")
    if settings.page_token and authorization:
        if bearer_ok(settings.page_token, authorization):
            granted = settings.page_token_role
            return Visitor("token", "", lambda role: bool(role) and role == granted)
        return Unknown("token")
    return Unknown("missing")


def proxied_user(request: WebhookRequest, settings: Settings) -> str:
    """The user a trusted proxy names; empty when none is configured or the peer is not
    one of the proxies (its header is then ignored)."""
    if not settings.page_user_header or not trusted(request.remote, settings.page_proxies):
        return ""
    user = request.header(settings.page_user_header).strip()
    if len(user) > USER_CHARS or not user.isprintable():
        return ""
    return user


def trusted(remote: str, proxies: tuple[str, ...]) -> bool:
    """Whether the peer address is one of ``proxies`` (addresses or networks)."""
    try:
        address = ipaddress.ip_address(remote.strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in network for network in networks(proxies))


def networks(proxies: tuple[str, ...]) -> list[Network]:
    """The proxies as networks; ValueError naming one that is no address or network."""
    found = []
    for text in proxies:
        try:
            found.append(ipaddress.ip_network(text.strip(), strict=False))
        except ValueError:
            raise ValueError(f"'{text}' is no address or network") from None
    return found


def problems(settings: Any) -> list[tuple[str, str]]:
    """The page settings' problems, by key (for ``Settings``)."""
    found = []
    granted = settings.page_token_role.strip()
    if settings.page_token and not granted:
        found.append(("page_token_role", "name the role the page token grants"))
    own = {settings.writers, settings.readers, settings.viewers} - {""}
    if granted and granted not in own:
        found.append(("page_token_role", f"'{granted}' would open nothing: name one of "
                                         f"{', '.join(sorted(own))} (writers, readers, viewers)"))
    if settings.page_user_header and not settings.page_proxies:
        found.append(("page_proxies", "name the reverse proxies trusted to send "
                                      f"{settings.page_user_header}"))
    if settings.page_user_header and not settings.page_user_header.replace("-", "").isalnum():
        found.append(("page_user_header", "a header name: letters, digits and '-'"))
    try:
        networks(settings.page_proxies)
    except ValueError as error:
        found.append(("page_proxies", str(error)))
    if not settings.page_recent_s > 0:
        found.append(("page_recent_s", "must be more than 0"))
    return found
