"""Reply text to Matrix event contents. Layer: transport; pure, any thread.

Every reply is an ``m.notice`` (bots ignore notices, so two bots never answer each
other). Its ``body`` is the text; with ``markdown`` on, the text is also rendered
(CommonMark through markdown-it-py, raw HTML escaped, images off, single newlines kept
as ``<br />``) into ``formatted_body`` when that differs from the plain text. A target
``<room>/<thread root>`` puts the notice in that thread. Text longer than one event
may carry (the server refuses events over 65,536 bytes) is split into several notices
at line ends, each content at most ``MAX_CONTENT_BYTES`` of JSON.
"""

from __future__ import annotations

import html
import json
from typing import Any

from markdown_it import MarkdownIt

from .inbound import THREAD_SEPARATOR
from .support import cut_lines

MAX_CONTENT_BYTES = 30_000
"""JSON bytes of one event's content: half the server's limit for a whole event, which
also carries the sender, room, signatures and hashes."""

_MARKDOWN = MarkdownIt("commonmark", {"breaks": True, "html": False}).disable("image")


def split_target(target: str) -> tuple[str, str]:
    """``(room, thread root)`` of a target; the root is ``""`` outside threads."""
    room, _, root = target.partition(THREAD_SEPARATOR)
    return room, root


def contents(text: str, thread_root: str = "", markdown: bool = True,
             max_lines: int = 0) -> list[dict[str, Any]]:
    """The contents of the notices that carry ``text`` (none for blank text)."""
    text = cut_lines(text, max_lines)
    if not text.strip():
        return []
    return [content(piece, thread_root, markdown) for piece in pieces(text, markdown)]


def content(text: str, thread_root: str = "", markdown: bool = True) -> dict[str, Any]:
    """One ``m.notice`` content for ``text``."""
    body: dict[str, Any] = {"msgtype": "m.notice", "body": text}
    rendered = render(text) if markdown else ""
    if rendered:
        body["format"] = "org.matrix.custom.html"
        body["formatted_body"] = rendered
    if thread_root:
        body["m.relates_to"] = {"rel_type": "m.thread", "event_id": thread_root,
                                "is_falling_back": True,
                                "m.in_reply_to": {"event_id": thread_root}}
    return body


def render(text: str) -> str:
    """The HTML of ``text`` as Markdown, or ``""`` when it says nothing the body does not."""
    rendered = _MARKDOWN.render(text).strip()
    plain = html.escape(text, quote=True).replace("&#x27;", "'").replace("\n", "<br />\n")
    if rendered == f"<p>{plain}</p>":
        return ""
    if rendered.startswith("<p>") and rendered.endswith("</p>") and rendered.count("<p>") == 1:
        rendered = rendered[3:-4]
    return rendered


def size(text: str, markdown: bool) -> int:
    return len(json.dumps(content(text, "$" + "x" * 60, markdown)).encode())


def pieces(text: str, markdown: bool) -> list[str]:
    """``text`` in parts whose contents fit ``MAX_CONTENT_BYTES``, split at line ends
    (inside a line only when one line alone is too long)."""
    if size(text, markdown) <= MAX_CONTENT_BYTES:
        return [text]
    lines = text.split("\n")
    if len(lines) == 1:
        middle = len(text) // 2
        return pieces(text[:middle], markdown) + pieces(text[middle:], markdown)
    middle = len(lines) // 2
    return (pieces("\n".join(lines[:middle]), markdown)
            + pieces("\n".join(lines[middle:]), markdown))
