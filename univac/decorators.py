"""The decorators plugins use: ``@command``, ``@match``, ``@every``, ``@webhook``, ``@on``.
Layer: core.

Each decorator attaches one frozen spec to the function and returns the function
unchanged, so a test can call it directly. Nothing is registered at import time: the
plugin loader reads the spec when it inspects the module.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from univac.schedules import Schedule, schedule_of

F = TypeVar("F", bound=Callable[..., Any])
SPEC_ATTRIBUTE = "__univac_spec__"


@dataclass(frozen=True)
class CommandSpec:
    """A command: ``!name args`` or ``nick: name args``, or ``name args`` in private."""

    name: str
    aliases: tuple[str, ...] = ()
    requires: str = ""
    """The role a sender needs to run it (see ``[roles]``); empty: anyone."""
    enabled_by: str = ""
    """A boolean setting of the plugin; the command exists only while it is true."""


@dataclass(frozen=True)
class MatchSpec:
    """A passive matcher: the handler runs for every message the pattern is found in,
    with every match."""

    pattern: re.Pattern[str]


@dataclass(frozen=True)
class EverySpec:
    """A poller: when it runs (a schedule, or the name of a setting that holds one).

    ``jitter`` (a fraction) spreads interval pollers; calendars run on time.
    """

    schedule: Schedule | None
    setting: str = ""
    jitter: float = 0.1


@dataclass(frozen=True)
class WebhookSpec:
    """A webhook: the handler answers HTTP requests to ``path`` (served by the http plugin)."""

    path: str
    methods: tuple[str, ...] = ("POST",)
    own_auth: bool = False
    """The handler decides who may call it: the http plugin asks for no signature or token."""


@dataclass(frozen=True)
class OnSpec:
    """A listener: the handler runs for each plugin event of ``topic`` (``ctx.emit``)."""

    topic: str


Spec = CommandSpec | MatchSpec | EverySpec | WebhookSpec | OnSpec
WEBHOOK_PATH = re.compile(r"(/[A-Za-z0-9._~-]+)+(/\*)?")
TOPIC = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")


def command(
    name: str | F | None = None, *, aliases: Iterable[str] = (), requires: str = "",
    enabled_by: str = "",
) -> Any:
    """Make a function a command; the name defaults to the function's name.

    Use it as ``@command``, ``@command("name")``, ``@command("name", aliases=["n"])``;
    ``requires="ops"`` limits it to senders holding that role; ``enabled_by="compat"``
    makes it exist only when the plugin's boolean setting ``compat`` is true (its names
    are then free for other plugins when it is off).
    """
    if callable(name):
        return _attach(name, CommandSpec(_command_name(name.__name__)))
    if name is not None and (not name or any(c.isspace() for c in name)):
        raise ValueError(f"command name {name!r} must be one word")

    def decorate(func: F) -> F:
        spec = CommandSpec(name or _command_name(func.__name__), tuple(aliases), requires,
                           enabled_by)
        return _attach(func, spec)

    return decorate


def match(pattern: str, flags: int = re.IGNORECASE) -> Callable[[F], F]:
    """Run ``handler(ctx, matches)`` for each message in which ``pattern`` is found.

    ``matches`` is every match in the message, in order (``re.finditer``), never empty.
    A handler whose second parameter is annotated ``re.Match`` gets the first one only,
    as before matches were lists.
    """
    compiled = re.compile(pattern, flags)
    return lambda func: _attach(func, MatchSpec(compiled))


def every(
    when: float | str | Schedule | None = None, *, setting: str = "", jitter: float = 0.1
) -> Callable[[F], F]:
    """Run the function as a poller: ``handler(ctx)``, returning None, Skip or RetryAfter.

    ``@every(300)``: every 300 s, give or take ``jitter`` (a fraction, 0 to 0.5).
    ``@every("mon 08:00 UTC")``: a calendar (see ``univac.schedules``); any object with
    ``next_after(datetime)`` works too. ``@every(setting="interval_s")``: read it from
    the plugin's settings when the plugin is enabled (seconds, a calendar or a Schedule).
    """
    if not 0 <= jitter <= 0.5:
        raise ValueError("every() needs 0 <= jitter <= 0.5")
    if (when is None) == (not setting):
        raise ValueError("every() needs either a schedule or setting='name'")
    try:
        schedule = None if when is None else schedule_of(when)
    except (TypeError, ValueError) as error:
        hint = f"; to read a setting, write every(setting={when!r})" if isinstance(when, str) \
            and when.isidentifier() else ""
        raise ValueError(f"every({when!r}): {error}{hint}") from None
    return lambda func: _attach(func, EverySpec(schedule, setting, jitter))


def webhook(path: str, *, methods: Iterable[str] = ("POST",), own_auth: bool = False
            ) -> Callable[[F], F]:
    """Answer HTTP requests to ``path`` with ``handler(ctx, request) -> reply``.

    ``request`` is a ``WebhookRequest``; the reply is a ``WebhookResponse``, a string
    (200, text) or None (204). The http plugin serves it under its ``webhook_prefix``.
    A path ending in ``/*`` answers every path below it (``/incidents/*``:
    ``/incidents/inc_1``, ``/incidents/a/b``; not ``/incidents`` itself), and
    ``request.path`` says which; an exact path wins, then the longest ``/*`` path.
    ``own_auth=True``: the handler checks who calls it itself (a page behind a login),
    so the http plugin does not ask for its webhook signature or token.
    """
    allowed = tuple(dict.fromkeys(m.upper() for m in methods))
    if not WEBHOOK_PATH.fullmatch(path) or not allowed or not all(m.isalpha() for m in allowed):
        raise ValueError(f"webhook path {path!r} must look like /name or /name/*, "
                         "with methods given")
    return lambda func: _attach(func, WebhookSpec(path, allowed, own_auth))


def on(topic: str) -> Callable[[F], F]:
    """Run ``handler(ctx, event)`` for each plugin event of ``topic`` another handler
    sends with ``ctx.emit(topic, **fields)``; ``event`` is a read-only mapping of those
    fields. A topic is dotted lower-case words, the first naming the plugin that
    defines it: ``incidents.timeline``.
    """
    if not TOPIC.fullmatch(topic):
        raise ValueError(f"event topic {topic!r} must look like plugin.what (lower case, dotted)")
    return lambda func: _attach(func, OnSpec(topic))


def spec_of(func: Any) -> Spec | None:
    """Return the spec a decorator attached to ``func``, if any."""
    spec = getattr(func, SPEC_ATTRIBUTE, None)
    kinds = CommandSpec | MatchSpec | EverySpec | WebhookSpec | OnSpec
    return spec if isinstance(spec, kinds) else None


def _command_name(function_name: str) -> str:
    return function_name.strip("_").replace("_", "-")


def _attach(func: F, spec: Spec) -> F:
    if spec_of(func) is not None:
        raise ValueError(f"{func.__name__} already has a Univac decorator")
    setattr(func, SPEC_ATTRIBUTE, spec)
    return func
