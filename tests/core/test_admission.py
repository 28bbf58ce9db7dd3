"""Admission to the reactive pool, property-based: the bound, nothing lost, every shed counted.

A state machine plays the worker threads against ``Admission`` (no real threads): jobs
are submitted, idle threads take them, running ones finish and take the next, idle
ones time out. Then the real pool runs random bursts on real threads.
"""

from __future__ import annotations

import threading
from collections import deque

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from univac.engine.admission import Admission, Verdict
from univac.engine.reactive import ReactivePool


class PoolModel(RuleBasedStateMachine):
    """Threads as the worker loop drives them; ``Admission`` decides."""

    @initialize(max_threads=st.integers(1, 4), queue_size=st.integers(0, 4))
    def start(self, max_threads: int, queue_size: int) -> None:
        self.admission = Admission(max_threads, queue_size)
        self.queued: deque[int] = deque()
        self.idle = 0  # threads blocked waiting for a job
        self.running: list[int] = []
        self.submitted = self.accepted = self.shed = self.done = 0

    @rule()
    def submit(self) -> None:
        waiting = len(self.queued)
        verdict = self.admission.admit()
        self.submitted += 1
        if verdict is Verdict.SHED:
            self.shed += 1
            assert waiting >= self.admission.queue_size, "shed below the queue bound"
            return
        assert verdict is not Verdict.CLOSED
        self.accepted += 1
        self.queued.append(self.submitted)
        if verdict is Verdict.START:
            self.idle += 1

    @precondition(lambda self: self.idle and self.queued)
    @rule()
    def an_idle_thread_takes_a_job(self) -> None:
        self.admission.took()
        self.idle -= 1
        self.running.append(self.queued.popleft())

    @precondition(lambda self: self.running)
    @rule(which=st.integers(0, 10))
    def a_job_finishes(self, which: int) -> None:
        self.running.pop(which % len(self.running))
        self.done += 1
        took = bool(self.queued) and self.admission.may_take_next()
        leaves = self.admission.finished(took)
        if took:
            self.running.append(self.queued.popleft())
        elif not leaves:
            self.idle += 1

    @precondition(lambda self: self.idle and not self.queued)
    @rule()
    def an_idle_thread_times_out(self) -> None:
        if self.admission.idle_too_long():
            self.idle -= 1

    @invariant()
    def never_more_running_than_the_bound(self) -> None:
        assert len(self.running) <= self.admission.max_threads
        assert self.admission.threads == self.idle + len(self.running)
        assert self.admission.peak_threads <= self.admission.max_threads

    @invariant()
    def every_job_is_accounted_for(self) -> None:
        assert self.submitted == self.accepted + self.shed
        assert self.admission.shed == self.shed
        assert self.accepted == self.done + len(self.running) + len(self.queued)
        assert self.admission.outstanding == len(self.running) + len(self.queued)

    @invariant()
    def a_queued_job_always_has_a_thread_to_take_it(self) -> None:
        assert not self.queued or self.idle or self.running


TestAdmission = PoolModel.TestCase
TestAdmission.settings = settings(max_examples=200, stateful_step_count=60, deadline=None)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(max_threads=st.integers(1, 4), queue_size=st.integers(0, 6), jobs=st.integers(1, 30))
def test_the_real_pool_keeps_its_bound_loses_nothing_and_counts_every_shed(
    max_threads: int, queue_size: int, jobs: int
) -> None:
    pool = ReactivePool(max_threads, queue_size, idle_s=0.05)
    gate = threading.Event()
    lock = threading.Lock()
    running, peak, ran = [0], [0], []

    def job(number: int) -> None:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        gate.wait(10)
        with lock:
            running[0] -= 1
            ran.append(number)

    accepted = [n for n in range(jobs) if pool.submit("p.h", lambda n=n: job(n))]
    gate.set()
    assert pool.wait_idle(10)
    assert len(accepted) >= min(jobs, max_threads + queue_size)  # nothing lost below the bound
    assert sorted(ran) == accepted
    assert pool.shed == jobs - len(accepted)
    assert peak[0] <= max_threads
    assert pool.close(5)
