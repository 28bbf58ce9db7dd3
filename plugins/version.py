"""Tell which Univac version is running."""

import platform

from univac import Context, __version__, command


@command
def version(ctx: Context) -> str:
    """Show the Univac and Python versions."""
    return f"Univac {__version__} on Python {platform.python_version()}"
