"""The leader lease on a real PostgreSQL: one holder at a time, epochs that grow, a
clean release, a lost session, a takeover seen by the old holder, and PgBouncer in
transaction mode refused (session mode accepted)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import psycopg
import pytest

from tests.waiting import wait_for
from univac import StaleEpochError, StoreError
from univac.engine.store import StoreEntry, open_store
from univac.stores import postgres as backend
from univac.stores.postgres_lease import PostgresLease

pytestmark = pytest.mark.integration


@pytest.fixture
def leases(postgres: str, tmp_path) -> Iterator[Callable[..., PostgresLease]]:
    """Factory of leases on the test database (its schema made first)."""
    open_store(StoreEntry("postgres", backend, backend.Settings(dsn=postgres)), tmp_path).close()
    made: list[PostgresLease] = []

    def make(dsn: str = postgres) -> PostgresLease:
        made.append(backend.open_lease(backend.Settings(dsn=dsn), 3.0))
        return made[-1]

    yield make
    for lease in made:
        lease.close()


def row(dsn: str) -> tuple[int, str] | None:
    with psycopg.connect(dsn) as db:
        return db.execute(
            "SELECT epoch, holder FROM univac_lease WHERE name = 'leader'").fetchone()


def test_one_holder_at_a_time_and_the_epoch_grows(leases, postgres: str) -> None:
    first, second = leases(), leases()
    assert first.acquire("host-a:1") == (1, "")
    assert second.acquire("host-b:2") is None
    first.confirm(1)
    first.close()  # as when the process dies: the session ends, so does the lock
    taken = wait_for(lambda: second.acquire("host-b:2"), 10, "the lock freed by the server")
    assert taken == (2, "host-a:1")
    second.confirm(2)
    assert row(postgres) == (2, "host-b:2")
    second.release(2)
    assert row(postgres) == (2, "")
    third = leases()
    assert third.acquire("host-c:3") == (3, "")  # released: the taker need not wait
    with pytest.raises(StaleEpochError, match="epoch 3"):
        second.confirm(2)


def test_a_lost_session_fails_the_next_confirmation(leases, postgres: str) -> None:
    lease = leases()
    assert lease.acquire("host-a:1") == (1, "")
    with psycopg.connect(postgres, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                      " WHERE application_name = 'univac leader'")
    with pytest.raises(StoreError, match="lease: "):
        lease.confirm(1)
    other = leases()
    assert wait_for(lambda: other.acquire("host-b:2"), 10, "the lock freed") == (2, "host-a:1")


def test_the_session_is_told_to_notice_a_dead_client_quickly(leases) -> None:
    lease = leases()
    lease.acquire("host-a:1")
    connection = lease._connection
    assert connection is not None
    assert connection.execute("SHOW tcp_keepalives_idle").fetchone() == ("1",)
    assert connection.execute("SHOW tcp_keepalives_count").fetchone() == ("2",)
    assert connection.execute("SHOW tcp_user_timeout").fetchone() == ("3000",)


def test_pgbouncer_in_transaction_mode_is_refused(leases, postgres: str, pgbouncer) -> None:
    bouncer = pgbouncer("transaction")
    lease = leases(bouncer.dsn(postgres))
    with pytest.raises(StoreError) as caught:
        lease.acquire("host-a:1")
    assert "connection pooler in transaction mode, such as PgBouncer?" in str(caught.value)
    assert row(postgres) is None
    with pytest.raises(StoreError, match="such as PgBouncer"):  # the leader tries again
        lease.acquire("host-a:1")
    assert row(postgres) is None


def test_pgbouncer_in_session_mode_holds_the_lease(leases, postgres: str, pgbouncer) -> None:
    bouncer = pgbouncer("session")
    lease = leases(bouncer.dsn(postgres))
    assert lease.acquire("host-a:1") == (1, "")
    lease.confirm(1)
    assert leases().acquire("host-b:2") is None
