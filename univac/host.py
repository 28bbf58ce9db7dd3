"""What the bot knows of the host it runs on (``ctx.host``). Layer: core; any thread.

Addresses come from the host name's resolution and from asking the kernel which local
address it would route to the outside from (a UDP ``connect``, which sends nothing).
"""

from __future__ import annotations

import ipaddress
import socket
from functools import cached_property

# Documentation addresses (RFC 5737, RFC 3849): connect() on UDP only picks a route.
ROUTE_PROBES = ((socket.AF_INET, "192.0.2.1"), (socket.AF_INET6, "2001:db8::1"))


class HostInfo:
    """The host's name and addresses, looked up once on first use."""

    @cached_property
    def name(self) -> str:
        """The machine's own name (``gethostname``); ``getfqdn`` can pick a ``localhost``
        alias from ``/etc/hosts`` instead."""
        return socket.gethostname()

    @cached_property
    def addresses(self) -> tuple[str, ...]:
        found = _routed() + _resolved(socket.gethostname())
        unique = list(dict.fromkeys(found))
        public = [a for a in unique if not ipaddress.ip_address(a).is_loopback]
        return tuple(public or unique)


def _routed() -> list[str]:
    found = []
    for family, probe in ROUTE_PROBES:
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as sock:
                sock.connect((probe, 9))
                found.append(sock.getsockname()[0])
        except OSError:
            continue
    return found


def _resolved(name: str) -> list[str]:
    try:
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return []
    return [str(info[4][0]).split("%")[0] for info in infos]
