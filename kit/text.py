"""Make untrusted text (page titles, API fields, webhook payloads) one safe chat line.

Part of the plugin kit; pure functions, any thread.
"""

from __future__ import annotations

import re

__all__ = ["CONTROL", "one_line"]

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")
"""Control, zero-width, line-separator and bidirectional-override characters."""


def one_line(text: str, limit: int = 300) -> str:
    """Collapse whitespace, drop control characters, cut to ``limit`` with an ellipsis."""
    flat = " ".join(CONTROL.sub(" ", text).split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"
