"""Where the bot keeps its state. Layer: core; any thread (read at start).

One rule, used by the running bot (``engine/bot.py``) and by plugins' command-line
tools (``univac.state_folder``, ``plugincli.py``): ``[bot] state_dir`` (relative to the
configuration file's folder), else systemd's ``$STATE_DIRECTORY`` (its first entry),
else ``$XDG_STATE_HOME/univac``, else ``~/.local/state/univac``. Each plugin's data
folder (``ctx.data_dir``) is ``<state folder>/<plugin>``.
"""

from __future__ import annotations

import os
from pathlib import Path


def state_folder_of(configured: str, base_dir: Path) -> Path:
    """The state folder for a ``state_dir`` setting read from a file in ``base_dir``."""
    if configured:
        return base_dir / Path(configured).expanduser()
    if os.environ.get("STATE_DIRECTORY"):
        return Path(os.environ["STATE_DIRECTORY"].split(":")[0])
    xdg = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(xdg) / "univac"
