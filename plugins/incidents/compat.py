"""Corto's command names, for people who typed them for years. Reactive threads.

With ``corto_compat = true`` the bot answers Corto's lines, addressed by name as Corto
was (``univac: list``) or in a private message, by running the matching ``incident``
subcommand:

=============================  =====================================
Corto                          Univac
=============================  =====================================
``create <title>``             ``incident create <title>``
``list``                       ``incident list``
``log <id> <text>``            ``incident log <id> <text>``
``note -p <text>``             ``incident note <text>``
``notes -p``                   ``incident notes prior``
``resolve <id>``               ``incident resolve <id>``
``set-coordinator <id> <u>``   ``incident coordinator <id> <u>``
``version``, ``help``          the core's ``version`` and ``help``
=============================  =====================================

The names are one Univac command, ``create``, with the others as its aliases, that
exists only while ``corto_compat`` is on (``enabled_by``): with it off the names are
free for other plugins and answer as unknown commands do. The handler reads which
name was typed. A bare ``!list`` in a channel is left alone (another bot may own it).
``version`` and ``help`` are not taken: the core plugins of those names answer.
"""

from __future__ import annotations

from typing import Any

from univac import Context

from .commands import Form

NAMES = {"create": "create", "list": "list", "log": "log", "note": "note", "notes": "notes",
         "resolve": "resolve", "set-coordinator": "coordinator"}
FIRST, *_others = NAMES
OTHERS = tuple(_others)
"""The command's name and its aliases."""
USAGES = {"create": "create <title>", "list": "list", "log": "log <id> <text>",
          "note": "note -p <text>", "notes": "notes -p", "resolve": "resolve <id>",
          "coordinator": "set-coordinator <id> <user>"}


def typed(ctx: Context[Any]) -> tuple[str, str, bool]:
    """The command name the user typed, the rest, and whether the bot was addressed
    (by name or in private) rather than reached by a bare ``!name`` in a channel."""
    message = ctx.message
    assert message is not None
    text, nick = message.text.strip(), message.bot_nick
    addressed = bool(nick) and text[:len(nick)].casefold() == nick.casefold() and \
        text[len(nick):len(nick) + 1] in (":", ",")
    if addressed:
        text = text[len(nick) + 1:].strip()
    text = text.removeprefix(ctx.bot.prefix)
    name, _, rest = text.partition(" ")
    return name.casefold(), rest.strip(), addressed or message.private


def line_of(name: str, rest: str) -> str:
    """The ``incident`` subcommand line for Corto's ``name rest``."""
    sub = NAMES[name]
    if name == "note":
        rest = rest.removeprefix("-p").strip() if rest.startswith("-p ") or rest == "-p" \
            else rest
    elif name == "notes":
        rest = "prior" if rest == "-p" else rest
    return f"{sub} {rest}".strip()


def form(ctx: Context[Any]) -> Form:
    """Usage lines in Corto's spelling: ``univac: log <id> <text>``."""
    nick = ctx.message.bot_nick if ctx.message else ""
    return Form(f"{nick or 'univac'}: ", USAGES)


def mapping() -> str:
    """What ``corto`` itself answers: the names and what they run."""
    pairs = ", ".join(f"{name} -> incident {sub}" for name, sub in NAMES.items())
    return f"Corto's names: {pairs}; version and help are the core's."
