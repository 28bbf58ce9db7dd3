"""The settings of one ``[[transports]]`` table with ``type = "matrix"``. Layer: transport.

Checked when built, at start (see docs/matrix.md for every setting).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from univac import check_seconds, check_service_url

USER_ID = re.compile(r"@[^:\s]+:[^\s/]+")


@dataclass(frozen=True)
class Settings:
    """Settings of one ``[[transports]]`` table with ``type = "matrix"``."""

    DEPRECATED: ClassVar[dict[str, str]] = {"state_file": (
        "deprecated: the device and sync token are kept in the state store now; the file "
        "it names is imported once (when the store holds nothing for this transport) and "
        "then renamed *.imported-<time>; remove the setting")}

    homeserver: str
    """Base URL of the homeserver's client API, ``https://matrix.example.org``."""
    user_id: str
    """The bot's account, ``@univac:example.org``."""
    password: str = ""
    """The account password; better given as ``password_file`` or ``password_env``."""
    access_token: str = ""
    """An access token instead of a password (its device is the token's device)."""
    device_name: str = "Univac"
    """Name of the device the password login creates (once: the device is kept)."""
    display_name: str = ""
    """Display name to set on the account at start; empty: leave it as it is."""
    rooms: tuple[str, ...] = ()
    """Rooms to join: aliases ``#ops:example.org`` or ids ``!abc:example.org``."""
    invite_from: tuple[str, ...] = ()
    """Who may invite the bot into a room: fnmatch patterns of user ids; empty: nobody."""
    state_file: str = ""
    """Deprecated: the JSON file an earlier version kept the memory in, to import it once;
    empty: ``matrix-<name>.json`` in the default state folder (see ``memory``)."""
    tls_ca_file: str = ""
    """Extra CA certificates (PEM) to trust, e.g. for a self-signed homeserver."""
    markdown: bool = True
    """Render replies as Markdown into ``formatted_body`` (the body stays plain text)."""
    max_lines_per_reply: int = 20
    """Lines per reply at most; longer replies end with a note of what was cut (0: no limit)."""
    reconnect_min_s: float = 1.0
    """First delay before logging in or syncing again after a failure (doubles, jittered)."""
    reconnect_max_s: float = 300.0
    """Longest delay between reconnect attempts or room join retries."""
    healthy_after_s: float = 60.0
    """A session that lasted this long was healthy: the next delay is the first again."""
    sync_timeout_s: float = 30.0
    """How long one sync request waits on the server for new events (long poll)."""
    request_timeout_s: float = 20.0
    """How long any request may take (a sync: ``sync_timeout_s`` plus 15 s) before the
    link counts as lost."""

    def __post_init__(self) -> None:
        """Check what the types cannot; a ValueError names the setting."""
        check_service_url("homeserver", self.homeserver, "https://matrix.example.org")
        if not USER_ID.fullmatch(self.user_id):
            raise ValueError(f"user_id: {self.user_id!r} is not a user id like @bot:example.org")
        if not (self.password or self.access_token):
            raise ValueError("password or access_token: one of them is needed to log in")
        for room in self.rooms:
            check_room(room)
        for pattern in self.invite_from:
            if not pattern.startswith(("@", "*")):
                raise ValueError(f"invite_from: {pattern!r} must match user ids (@user:server)")
        if self.max_lines_per_reply < 0:
            raise ValueError("max_lines_per_reply: must be 0 (no limit) or more")
        if self.sync_timeout_s <= 0 or self.request_timeout_s <= 0:
            raise ValueError("sync_timeout_s and request_timeout_s: must be more than 0")
        check_seconds(self)


def check_room(room: str) -> None:
    """A room alias ``#name:server`` or a room id ``!opaque`` (``!opaque:server``)."""
    alias = room.startswith("#") and re.fullmatch(r"#[^:\s/]+:[^\s/]+", room)
    room_id = room.startswith("!") and re.fullmatch(r"![^\s/]+", room)
    if not (alias or room_id):
        raise ValueError(f"rooms: {room!r} is neither an alias (#room:server) "
                         "nor an id (!id:server)")
