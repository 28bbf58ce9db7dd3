"""The supervisor: restarts with backoff, gives up on a crash loop, finishes cleanly."""

from __future__ import annotations

import threading

from univac.engine.supervisor import Supervisor
from univac.exitcodes import CRASH_LOOP, OK


def supervisor(stop: threading.Event, max_crashes: int = 3) -> Supervisor:
    return Supervisor(stop, max_crashes, 60.0, backoff_s=(0.01, 0.05), rng=lambda: 1.0)


def test_a_crashing_child_is_restarted_until_the_crash_budget_is_spent() -> None:
    runs = []

    def crash() -> None:
        runs.append(1)
        raise RuntimeError("boom")

    sup = supervisor(threading.Event(), max_crashes=3)
    sup.add("transport:bad", crash, essential=True)
    assert sup.run(tick_s=0.01) == CRASH_LOOP
    assert len(runs) == 4


def test_a_restarted_child_recovers() -> None:
    stop = threading.Event()
    attempts = []

    def flaky() -> None:
        attempts.append(1)
        if len(attempts) < 3:
            raise RuntimeError("not yet")
        stop.wait(10)

    sup = supervisor(stop)
    sup.add("poll:flaky", flaky)
    sup.on_tick(lambda: stop.set() if len(attempts) >= 3 else None)
    assert sup.run(tick_s=0.01) == OK
    assert len(attempts) == 3
    assert sup.join(2) == []


def test_when_every_transport_finishes_the_bot_stops_cleanly() -> None:
    stop = threading.Event()
    sup = supervisor(stop)
    sup.add("transport:console", lambda: None, essential=True)
    sup.add("poll:forever", lambda: stop.wait(10))
    assert sup.run(tick_s=0.01) == OK
    stop.set()
    assert sup.join(2) == []


def test_request_stop_ends_the_loop() -> None:
    stop = threading.Event()
    sup = supervisor(stop)
    sup.add("transport:idle", lambda: stop.wait(10), essential=True)
    threading.Timer(0.05, sup.request_stop).start()
    assert sup.run(tick_s=5.0) == OK
    assert sup.join(2) == []
