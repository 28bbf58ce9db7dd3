"""The bounded reactive pool: thread names, the bound, the queue, idle exit, slow jobs."""

from __future__ import annotations

import threading

from tests.waiting import wait_for
from univac.engine.reactive import ReactivePool


def test_jobs_run_on_named_reactive_threads() -> None:
    pool = ReactivePool(max_threads=2, queue_size=4)
    names: list[str] = []
    pool.submit("demo.handler", lambda: names.append(threading.current_thread().name))
    assert pool.wait_idle(5)
    assert names == ["react:demo.handler"]


def test_threads_never_exceed_the_bound_and_overflow_is_shed() -> None:
    pool = ReactivePool(max_threads=3, queue_size=2)
    gate = threading.Event()
    accepted = [pool.submit("p.h", lambda: gate.wait(10)) for _ in range(10)]
    assert accepted == [True] * 5 + [False] * 5
    assert pool.shed == 5
    assert wait_for(lambda: pool.load() == (3, 3, 2))
    gate.set()
    assert pool.wait_idle(5)
    assert pool.peak_threads == 3


def test_idle_threads_leave() -> None:
    pool = ReactivePool(max_threads=2, queue_size=0, idle_s=0.05)
    done = threading.Event()
    pool.submit("p.h", done.set)
    assert done.wait(5)
    assert wait_for(lambda: pool.load()[0] == 0)


def test_a_failing_job_does_not_kill_the_pool(caplog) -> None:
    pool = ReactivePool(max_threads=1, queue_size=2)
    ran = threading.Event()
    pool.submit("p.bad", lambda: 1 / 0)
    pool.submit("p.good", ran.set)
    assert ran.wait(5)
    assert "p.bad failed" in caplog.text


def test_close_drains_then_refuses() -> None:
    pool = ReactivePool(max_threads=1, queue_size=5)
    results: list[int] = []
    for number in range(3):
        pool.submit("p.h", lambda n=number: results.append(n))
    assert pool.close(5)
    assert sorted(results) == [0, 1, 2]
    assert pool.submit("p.h", lambda: None) is False


def test_slow_jobs_are_reported_once() -> None:
    pool = ReactivePool(max_threads=1, queue_size=0)
    gate = threading.Event()
    pool.submit("p.slow", lambda: gate.wait(10))
    assert wait_for(lambda: pool.load()[1] == 1)
    assert [job.label for job in pool.newly_slow(0.0)] == ["p.slow"]
    assert pool.newly_slow(0.0) == []
    gate.set()
    assert pool.wait_idle(5)
