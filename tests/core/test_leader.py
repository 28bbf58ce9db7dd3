"""The leader role machine against a fake lease: standby, taking over, leader, stepping
down, and the shutdown's release. The clock is a fake one the test moves; the lease
calls still cross to the real ``leader:db`` thread."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import pytest

from tests.waiting import wait_for
from univac.engine.leader import EXIT_LEASE_LOST, LEADER, STALE, STANDBY, TAKING_OVER, Hooks, Leader
from univac.engine.lease import HaSettings
from univac.engine.store import Fence
from univac.engine.terms import Terms
from univac.errors import StaleEpochError, StoreError

SETTINGS = HaSettings(enabled=True, heartbeat_s=1.0, lease_s=2.0, step_down_s=0.5, grace_s=3.0)


@dataclass
class FakeLease:
    """A lease row and lock in memory, shared by the fake leases of one "database"."""

    db: dict
    holder_of_lock: list
    calls: list[str] = field(default_factory=list)
    closed: bool = False
    hang: threading.Event | None = None
    fail: BaseException | None = None

    def acquire(self, holder: str) -> tuple[int, str] | None:
        self._enter("acquire")
        if self.holder_of_lock and self.holder_of_lock[0] is not self:
            return None
        self.holder_of_lock[:] = [self]
        previous = self.db.get("holder", "")
        self.db["epoch"] = self.db.get("epoch", 0) + 1
        self.db["holder"] = holder
        return self.db["epoch"], previous

    def confirm(self, epoch: int) -> None:
        self._enter("confirm")
        if self.db["epoch"] != epoch:
            raise StaleEpochError(f"another instance took the lease (epoch {self.db['epoch']})")

    def release(self, epoch: int) -> None:
        self._enter("release")
        self.db["holder"] = ""
        self.holder_of_lock.clear()

    def close(self) -> None:
        self.closed = True
        if self.holder_of_lock and self.holder_of_lock[0] is self:
            self.holder_of_lock.clear()

    def _enter(self, name: str) -> None:
        self.calls.append(name)
        if self.hang is not None:
            self.hang.wait(30)
        if self.fail is not None:
            raise self.fail


class FakeTransport:
    """Runs until stopped; ``stubborn`` ignores stop."""

    def __init__(self, stubborn: bool = False) -> None:
        self.name = "fake"
        self.stopped = threading.Event()
        self.stubborn = stubborn
        self.runs = 0

    def run(self, deliver) -> None:
        self.runs += 1
        self.stopped.clear()
        self.stopped.wait(30)

    def send(self, target: str, text: str) -> None:
        pass

    def stop(self, goodbye: str = "") -> None:
        if not self.stubborn:
            self.stopped.set()

    def status(self):
        raise AssertionError("not asked here")


class World:
    """One instance: its leader, terms, fence, a gated transport thread and a clock."""

    def __init__(self, db: dict, lock: list, stubborn: bool = False,
                 reload_error: BaseException | None = None) -> None:
        self.now = [100.0]
        self.leases: list[FakeLease] = []
        self.db, self.lock = db, lock
        self.terms = Terms(True, threading.Event(), SETTINGS.step_down_s)
        self.transport = FakeTransport(stubborn)
        self.terms.wrap({"fake": self.transport}, {})
        self.fence = Fence(STALE)
        self.reloads = 0
        self.reload_error = reload_error
        self.exits: list[int] = []
        hooks = Hooks(self.terms, self.fence, self.reload, self.exits.append)
        self.leader = Leader(self.open_lease, SETTINGS, hooks, holder=f"host:{id(self)}",
                             stop_wait_s=5.0, clock=lambda: self.now[0])
        gated = self.terms.gate(lambda: self.transport.run(None))
        self.thread = threading.Thread(target=gated, daemon=True)
        self.thread.start()

    def open_lease(self) -> FakeLease:
        lease = FakeLease(self.db, self.lock)
        self.leases.append(lease)
        return lease

    def reload(self) -> None:
        if self.reload_error is not None:
            raise self.reload_error
        self.reloads += 1

    def advance(self, seconds: float) -> None:
        self.now[0] += seconds


@pytest.fixture
def database() -> tuple[dict, list]:
    return {}, []


def test_a_free_lease_is_taken_and_the_instance_leads_at_once(database) -> None:
    world = World(*database)
    world.leader.step()
    assert world.leader.role == LEADER and world.fence.epoch == 1
    assert world.reloads == 1 and world.terms.active() and not world.terms.quiet.is_set()
    wait_for(lambda: world.transport.runs == 1, 10, "the transport runs in the term")


def test_a_standby_waits_while_another_instance_leads(database) -> None:
    first, second = World(*database), World(*database)
    first.leader.step()
    assert second.leader.step() == SETTINGS.heartbeat_s
    assert second.leader.role == STANDBY and second.leader.detail == "another instance leads"
    assert second.fence.epoch == STALE and not second.terms.active()
    assert second.transport.runs == 0 and second.reloads == 0


def test_taking_over_an_unreleased_lease_waits_the_grace_period(database) -> None:
    first, second = World(*database), World(*database)
    first.leader.step()
    first.leases[0].close()  # the process died: the database ended its session
    second.leader.step()
    assert second.leader.role == TAKING_OVER and second.leader.epoch == 2
    assert not second.terms.active() and second.fence.epoch == STALE
    for _ in range(2):  # confirming every heartbeat while waiting
        second.advance(1.0)
        assert second.leader.step() == 1.0
        assert second.leader.role == TAKING_OVER and not second.terms.active()
    second.advance(1.0)
    second.leader.step()
    assert second.leader.role == LEADER and second.fence.epoch == 2 and second.terms.active()
    assert second.leases[0].calls == ["acquire", "confirm", "confirm", "confirm"]


def test_a_failed_confirmation_steps_down_at_once(database) -> None:
    world = World(*database)
    world.leader.step()
    wait_for(lambda: world.transport.runs == 1, 10, "leading")
    world.leases[0].fail = StoreError("lease: server closed the connection unexpectedly")
    world.advance(1.0)
    world.leader.step()
    assert world.leader.role == STANDBY and "server closed the connection" in world.leader.detail
    assert world.fence.epoch == STALE and not world.terms.active() and world.terms.quiet.is_set()
    assert world.transport.stopped.is_set() and world.exits == []
    wait_for(lambda: world.leases[0].closed, 10, "the lease's connection closed")


def test_a_confirmation_that_hangs_past_the_lease_steps_down(database) -> None:
    world = World(*database)
    world.leader.step()
    lease = world.leases[0]
    lease.hang = threading.Event()
    world.advance(1.0)  # one second of the lease is gone: the call may take one more
    world.leader.step()
    assert world.leader.role == STANDBY and "no answer from the database" in world.leader.detail
    assert world.fence.epoch == STALE and world.transport.stopped.is_set()
    assert not lease.closed  # still stuck in the call; closed once it returns
    lease.hang.set()
    wait_for(lambda: lease.closed, 10, "the abandoned lease closed")


def test_a_leader_past_its_lease_steps_down_without_asking(database) -> None:
    world = World(*database)
    world.leader.step()
    world.advance(SETTINGS.lease_s)
    world.leader.step()
    assert world.leader.role == STANDBY and "no confirmation for 2.0 s" in world.leader.detail
    assert world.leases[0].calls == ["acquire"]


def test_a_takeover_seen_in_a_confirmation_steps_down(database) -> None:
    world = World(*database)
    world.leader.step()
    database[0]["epoch"] = 7
    world.advance(1.0)
    world.leader.step()
    assert world.leader.role == STANDBY and "epoch 7" in world.leader.detail


def test_transports_that_do_not_stop_end_the_process(database) -> None:
    world = World(*database, stubborn=True)
    world.leader.step()
    wait_for(lambda: world.transport.runs == 1, 10, "leading")
    world.leases[0].fail = StoreError("lease: gone")
    world.advance(1.0)
    world.leader.step()
    assert world.exits == [EXIT_LEASE_LOST]
    world.transport.stubborn = False
    world.transport.stop()


def test_a_state_that_cannot_be_reloaded_gives_the_lease_up(database) -> None:
    world = World(*database, reload_error=StoreError("the store is down"))
    world.leader.step()
    assert world.leader.role == STANDBY and "cannot read the state" in world.leader.detail
    assert world.fence.epoch == STALE and not world.terms.active()
    wait_for(lambda: world.leases[0].closed, 10, "the lease closed (its lock freed)")
    world.reload_error = None
    world.leader.step()
    assert world.leader.role == TAKING_OVER  # it did not release: the next taker waits


def test_an_unreachable_database_keeps_a_standby_trying_with_a_new_connection(database) -> None:
    world = World(*database)
    world.open_lease()  # the first lease object the leader opens fails
    original = world.open_lease

    def failing_first() -> FakeLease:
        lease = original()
        if len(world.leases) == 2:
            lease.fail = StoreError("cannot connect to PostgreSQL: connection refused")
        return lease

    world.leader._open_lease = failing_first
    world.leader.step()
    assert world.leader.role == STANDBY
    assert world.leader.detail.startswith("cannot take the lease: cannot connect")
    wait_for(lambda: world.leases[1].closed, 10, "the failed connection closed")
    world.leader.step()
    assert world.leader.role == LEADER and len(world.leases) == 3


def test_shutdown_releases_the_lease_once_the_transports_are_down(database) -> None:
    first, second = World(*database), World(*database)
    thread = threading.Thread(target=first.leader.run, daemon=True)
    thread.start()
    wait_for(lambda: first.leader.role == LEADER and first.transport.runs == 1, 10, "leading")
    first.terms.close()
    first.leader.close()
    assert thread.is_alive()  # waiting for the bot to stop its transports
    first.transport.stop()
    thread.join(10)
    assert not thread.is_alive() and first.leases[0].calls[-1] == "release"
    assert first.fence.epoch == STALE and database[0]["holder"] == ""
    second.leader.step()
    assert second.leader.role == LEADER  # released: no grace period


def test_shutdown_while_taking_over_does_not_mark_the_lease_released(database) -> None:
    first, second = World(*database), World(*database)
    first.leader.step()
    first.leases[0].close()
    second.leader.step()
    assert second.leader.role == TAKING_OVER
    second.terms.close()
    second.leader.close()
    second.leader.run()  # returns at once: closing
    assert "release" not in second.leases[0].calls
    assert database[0]["holder"] == second.leader.holder
    third = World(*database)
    third.leader.step()
    assert third.leader.role == TAKING_OVER  # the first may still be speaking
