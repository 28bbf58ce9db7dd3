"""Repeat what you say: the smallest useful plugin, used by checks and benchmarks."""

from univac import Context, command


@command
def echo(ctx: Context, *, text: str) -> str:
    """Repeat the text back."""
    return text
