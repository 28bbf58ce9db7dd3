"""A plugin that keeps metrics of its own (for the plugin-metrics tests)."""

from univac import Context, command


@command
def step(ctx: Context, action: str, result: str, seconds: float = 0.2) -> str:
    """Count a step, time it, and set the quota gauge."""
    ctx.count("runbook_steps_executed", service="web", action=action, result=result)
    ctx.observe("runbook_step_duration_seconds", seconds, action=action)
    ctx.gauge("quota_left", 42)
    return "counted"


@command
def bad(ctx: Context) -> str:
    """Use a counter's name with other labels."""
    ctx.count("runbook_steps_executed", colour="red")
    return "not reached"
