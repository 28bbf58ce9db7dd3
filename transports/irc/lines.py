"""IRC wire lines: framing, lenient decoding, parsing, safe building and splitting.

Layer: transport (IRC adapter). Pure functions and one small framer class; the
transport's I/O thread runs all of it. Parsing reuses jaraco/irc's message pattern,
tag and argument parsers, but never lets them raise past ``parse``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from irc.message import Arguments, Tag

# jaraco/irc's message pattern (irc.client._cmd_pat); copied so that importing the
# transport does not pull in irc.client's event tables and scheduler (~70 ms, ~5 MB).
_rfc_1459_command_regexp = re.compile(
    "^(@(?P<tags>[^ ]*) )?(:(?P<prefix>[^ ]+) +)?(?P<command>[^ ]+)( *(?P<argument> .+))?"
)

_TERMINATORS = re.compile(rb"\r\n|\r|\n")
_NEWLINES = re.compile(r"\r\n|\r|\n")
_UNSAFE = re.compile(r"[\r\n\0]")


class FramingError(Exception):
    """The read buffer outgrew its cap without a line ending (the link is bad)."""


class LineFramer:
    """Cut a byte stream into lines; CRLF, LF and bare CR all end a line."""

    def __init__(self, max_line: int, max_buffer: int) -> None:
        self.max_line = max_line
        self.max_buffer = max(max_buffer, max_line)
        self.buffer = b""
        self.dropped = 0

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data``; return the complete, non-empty lines within the length cap."""
        parts = _TERMINATORS.split(self.buffer + data)
        self.buffer = parts.pop()
        if len(self.buffer) > self.max_buffer:
            self.buffer = b""
            raise FramingError(f"no line ending in {self.max_buffer} bytes")
        lines = []
        for part in parts:
            if len(part) > self.max_line:
                self.dropped += 1
            elif part:
                lines.append(part)
        return lines


def decode(raw: bytes, fallback: str = "cp1252") -> str:
    """UTF-8 first, then ``fallback`` for this line only, then latin-1 (never fails)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode(fallback)
    except (UnicodeDecodeError, LookupError):
        return raw.decode("latin-1")


@dataclass(slots=True)
class Line:
    """One parsed inbound line; ``params`` includes the trailing parameter."""

    command: str
    params: list[str]
    source: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    nick: str = field(init=False)
    """The sender's nick (or server name) from the source prefix."""

    def __post_init__(self) -> None:
        self.nick = self.source.split("!", 1)[0]

    def arg(self, index: int, default: str = "") -> str:
        """Parameter ``index`` or ``default`` when the server left it out."""
        if -len(self.params) <= index < len(self.params):
            return self.params[index]
        return default


def parse(text: str) -> Line | None:
    """Parse one line; ``None`` when it is not an IRC message at all."""
    match = _rfc_1459_command_regexp.match(text.lstrip(" "))
    if match is None:
        return None
    raw_tags, prefix, command, argument = match.group("tags", "prefix", "command", "argument")
    if not command or command[0] in ":@":
        return None
    tags = {}
    if raw_tags:
        for tag in Tag.from_group(raw_tags):
            tags[tag["key"]] = tag["value"] or ""
    return Line(command.upper(), Arguments.from_group(argument), prefix or "", tags)


def clean(text: str) -> str:
    """Remove CR, LF and NUL: nothing inside a parameter may end the line."""
    return _UNSAFE.sub("", text)


def build(command: str, *middle: str, trailing: str | None = None) -> str:
    """Build a line; middle parameters lose spaces and line breaks, so no injection."""
    parts = [clean(command)]
    parts.extend(clean(p).replace(" ", "") or "*" for p in middle)
    if trailing is not None:
        parts.append(":" + clean(trailing))
    return " ".join(parts)


def split_text(text: str, budget: int) -> list[str]:
    """Split on newlines, then into chunks of at most ``budget`` UTF-8 bytes each."""
    if len(text) * 4 <= budget and _UNSAFE.search(text) is None:  # one line that fits
        return [text] if text.strip() else []
    chunks: list[str] = []
    for line in _NEWLINES.split(text.replace("\0", "")):
        if line.strip():
            chunks.extend(_split_bytes(line, max(budget, 16)))
    return chunks


def _split_bytes(line: str, budget: int) -> list[str]:
    data = line.encode("utf-8")
    out = []
    while len(data) > budget:
        cut = _cut_point(data, budget)
        out.append(data[:cut].decode("utf-8"))
        data = data[cut:].lstrip(b" ")
    if data:
        out.append(data.decode("utf-8"))
    return out


def _cut_point(data: bytes, budget: int) -> int:
    """The last space in the second half of the budget, else a character boundary."""
    space = data.rfind(b" ", budget // 2, budget + 1)
    if space > 0:
        return space
    cut = budget
    while cut > 0 and data[cut] & 0xC0 == 0x80:
        cut -= 1
    return cut


def text_budget(command: str, target: str, mask: str) -> int:
    """Bytes left for text in ``command target :text`` once the server adds ``:mask ``."""
    overhead = len(f":{mask} {command} {target} :\r\n".encode())
    return 512 - overhead
