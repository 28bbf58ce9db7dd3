"""A sample transport whose ``create`` takes two parameters, as before contexts (tests)."""

from __future__ import annotations

from dataclasses import dataclass

from univac import Deliver, TransportStatus


@dataclass(frozen=True)
class Settings:
    pass


def create(name: str, settings: Settings) -> Plain:
    return Plain(name)


class Plain:
    def __init__(self, name: str) -> None:
        self.name = name

    def run(self, deliver: Deliver) -> None:
        pass

    def send(self, target: str, text: str) -> None:
        pass

    def stop(self, goodbye: str = "") -> None:
        pass

    def status(self) -> TransportStatus:
        return TransportStatus("stopped")
