"""Pure helpers of the Matrix transport: the reply cut. Layer: transport.

Nothing here touches matrix-nio or a socket; the session and the sender, on the
transport's own thread, are the callers.
"""

from __future__ import annotations


def cut_lines(text: str, max_lines: int) -> str:
    """Cut ``text`` to ``max_lines`` lines (0: no limit), the last saying what was cut."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n").split("\n")
    if max_lines <= 0 or len(lines) <= max_lines:
        return "\n".join(lines)
    kept = lines[: max(max_lines - 1, 1)]
    return "\n".join([*kept, f"[… {len(lines) - len(kept)} more lines not shown]"])
