"""The settings of one ``[[transports]]`` table with ``type = "slack"``. Layer: transport.

Checked when built, at start (see docs/slack.md for every setting).
"""

from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Settings:
    """Settings of one ``[[transports]]`` table with ``type = "slack"``."""

    app_token: str
    """The app-level token (``xapp-...``, scope ``connections:write``) for Socket Mode;
    better given as ``app_token_file`` or ``app_token_env``."""
    bot_token: str
    """The bot token (``xoxb-...``) for the Web API; better as ``bot_token_file`` or
    ``bot_token_env``."""
    api_url: str = "https://slack.com/api/"
    """Base URL of the Web API (another one only for a test double on this machine)."""
    max_lines_per_reply: int = 20
    """Lines per reply at most; longer replies end with a note of what was cut (0: no limit)."""
    reconnect_min_s: float = 1.0
    """First delay before connecting again after a failed attempt (doubles, jittered)."""
    reconnect_max_s: float = 300.0
    """Longest delay between connection attempts."""
    healthy_after_s: float = 60.0
    """A connection that lasted this long was healthy: the next delay is the first again."""
    ping_interval_s: float = 5.0
    """Seconds between websocket pings; four unanswered intervals count as a lost link."""
    name_cache_s: float = 3600.0
    """How long a user's name (from ``users.info``, for ``sender``) is remembered."""

    def __post_init__(self) -> None:
        """Check what the types cannot; a ValueError names the setting."""
        if not self.app_token.startswith("xapp-"):
            raise ValueError("app_token: an app-level token starts with xapp-")
        if not self.bot_token.startswith("xoxb-"):
            raise ValueError("bot_token: a bot token starts with xoxb-")
        check_api_url(self.api_url)
        if self.max_lines_per_reply < 0:
            raise ValueError("max_lines_per_reply: must be 0 (no limit) or more")
        if self.ping_interval_s <= 0:
            raise ValueError("ping_interval_s: must be more than 0")
        for field in dataclasses.fields(self):
            if field.name.endswith("_s") and getattr(self, field.name) < 0:
                raise ValueError(f"{field.name}: must be 0 or more seconds")


def check_api_url(url: str) -> None:
    """An https URL, or http to a loopback address."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"api_url: {url!r} is not a URL like https://slack.com/api/")
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise ValueError(f"api_url: plain http is allowed on loopback only, not {url!r}")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
