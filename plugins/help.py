"""List the commands, or show how to use one."""

from univac import Context, UserError, command


@command("help", aliases=("commands",))
def help_(ctx: Context, name: str = "") -> str:
    """List the commands, or show the usage of one: help [command]."""
    prefix = ctx.bot.prefix
    commands = ctx.bot.commands(ctx.message)
    if not name:
        return f"Commands: {', '.join(c.name for c in commands)}. Details: {prefix}help <command>"
    wanted = name.removeprefix(prefix).casefold()
    for info in commands:
        if wanted in (info.name.casefold(), *(a.casefold() for a in info.aliases)):
            aliases = f" (also: {', '.join(info.aliases)})" if info.aliases else ""
            return f"{prefix}{info.usage} - {info.summary}{aliases}"
    raise UserError(f"No command '{wanted}'. {prefix}help lists them.")
