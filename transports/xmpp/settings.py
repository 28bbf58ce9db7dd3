"""The settings of one ``[[transports]]`` table with ``type = "xmpp"``. Layer: transport.

Checked when built, at start (see docs/xmpp.md for every setting).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from univac import check_seconds

from .support import check_plaintext, parse_rooms


@dataclass(frozen=True)
class Settings:
    """Settings of one ``[[transports]]`` table with ``type = "xmpp"``."""

    RENAMED: ClassVar[dict[str, str]] = {
        "ca_file": "tls_ca_file",
        "max_lines": "max_lines_per_reply",
        "reconnect_min": "reconnect_min_s",
        "reconnect_max": "reconnect_max_s",
        "join_timeout": "join_timeout_s",
        "self_ping_interval": "self_ping_interval_s",
        "keepalive_interval": "ping_interval_s",
        "keepalive_interval_s": "ping_interval_s",
        "ping_timeout": "ping_timeout_s",
    }
    """Old setting names still accepted, each with the name that replaced it."""

    jid: str
    """The bot's account, ``bot@example.org`` (bare JID; see ``resource``)."""
    password: str = ""
    """The account password; better given as ``password_file`` or ``password_env``."""
    resource: str = "univac"
    """Resource of the bot's session: the bot logs in as ``jid/resource``."""
    host: str = ""
    """Address to connect to; empty: the JID's domain (DNS SRV, then the domain itself)."""
    port: int = 0
    """Port with ``host``; 0: 5222 (5223 for ``tls = "direct"``)."""
    tls: Literal["starttls", "direct", "plaintext"] = "starttls"
    """STARTTLS, direct TLS, or no TLS at all (allowed only with a loopback address)."""
    tls_ca_file: str = ""
    """Extra CA certificates (PEM) to trust, e.g. for a self-signed server."""
    nick: str = "univac"
    """The bot's nick in rooms that do not name one."""
    rooms: tuple[str, ...] = ()
    """Rooms to join: ``room@conference.example.org`` or ``room@conference.example.org/nick``."""
    room_passwords: tuple[str, ...] = ()
    """Passwords of protected rooms: ``room@conference.example.org=secret``."""
    alt_nick_suffix: str = "_"
    """Appended to the nick (once, twice, ... five times) when the nick is taken."""
    max_lines_per_reply: int = 20
    """Lines per reply at most; longer replies end with a note of what was cut (0: no limit)."""
    reconnect_min_s: float = 1.0
    """First delay before reconnecting or retrying a room join (doubles, jittered)."""
    reconnect_max_s: float = 300.0
    """Longest delay between reconnect attempts or room join retries."""
    healthy_after_s: float = 60.0
    """A session (or a stay in a room) this long makes the next retry start again from
    ``reconnect_min_s``; shorter ones keep doubling the delay."""
    connect_timeout_s: float = 20.0
    """From dialling to the server's first stanza; a server that never speaks is left (0: off)."""
    login_timeout_s: float = 60.0
    """From dialling to a logged-in session (TLS, login, resource binding) (0: off)."""
    join_timeout_s: float = 30.0
    """How long a room may take to answer a join before it is retried."""
    self_ping_interval_s: float = 300.0
    """Room silence before a XEP-0410 self-ping checks the bot is still in it (0: off)."""
    ping_interval_s: float = 15.0
    """Silence from the server before the bot pings it to tell a dead link (0: off)."""
    ping_timeout_s: float = 10.0
    """How long a server ping or a room self-ping may go unanswered."""
    stream_management: bool = True
    """Use XEP-0198, so that a briefly dropped link resumes its session and rooms."""

    def __post_init__(self) -> None:
        """Check what the types cannot; a ValueError names the setting."""
        if "@" not in self.jid or "/" in self.jid:
            raise ValueError(f"jid: {self.jid!r} is not a bare JID such as bot@example.org")
        check_plaintext(self.tls, self.host, self.jid)
        parse_rooms(self.rooms, self.room_passwords, self.nick)
        if self.max_lines_per_reply < 0:
            raise ValueError("max_lines_per_reply: must be 0 (no limit) or more")
        check_seconds(self)
