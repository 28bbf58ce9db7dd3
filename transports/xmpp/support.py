"""Pure helpers of the XMPP transport: room specs, reply text. Layer: transport.

Nothing here touches slixmpp or a socket; any thread may call them. The session and
the rooms, on the transport's own thread, are the only callers in practice.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

# Characters XML 1.0 cannot carry: a reply containing one would break the stream.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class RoomSpec:
    """One room from the config: ``room@service`` or ``room@service/nick``."""

    jid: str
    nick: str
    password: str | None = None


def parse_rooms(
    rooms: tuple[str, ...], passwords: tuple[str, ...], default_nick: str
) -> tuple[RoomSpec, ...]:
    """Turn the ``rooms`` and ``room_passwords`` settings into room specs.

    Raises ``ValueError`` (reported by the config loader with file and key) for a
    malformed entry or a password for an unknown room.
    """
    secrets = _parse_passwords(passwords)
    specs = []
    for entry in rooms:
        bare, _, nick = entry.strip().partition("/")
        bare = bare.lower()
        if not re.fullmatch(r"[^@/\s]+@[^@/\s]+", bare):
            raise ValueError(f"rooms: {entry!r} is not room@service or room@service/nick")
        specs.append(RoomSpec(bare, nick or default_nick, secrets.pop(bare, None)))
    if secrets:
        raise ValueError(f"room_passwords: no such room in rooms: {', '.join(sorted(secrets))}")
    return tuple(specs)


def _parse_passwords(passwords: tuple[str, ...]) -> dict[str, str]:
    result = {}
    for entry in passwords:
        room, sep, secret = entry.partition("=")
        if not sep or not room.strip():
            raise ValueError("room_passwords: entries are room@service=password")
        result[room.strip().lower()] = secret
    return result


def check_plaintext(tls: str, host: str, jid: str) -> None:
    """Refuse ``tls = "plaintext"`` unless the server address is a loopback address."""
    if tls != "plaintext":
        return
    address = host or jid.partition("@")[2].partition("/")[0]
    if address == "localhost":
        return
    try:
        if ipaddress.ip_address(address).is_loopback:
            return
    except ValueError:
        pass
    raise ValueError(f'tls = "plaintext" is allowed on loopback only, not {address!r}')


def reply_text(text: str, max_lines: int) -> str:
    """Make ``text`` safe for XML and cut it to ``max_lines`` lines with a continuation note.

    ``max_lines`` 0 means no limit. Trailing blank lines are dropped first.
    """
    text = _XML_INVALID.sub("\ufffd", text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = text.rstrip("\n").split("\n")
    if max_lines <= 0 or len(lines) <= max_lines:
        return "\n".join(lines)
    kept = lines[: max(max_lines - 1, 1)]
    return "\n".join([*kept, f"[… {len(lines) - len(kept)} more lines not shown]"])
