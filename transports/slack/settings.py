"""The settings of one ``[[transports]]`` table with ``type = "slack"``. Layer: transport.

Checked when built, at start (see docs/slack.md for every setting).
"""

from __future__ import annotations

from dataclasses import dataclass

from univac import check_seconds, check_service_url


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
        check_service_url("api_url", self.api_url, "https://slack.com/api/")
        if self.max_lines_per_reply < 0:
            raise ValueError("max_lines_per_reply: must be 0 (no limit) or more")
        if self.ping_interval_s <= 0:
            raise ValueError("ping_interval_s: must be more than 0")
        check_seconds(self)

