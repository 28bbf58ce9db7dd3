"""What the plugin's handlers share while it runs. Any thread.

``setup`` makes one ``Runtime`` and keeps it in ``ctx.shared``: the settings, the
catalogue as last read (read again when a file changed), the folder of artifacts,
run locks and working folders, and what is under way (activity.py). Its ``status``
is the plugin's line in ``!status`` and ``/healthz``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from .activity import Activity
from .catalogue import Catalogue, Loaded
from .settings import Settings

log = logging.getLogger("univac.plugin.runbooks")


@dataclass(frozen=True)
class Runtime:
    """What the plugin's handlers share (``setup`` keeps it in ``ctx.shared``): the
    settings, the catalogue as last read, the artifacts folder, the runs under way."""

    settings: Settings
    loaded: Loaded
    folder: Path
    """Artifacts (``runs/``), run locks (``locks/``) and working folders (``work/``):
    ``artifacts_dir``, or the plugin's data folder."""
    activity: Activity = field(default_factory=Activity)

    def status(self) -> str:
        """The plugin's line in ``!status`` and ``/healthz``: the catalogue loaded, the
        runs under way, the locks held (from memory; quick)."""
        catalogue = self.loaded.last
        revision = catalogue.commit or "(not a git checkout)"
        errors = sum(1 for p in catalogue.problems if p.level == "error")
        problems = f", {errors} problem(s)" if errors else ""
        runs, held = self.activity.runs(), self.activity.held()
        return (f"catalogue {revision}: {len(catalogue.steps)} step(s){problems}; "
                f"{len(runs)} run(s) in progress{_listed(runs)}; "
                f"{len(held)} lock(s) held{_listed(held)}")

    def catalogue(self) -> Catalogue:
        """The catalogue, read again if a file changed (its problems then logged)."""
        catalogue, reread = self.loaded.current()
        if reread:
            for problem in catalogue.problems:
                log.warning("runbooks: %s", problem)
        return catalogue


def _listed(names: list[str]) -> str:
    return f" ({', '.join(names)})" if names else ""
