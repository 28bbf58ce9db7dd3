"""The kit's delivery memory: marks kept one key each, asked of the store itself."""

from __future__ import annotations

import threading
from typing import Any

from univac.kit.webhook import Deliveries


class DictState(dict):
    """A stand-in for ``ctx.state``: a mapping that can be entered like a transaction."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.RLock()

    def __enter__(self) -> Any:
        self.lock.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.lock.release()


def test_a_delivery_another_instance_handled_after_start_is_a_repeat() -> None:
    state = DictState()
    deliveries = Deliveries(state, size=10)
    state["handled:id:seen-elsewhere"] = 1  # written by the old leader, reloaded at takeover
    assert deliveries.claim(["id:seen-elsewhere"]) is False
    assert deliveries.claim(["id:new"]) is True
    deliveries.done(["id:new"])
    assert deliveries.claim(["id:new"]) is False


def test_the_oldest_marks_are_forgotten_past_the_bound() -> None:
    state = DictState()
    deliveries = Deliveries(state, size=2)
    for number in range(3):
        assert deliveries.claim([f"id:{number}"])
        deliveries.done([f"id:{number}"])
    assert sorted(state) == ["handled:id:1", "handled:id:2"]
    assert deliveries.claim(["id:0"]) is True
