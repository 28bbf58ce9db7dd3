"""Read one YAML file of the catalogue safely, keeping lines for messages. Pure; any thread.

PyYAML's safe loader (``CSafeLoader`` when built with libyaml, else ``SafeLoader``)
builds plain types only (no Python objects). The node tree is
kept for the line of each step, duplicate keys (which loaders accept silently, keeping
the last) are found in it, and anchors with aliases are refused: a catalogue has no
use for them, and they let a small file expand into a huge document.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

MAX_FILE_BYTES = 1_000_000
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""The safe loader, in C (libyaml) when PyYAML was built with it: the same plain types."""


@dataclass(frozen=True)
class Document:
    """A file's node tree (None when the file is empty) and its plain data."""

    node: yaml.Node | None
    data: Any


class BadFile(Exception):
    """The file cannot be read as one YAML document; ``line`` is 0 when unknown."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.reason = reason


def read(path: Path) -> Document:
    """The document in ``path``; BadFile says why not."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise BadFile(0, f"cannot read: {error.strerror or error}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise BadFile(0, f"larger than {MAX_FILE_BYTES} bytes")
    try:
        return parse(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadFile(0, "not UTF-8 text") from None


def parse(text: str) -> Document:
    """The document in ``text``; BadFile says why not."""
    loader = LOADER(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return Document(None, None)
        if _has_alias(node):
            raise BadFile(node.start_mark.line + 1,
                          "anchors and aliases (&name, *name) are not allowed")
        return Document(node, loader.construct_document(node))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        column = f", column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        raise BadFile(line, f"not valid YAML: {problem} (line {line}{column})") from None
    finally:
        loader.dispose()


def _has_alias(node: yaml.Node) -> bool:
    """True when a node is reached twice: an alias of an anchored node."""
    seen: set[int] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            return True
        seen.add(id(current))
        stack.extend(_children(current))
    return False


def duplicate_keys(node: yaml.Node) -> list[tuple[int, str]]:
    """(line, key) of each key given twice in a mapping under ``node``."""
    found = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, yaml.MappingNode):
            seen: set[str] = set()
            for key, _ in current.value:
                text = str(key.value)
                if text in seen:
                    found.append((key.start_mark.line + 1, text))
                seen.add(text)
        stack.extend(_children(current))
    return sorted(found)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []
