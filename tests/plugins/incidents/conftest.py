"""Fixtures of the incidents tests: a clock and a bot factory (see helpers.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.plugins.incidents.helpers import ROLES, Clock
from univac.testing import Harness


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def incidents_bot(univac_bot: Callable[..., Harness], tmp_path: Path,
                  clock: Clock) -> Callable[..., Harness]:
    """``incidents_bot(*other_plugins, **settings)``: a bot with the incidents plugin,
    writers ``sre``, readers ``oncall``, the JSON lines folder under ``tmp_path``."""

    def make(*extra: str, **settings: Any) -> Harness:
        table = {"writers": "sre", "readers": "oncall", "folder": str(tmp_path / "incidents")}
        return univac_bot("incidents", *extra, settings={"incidents": table | settings},
                          roles=ROLES, clock=clock)

    return make
