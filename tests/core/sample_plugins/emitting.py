"""A plugin that tells others what happened (for the plugin-event tests)."""

from univac import Context, command, on


@command
def ran(ctx: Context, step: str) -> str:
    """Emit ``sample.step_ran``; say how many listeners took it."""
    taken = ctx.emit("sample.step_ran", step=step, ok=True, tags=["a", "b"])
    return f"{taken} listener(s)"


@command
def loop(ctx: Context) -> str:
    """Start an event that comes back to this plugin forever."""
    return f"{ctx.emit('sample.loop', n=0)} listener(s)"


@on("sample.loop")
def again(ctx: Context, event) -> None:
    ctx.state["loops"] = event["n"] + 1
    ctx.emit("sample.loop", n=event["n"] + 1)
