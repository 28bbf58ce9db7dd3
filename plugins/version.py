"""Tell which Univac version is running."""

from univac import Context, __version__, command


@command
def version(ctx: Context) -> str:
    """Show the Univac and Python versions."""
    import platform  # here, not at the top: a few ms at start for a rarely used command

    return f"Univac {__version__} on Python {platform.python_version()}"
