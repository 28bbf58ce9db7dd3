"""Chat targets written ``transport:target``. Layer: core; start-up and any thread.

``ctx.say("irc:#ops", text)`` names a transport (by its configured name) and a target
on it. A plugin setting that holds such targets says so with ``Target``::

    @dataclass(frozen=True)
    class Settings:
        targets: tuple[Target, ...] = ()
        routes: dict[str, tuple[Target, ...]] | None = None

``Target`` is ``str`` to the settings reader and to type checkers; ``problems`` then
finds every target value of a filled settings dataclass (alone, in a list, in a table's
values) and checks that it is written ``transport:target`` and that the transport is
configured, so ``univac check`` catches ``irk:#ops`` before a message is lost.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Collection, Iterator, Mapping
from typing import Annotated, Any

from univac.settings import did_you_mean


class _TargetMarker:
    """What ``Target`` carries in its annotation, so the reader can find it."""

    def __repr__(self) -> str:
        return "Target"


TARGET = _TargetMarker()
Target = Annotated[str, TARGET]
"""A setting that holds a chat target written ``transport:target`` (``"irc:#ops"``)."""


def split(target: str) -> tuple[str, str] | None:
    """``("irc", "#ops")`` for ``"irc:#ops"``; None when no transport name leads it.

    Transport names are identifiers, so ``#ops``, ``alice@example.org/x:y`` and
    ``[::1]`` are plain targets.
    """
    name, colon, rest = target.partition(":")
    return (name, rest) if colon and name.isidentifier() else None


def unknown_transport(name: str, transports: Collection[str]) -> str:
    """The reason given when ``name`` is not a configured transport."""
    return (f"no transport named '{name}'{did_you_mean(name, transports)} "
            f"(configured: {', '.join(sorted(transports)) or 'none'})")


def problems(settings: Any, transports: Collection[str]) -> list[tuple[str, str]]:
    """(field name, reason) for every bad ``Target`` value in a settings dataclass."""
    if not dataclasses.is_dataclass(settings) or isinstance(settings, type):
        return []
    hints = typing.get_type_hints(type(settings), include_extras=True)
    found = []
    for field in dataclasses.fields(settings):
        for where, target in _targets(getattr(settings, field.name), hints.get(field.name)):
            reason = _problem(target, transports)
            if reason:
                found.append((field.name, where + reason))
    return found


def _problem(target: str, transports: Collection[str]) -> str:
    parts = split(target)
    if parts is None or not parts[1]:
        example = f"{min(transports, default='irc')}:#ops"
        return f"{target!r} is not written transport:target, e.g. {example}"
    return "" if parts[0] in transports else f"{target!r}: " + unknown_transport(
        parts[0], transports)


def _targets(value: Any, hint: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """(where, target) for every value that the annotation ``hint`` marks as a Target."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Annotated:
        if TARGET in hint.__metadata__ and isinstance(value, str):
            yield where, value
        return
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            yield from _targets(value, arg, where)
    elif origin in (tuple, list) and isinstance(value, tuple | list) and args:
        for index, item in enumerate(value):
            yield from _targets(item, args[0], f"{where}item {index}: ")
    elif origin in (dict, Mapping) and isinstance(value, Mapping) and len(args) == 2:
        for key, item in value.items():
            yield from _targets(item, args[1], f"{where}{key!r}: ")
