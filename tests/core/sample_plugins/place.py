"""A plugin using ctx.shared, ctx.data_dir, ctx.mask, a report line and enabled_by."""

from dataclasses import dataclass

from univac import Context, command


@dataclass(frozen=True)
class Settings:
    compat: bool = False


class Service:
    def __init__(self, folder) -> None:
        self.journal = folder / "journal.txt"

    def add(self, text: str) -> int:
        with self.journal.open("a", encoding="utf-8") as out:
            out.write(text + "\n")
        return len(self.journal.read_text(encoding="utf-8").splitlines())


def setup(ctx: Context[Settings]) -> None:
    ctx.shared.service = Service(ctx.data_dir)


def report(ctx: Context[Settings]) -> str:
    return f"journal in {ctx.data_dir.name}/, compat {'on' if ctx.config.compat else 'off'}"


@command
def note(ctx: Context[Settings], *, text: str) -> str:
    """Keep a line in the plugin's journal."""
    return f"{ctx.shared.service.add(text)} line(s)"


@command
def token(ctx: Context[Settings], value: str) -> str:
    """Learn a secret at run time, then try to show it."""
    ctx.mask(value)
    return f"the token is {value}"


@command("list", enabled_by="compat")
def list_(ctx: Context[Settings]) -> str:
    """A generic name, taken only with compat on."""
    return "compat list"
