"""The ``[bot]`` table: the core's own settings. Layer: core; start-up.

Range checks report every problem under its own key (``bot.user_rate``) through
``SettingsError``; ``RENAMED`` keeps old names working with a warning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from univac.errors import SettingsError

CORE_PLUGINS = ("help", "echo", "version", "status", "whereareyou")


@dataclass(frozen=True)
class BotSettings:
    """The ``[bot]`` table: how the core behaves."""

    RENAMED: ClassVar[dict[str, str]] = {"audit_log": "audit_file"}

    prefix: str = "!"
    plugins: tuple[str, ...] = CORE_PLUGINS
    plugin_dirs: tuple[str, ...] = ()
    state_dir: str = ""
    max_reactive: int = 16
    queue_size: int = 256
    slow_handler_s: float = 10.0
    user_rate: float = 1.0
    user_burst: int = 5
    rate_exempt: tuple[str, ...] = ("console:*",)
    channel_rate: float = 2.0
    channel_burst: int = 10
    audit_file: str = "audit.jsonl"
    audit_max_bytes: int = 10_000_000
    audit_keep: int = 5
    shutdown_timeout_s: float = 5.0
    goodbye: str = "Univac signing off."
    max_crashes: int = 5
    crash_window_s: float = 300.0
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    def __post_init__(self) -> None:
        problems = _at_least(self, max_reactive=1, max_crashes=1, queue_size=0, user_burst=1,
                            user_rate=0, slow_handler_s=0, shutdown_timeout_s=0,
                            channel_rate=0, channel_burst=1, audit_keep=1, audit_max_bytes=1,
                            crash_window_s=0)
        if not self.prefix or any(c.isspace() for c in self.prefix):
            problems["prefix"] = "must be non-empty and contain no spaces"
        if problems:
            raise SettingsError(problems)


def _at_least(settings: object, **lows: float) -> dict[str, str]:
    """``{name: "must be at least N"}`` for every named setting below its minimum."""
    return {name: f"must be at least {low}" for name, low in lows.items()
            if getattr(settings, name) < low}
