"""The decorators plugins use: ``@command``, ``@match``, ``@every``, ``@webhook``. Layer: core.

Each decorator attaches one frozen spec to the function and returns the function
unchanged, so a test can call it directly. Nothing is registered at import time: the
plugin loader reads the spec when it inspects the module.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])
SPEC_ATTRIBUTE = "__univac_spec__"


@dataclass(frozen=True)
class CommandSpec:
    """A command: ``!name args`` or ``nick: name args``, or ``name args`` in private."""

    name: str
    aliases: tuple[str, ...] = ()
    requires: str = ""
    """The role a sender needs to run it (see ``[roles]``); empty: anyone."""


@dataclass(frozen=True)
class MatchSpec:
    """A passive matcher: the handler runs for every message the pattern is found in."""

    pattern: re.Pattern[str]


@dataclass(frozen=True)
class EverySpec:
    """A poller: the handler runs every ``seconds``, give or take ``jitter`` (a fraction)."""

    seconds: float
    jitter: float = 0.1


@dataclass(frozen=True)
class WebhookSpec:
    """A webhook: the handler answers HTTP requests to ``path`` (served by the http plugin)."""

    path: str
    methods: tuple[str, ...] = ("POST",)


Spec = CommandSpec | MatchSpec | EverySpec | WebhookSpec
WEBHOOK_PATH = re.compile(r"(/[A-Za-z0-9._~-]+)+")


def command(
    name: str | F | None = None, *, aliases: Iterable[str] = (), requires: str = ""
) -> Any:
    """Make a function a command; the name defaults to the function's name.

    Use it as ``@command``, ``@command("name")``, ``@command("name", aliases=["n"])``;
    ``requires="ops"`` limits it to senders holding that role.
    """
    if callable(name):
        return _attach(name, CommandSpec(_command_name(name.__name__)))
    if name is not None and (not name or any(c.isspace() for c in name)):
        raise ValueError(f"command name {name!r} must be one word")

    def decorate(func: F) -> F:
        spec = CommandSpec(name or _command_name(func.__name__), tuple(aliases), requires)
        return _attach(func, spec)

    return decorate


def match(pattern: str, flags: int = re.IGNORECASE) -> Callable[[F], F]:
    """Run the function for each message in which ``pattern`` is found (``re.search``)."""
    compiled = re.compile(pattern, flags)
    return lambda func: _attach(func, MatchSpec(compiled))


def every(seconds: float, *, jitter: float = 0.1) -> Callable[[F], F]:
    """Run the function as a poller every ``seconds`` (jitter is a fraction, 0 to 0.5)."""
    if seconds <= 0 or not 0 <= jitter <= 0.5:
        raise ValueError("every() needs seconds > 0 and 0 <= jitter <= 0.5")
    return lambda func: _attach(func, EverySpec(float(seconds), jitter))


def webhook(path: str, *, methods: Iterable[str] = ("POST",)) -> Callable[[F], F]:
    """Answer HTTP requests to ``path`` with ``handler(ctx, request) -> reply``.

    ``request`` is a ``WebhookRequest``; the reply is a ``WebhookResponse``, a string
    (200, text) or None (204). The http plugin serves it under its ``webhook_prefix``.
    """
    allowed = tuple(dict.fromkeys(m.upper() for m in methods))
    if not WEBHOOK_PATH.fullmatch(path) or not allowed or not all(m.isalpha() for m in allowed):
        raise ValueError(f"webhook path {path!r} must look like /name, with methods given")
    return lambda func: _attach(func, WebhookSpec(path, allowed))


def spec_of(func: Any) -> Spec | None:
    """Return the spec a decorator attached to ``func``, if any."""
    spec = getattr(func, SPEC_ATTRIBUTE, None)
    return spec if isinstance(spec, CommandSpec | MatchSpec | EverySpec | WebhookSpec) else None


def _command_name(function_name: str) -> str:
    return function_name.strip("_").replace("_", "-")


def _attach(func: F, spec: Spec) -> F:
    if spec_of(func) is not None:
        raise ValueError(f"{func.__name__} already has a Univac decorator")
    setattr(func, SPEC_ATTRIBUTE, spec)
    return func
