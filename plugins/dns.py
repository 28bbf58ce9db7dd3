"""Look up DNS records: ``!dns <name> [type]`` and reverse lookups with ``!rdns <ip>``.

Uses dnspython's stub resolver, with the system's resolvers or the configured ones,
one overall timeout per lookup, and a cap on how much of a long answer is shown.
Every failure (no such domain, no records, timeout, refused, bad input) is a short
reply that names what went wrong; the resolver addresses are never shown.

Settings (``[plugins.dns]``)::

    nameservers = ["192.0.2.53"]   # default: the system's (/etc/resolv.conf)
    port = 53
    timeout_s = 3.0
    max_answers = 8
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import ClassVar, Literal

import dns.exception
import dns.name
import dns.rdata
import dns.resolver
import dns.reversename

from univac import Context, UserError, command
from univac.kit.text import one_line

RecordType = Literal["A", "AAAA", "MX", "TXT", "CNAME", "NS", "SOA", "SRV", "CAA", "PTR"]


@dataclass(frozen=True)
class Settings:
    """The ``[plugins.dns]`` table."""

    nameservers: tuple[str, ...] = ()
    port: int = 53
    timeout_s: float = 3.0
    max_answers: int = 8
    max_reply_chars: int = 400
    RENAMED: ClassVar[dict[str, str]] = {"max_length": "max_reply_chars"}

    def __post_init__(self) -> None:
        for server in self.nameservers:
            ipaddress.ip_address(server)
        if not 0 < self.timeout_s <= 30 or self.max_answers < 1 or self.max_reply_chars < 50:
            raise ValueError(
                "need 0 < timeout_s <= 30, max_answers >= 1, max_reply_chars >= 50")


@command("dns")
def dns_(ctx: Context, name: str, rtype: RecordType = "A") -> str:
    """Look up DNS records: dns example.org [A|AAAA|MX|TXT|CNAME|NS|SOA|SRV|CAA|PTR]."""
    if rtype == "PTR" and _is_ip(name):
        return rdns(ctx, name)
    return _lookup(ctx, _domain(name), rtype)


@command("rdns")
def rdns(ctx: Context, ip: str) -> str:
    """Look up the names of an IP address (PTR): rdns 192.0.2.1."""
    if not _is_ip(ip):
        raise UserError(f"'{one_line(ip, 60)}' is not an IPv4 or IPv6 address.")
    return _lookup(ctx, dns.reversename.from_address(ip), "PTR", shown=ip)


def _lookup(ctx: Context, name: dns.name.Name, rtype: str, shown: str = "") -> str:
    shown = shown or name.to_text(omit_final_dot=True)
    try:
        answer = _resolver(ctx.config).resolve(name, rtype, search=False)
    except dns.resolver.NXDOMAIN:
        raise UserError(f"{shown}: no such domain (NXDOMAIN).") from None
    except dns.resolver.NoAnswer:
        raise UserError(f"{shown} has no {rtype} records.") from None
    except dns.resolver.LifetimeTimeout:
        raise UserError(f"The DNS lookup for {shown} timed out.") from None
    except dns.resolver.NoNameservers:
        raise UserError(f"No DNS server could answer for {shown} (SERVFAIL or refused).") from None
    except dns.exception.DNSException as error:
        ctx.log.warning("dns %s %s: %s", shown, rtype, type(error).__name__)
        raise UserError(f"The DNS lookup for {shown} failed.") from None
    records = [rdata.to_text() for rdata in sorted(answer, key=_order)]
    return _summary(ctx.config, f"{shown} {rtype}", records)


def _summary(settings: Settings, head: str, records: list[str]) -> str:
    """``head: a, b, c (+N more)``, cut to the configured length."""
    shown = records[: settings.max_answers]
    more = f" (+{len(records) - len(shown)} more)" if len(records) > len(shown) else ""
    return one_line(f"{head}: {', '.join(shown)}{more}", settings.max_reply_chars)


def _order(rdata: dns.rdata.Rdata) -> tuple[int, str]:
    """MX by preference, SRV by priority, the rest by text."""
    rank = getattr(rdata, "preference", getattr(rdata, "priority", 0))
    return rank, rdata.to_text()


def _resolver(settings: Settings) -> dns.resolver.Resolver:
    resolver = dns.resolver.Resolver(configure=not settings.nameservers)
    if settings.nameservers:
        resolver.port = settings.port
        resolver.nameservers = list(settings.nameservers)
    resolver.lifetime = settings.timeout_s
    resolver.timeout = min(settings.timeout_s, 2.0)
    return resolver


def _domain(text: str) -> dns.name.Name:
    """The name to look up; UserError for what cannot be a domain name."""
    if len(text) > 253 or any(c.isspace() or c in "/@:\\" for c in text):
        raise UserError(f"'{one_line(text, 60)}' is not a domain name.")
    try:
        return dns.name.from_text(text.rstrip(".") + ".")
    except dns.exception.DNSException:
        raise UserError(f"'{one_line(text, 60)}' is not a domain name.") from None


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
