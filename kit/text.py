"""Make untrusted text (page titles, API fields, webhook payloads) one safe chat line;
check the line templates operators write.

Part of the plugin kit; pure functions, any thread.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence

__all__ = ["CONTROL", "one_line", "template_problem"]

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")
"""Control, zero-width, line-separator and bidirectional-override characters."""


def one_line(text: str, limit: int = 300) -> str:
    """Collapse whitespace, drop control characters, cut to ``limit`` with an ellipsis."""
    flat = " ".join(CONTROL.sub(" ", text).split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def template_problem(template: str, allowed: Sequence[str]) -> str:
    """Why ``template`` is not ``str.format`` with plain ``{field}``s from ``allowed`` (no
    attributes, indexes, conversions or format specs); empty when it is fine."""
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as error:
        return str(error)
    for _, field, spec, conversion in parts:
        if field is not None and (field not in allowed or spec or conversion):
            return f"{{{field}}} is not allowed; use plain fields: {', '.join(allowed)}"
    return ""
