"""Say where the bot runs: its host name and IP addresses."""

from univac import Context, command


@command("whereareyou", aliases=("where",))
def whereareyou(ctx: Context) -> str:
    """Tell the channel the bot's host name and addresses."""
    addresses = ", ".join(ctx.host.addresses) or "no address found"
    return f"I run on {ctx.host.name} ({addresses})"
