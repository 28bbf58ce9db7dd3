"""Text helpers shared by plugins: make untrusted text safe to post as one chat line."""

from __future__ import annotations

import re

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")


def one_line(text: str, limit: int = 300) -> str:
    """Collapse whitespace, drop control characters, cut to ``limit`` with an ellipsis."""
    flat = " ".join(CONTROL.sub(" ", text).split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"
