"""The store contract, on the embedded SQLite store and on a real PostgreSQL: records,
all-or-nothing transactions, concurrent writers, migrations, epoch fencing."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import psycopg
import pytest

from univac import StaleEpochError, Store
from univac.engine import sqlite_store
from univac.engine.state import State
from univac.engine.store import Fence, StoreEntry, open_store
from univac.stores import postgres

pytestmark = pytest.mark.integration


class Backend:
    """Opens stores on one database, and runs plain SQL on it as another client would."""

    def __init__(self, name: str, folder: Path, dsn: str = "") -> None:
        self.name, self.folder, self.dsn = name, folder, dsn
        self.opened: list[Store] = []

    def entry(self) -> StoreEntry:
        if self.name == "sqlite":
            return StoreEntry()
        return StoreEntry("postgres", postgres, postgres.Settings(dsn=self.dsn))

    def open(self) -> Store:
        store = open_store(self.entry(), self.folder)
        self.opened.append(store)
        return store

    def sql(self, statement: str, *args: object) -> list[tuple[object, ...]]:
        if self.name == "sqlite":
            with sqlite3.connect(self.folder / "state.sqlite3") as db:
                return db.execute(statement.replace("%s", "?"), args).fetchall()
        with psycopg.connect(self.dsn, autocommit=True) as db:
            cursor = db.execute(statement, args)  # type: ignore[arg-type]
            return cursor.fetchall() if cursor.description else []

    def tables(self) -> set[str]:
        if self.name == "sqlite":
            rows = self.sql("SELECT name FROM sqlite_master WHERE type = 'table'")
        else:
            rows = self.sql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {str(row[0]) for row in rows if str(row[0]).startswith("univac_")}


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    dsn = request.getfixturevalue("postgres") if request.param == "postgres" else ""
    made = Backend(request.param, tmp_path, dsn)
    yield made
    for store in made.opened:
        store.close()


class Halfway(Mapping[str, str | None]):
    """Changes whose iteration fails half-way, while the transaction is being written."""

    def __init__(self, changes: dict[str, str | None]) -> None:
        self.changes = changes

    def __getitem__(self, key: str) -> str | None:
        return self.changes[key]

    def __len__(self) -> int:
        return len(self.changes)

    def __iter__(self) -> Iterator[str]:
        for number, key in enumerate(self.changes):
            if number == len(self.changes) // 2:
                raise RuntimeError("failed half-way")
            yield key


def test_records_one_per_key(backend: Backend) -> None:
    store = backend.open()
    store.commit("p", {"a": "1", "b": '{"x": [1, 2]}'}, None)
    store.commit("p", {"a": None, "c": '"three"'}, None)
    store.commit("q", {"a": "10"}, None)
    assert backend.open().load("p") == {"b": '{"x": [1, 2]}', "c": '"three"'}
    rows = backend.sql("SELECT namespace, key FROM univac_state ORDER BY namespace, key")
    assert rows == [("p", "b"), ("p", "c"), ("q", "a")]


def test_a_transaction_that_fails_half_way_leaves_nothing(backend: Backend) -> None:
    store = backend.open()
    store.commit("p", {"kept": "1"}, None)
    changes = {f"k{n}": str(n) for n in range(100)} | {"kept": None}
    with pytest.raises(RuntimeError, match="half-way"):
        store.commit("p", Halfway(changes), None)
    assert backend.open().load("p") == {"kept": "1"}
    store.commit("p", {"after": "2"}, None)  # the store is still usable
    assert backend.open().load("p") == {"kept": "1", "after": "2"}


def test_state_blocks_are_all_or_nothing_on_every_backend(backend: Backend) -> None:
    state = State(backend.open(), "p")
    state["n"] = 1
    with pytest.raises(ZeroDivisionError), state:
        state["n"] = 2
        state["other"] = "x"
        _ = 1 / 0
    assert backend.open().load("p") == {"n": "1"}


def test_concurrent_writers_from_threads(backend: Backend) -> None:
    store = backend.open()
    shared = State(store, "shared")
    own = [State(store, f"own{n}") for n in range(4)]

    def work(mine: State) -> None:
        for number in range(25):
            with shared:
                shared["n"] = shared.get("n", 0) + 1
            mine[f"k{number}"] = number

    threads = [threading.Thread(target=work, args=(state,)) for state in own]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    fresh = backend.open()
    assert fresh.load("shared") == {"n": "100"}
    assert all(len(fresh.load(f"own{n}")) == 25 for n in range(4))


def test_migrate_dry_run_changes_nothing_then_migrate_is_idempotent(backend: Backend) -> None:
    store = backend.entry().module.connect(backend.entry().settings, backend.folder)
    backend.opened.append(store)
    planned = store.migrate(dry_run=True)
    assert any("CREATE TABLE IF NOT EXISTS univac_state" in sql for sql in planned)
    assert backend.tables() == set()
    assert store.migrate() == planned
    assert {"univac_state", "univac_audit", "univac_lease"} <= backend.tables()
    assert store.migrate() == [] and store.migrate(dry_run=True) == []
    assert backend.open().migrate() == []


def lease(backend: Backend, epoch: int) -> None:
    backend.sql("DELETE FROM univac_lease")
    backend.sql("INSERT INTO univac_lease (name, epoch, holder) VALUES ('leader', %s, 'b')", epoch)


def test_a_stale_epoch_is_refused_for_state_and_audit(backend: Backend) -> None:
    store = backend.open()
    store.commit("p", {"a": "1"}, None)
    with pytest.raises(StaleEpochError, match="no lease"):
        store.commit("p", {"a": "2"}, 1)
    lease(backend, 2)
    with pytest.raises(StaleEpochError, match="lease is at epoch 2"):
        store.commit("p", {"a": "2", "b": "2"}, 1)
    with pytest.raises(StaleEpochError):
        store.append_audit('{"action": "deploy"}', 1)
    assert backend.open().load("p") == {"a": "1"}
    assert backend.sql("SELECT count(*) FROM univac_audit") == [(0,)]
    store.commit("p", {"a": "3"}, 2)
    store.append_audit('{"action": "deploy"}', 2)
    assert backend.sql("SELECT value, epoch FROM univac_state WHERE key = 'a'") == [("3", 2)]
    assert backend.sql("SELECT epoch, record FROM univac_audit") == [(2, '{"action": "deploy"}')]


def test_a_deposed_writer_changes_nothing_through_state(backend: Backend) -> None:
    store = backend.open()
    lease(backend, 5)
    fence = Fence(5)
    state = State(store, "p", fence)
    state["mine"] = 1
    lease(backend, 6)  # another instance took the lease
    with pytest.raises(StaleEpochError), state:
        state["mine"] = 2
        state["more"] = 2
    assert state["mine"] == 1 and "more" not in state
    assert backend.open().load("p") == {"mine": "1"}
    fence.epoch = 6
    state["mine"] = 3
    assert backend.open().load("p") == {"mine": "3"}


def test_a_takeover_waits_for_a_fenced_write_in_flight(postgres: str) -> None:
    backend = Backend("postgres", Path("."), postgres)
    backend.open().close()
    lease(backend, 1)
    with psycopg.connect(postgres, autocommit=True) as writer, writer.transaction():
        postgres_check(writer, 1)  # the writer has passed the check and not committed yet
        with psycopg.connect(postgres, autocommit=True) as successor:
            successor.execute("SET lock_timeout = '200ms'")
            with pytest.raises(psycopg.errors.LockNotAvailable):
                successor.execute("UPDATE univac_lease SET epoch = 2 WHERE name = 'leader'")


def postgres_check(connection: psycopg.Connection, epoch: int) -> None:
    with connection.cursor() as cursor:
        postgres.check_epoch(cursor, epoch)


def test_an_unreachable_database_is_a_clear_error(free_tcp_port: Callable[[], int]) -> None:
    settings = postgres.Settings(dsn=f"host=127.0.0.1 port={free_tcp_port()} user=u dbname=d")
    with pytest.raises(Exception) as caught:
        open_store(StoreEntry("postgres", postgres, settings), Path("."))
    assert type(caught.value).__name__ == "StoreError"
    assert "cannot connect to PostgreSQL" in str(caught.value)
    assert "Connection refused" in str(caught.value) and "\n" not in str(caught.value)


@pytest.fixture
def free_tcp_port() -> Callable[[], int]:
    from tests.waiting import free_port

    return free_port


def test_sqlite_backend_module_is_the_embedded_one() -> None:
    assert StoreEntry().module is sqlite_store
