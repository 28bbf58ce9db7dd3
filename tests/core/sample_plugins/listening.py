"""A plugin that listens to another's events (for the plugin-event tests)."""

from univac import Context, UserError, on


@on("sample.step_ran")
def note(ctx: Context, event) -> None:
    if event["step"] == "refused":
        raise UserError("no such incident")
    if event["step"] == "broken":
        raise KeyError("a bug in the listener")
    ctx.state["seen"] = [*ctx.state.get("seen", []), dict(event)]
    ctx.say("test:#ops", f"timeline: step {event['step']} ran")
