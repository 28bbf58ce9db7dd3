"""A plugin exercising every part of the plugin API, for the core's tests."""

import re
import threading
from typing import Literal

from univac import Context, UserError, command, every, match

gate = threading.Event()


@command("add", aliases=("plus",))
def add(ctx: Context, a: int, b: int = 1) -> str:
    """Add two numbers.

    The second defaults to 1.
    """
    return str(a + b)


@command
def pick(ctx: Context, colour: Literal["red", "green"], loud: bool = False) -> str:
    """Pick a colour."""
    return colour.upper() if loud else colour


@command
def words(ctx: Context, *items: str) -> str:
    """Count words."""
    return str(len(items))


@command
def lines(ctx: Context, count: int):
    """Yield several lines."""
    for number in range(count):
        yield f"line {number}"


@command
def refuse(ctx: Context) -> str:
    """Always refuse."""
    raise UserError("No, not today.")


@command
def boom(ctx: Context) -> str:
    """Fail with a secret in the exception."""
    raise RuntimeError("hunter2-secret-token")


@command
def who(ctx: Context) -> str:
    """Say who asked, and where."""
    message = ctx.message
    return f"{message.sender} {message.identity} {ctx.transport} {message.private}"


@command
def count(ctx: Context) -> str:
    """Count calls in persistent state."""
    with ctx.state:
        ctx.state["n"] = ctx.state.get("n", 0) + 1
        return str(ctx.state["n"])


@command
def wait(ctx: Context) -> str:
    """Block until the test opens the gate."""
    gate.wait(10)
    return "done"


@command
def announce(ctx: Context, *, text: str) -> None:
    """Say something on the other transport."""
    ctx.say("other:#ops", text)


@match(r"ticket-(\d+)")
def ticket(ctx: Context, matches):
    for found in matches:
        yield f"Ticket {found.group(1)}"


@match(r"bug-(\d+)")
def bug(ctx: Context, found: re.Match[str]) -> str:
    """The form before matches were lists: the first match only."""
    return f"Bug {found.group(1)}"


@every(60)
def tick(ctx: Context) -> None:
    ctx.say("test:#ops", f"tick at {ctx.now():%Y-%m-%d}")
