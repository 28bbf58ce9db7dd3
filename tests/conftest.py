"""Shared test set-up: server fixture modules under tests/integration/*_servers.py."""

from pathlib import Path

pytest_plugins = sorted(
    f"tests.integration.{path.stem}"
    for path in (Path(__file__).parent / "integration").glob("*_servers.py")
)
