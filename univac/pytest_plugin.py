"""The ``univac_bot`` pytest fixture, installed through the ``pytest11`` entry point.

The one core module allowed to import pytest: pytest loads it, nothing else does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from univac.testing import Harness


@pytest.fixture
def univac_bot(tmp_path: Path) -> Iterator[Callable[..., Harness]]:
    """Make bots with ``univac_bot("plugin", ...)``; each is closed after the test."""
    made: list[Harness] = []

    def make(*plugins: Any, **options: Any) -> Harness:
        options.setdefault("state_dir", tmp_path / f"state{len(made)}")
        harness = Harness(*plugins, **options)
        made.append(harness)
        return harness

    yield make
    for harness in made:
        harness.close()
