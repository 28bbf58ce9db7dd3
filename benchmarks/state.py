"""State benchmark: the time of one single-key change of ``ctx.state`` by state size.

Run it from the checkout (results and their meaning: docs/performance.md)::

    .venv/bin/python benchmarks/state.py                 # 10 to 100,000 keys, three stores
    .venv/bin/python benchmarks/state.py --quick         # small sizes, few changes (smoke test)
    .venv/bin/python benchmarks/state.py --no-postgres   # without the PostgreSQL column

For each size (10, 1,000, 10,000 and 100,000 keys of about 100 bytes of JSON each) and
each store, the state is filled, then, after 10 changes not counted (a warm-up),
``changes`` single-key changes are made one after the other (``state[key] = value``, a
random existing key each time, outside any ``with`` block: one transaction each), and
the median time of one change is reported, with the 10th and 90th percentiles. The
stores:

- ``json``: the former store, kept here as the baseline: the plugin's whole state in
  one JSON file, rewritten on every change (temporary file, fsync, rename, fsync of the
  folder), exactly as ``univac/engine/state.py`` did before the store;
- ``sqlite``: ``State`` on the embedded SQLite store (WAL, ``synchronous = FULL``);
- ``postgres``: ``State`` on the PostgreSQL store, against a PostgreSQL 15 started
  here by the test fixture (``tests/integration/postgres_servers.py``) with its default
  durability (fsync on, synchronous commit on), on 127.0.0.1 over TCP.

Everything runs in one process, one store after the other, in a temporary folder on
the same file system. Reads are measured too (``state.get`` of a random key at the
largest size), since a change is only cheap if reads stay cheap.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from dispatch import machine  # the same machine line as the dispatch benchmark

from univac.engine import sqlite_store
from univac.engine.state import State

ROOT = Path(__file__).resolve().parents[1]

SIZES = (10, 1_000, 10_000, 100_000)
QUICK_SIZES = (10, 1_000)
TARGET_RATIO = 2.0


class Mapping(Protocol):
    def __setitem__(self, key: str, value: Any) -> None: ...

    def get(self, key: str, default: Any = None) -> Any: ...


class JsonFileState:
    """The former ``ctx.state``: one JSON file per plugin, rewritten whole per change
    (a copy of the write path of ``univac/engine/state.py`` before the store)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.RLock()
        self._data: dict[str, Any] = {}

    def fill(self, data: dict[str, Any]) -> None:
        self._data = dict(data)
        self._save()

    def get(self, key: str, default: Any = None) -> Any:
        with self._lock:
            return self._data.get(key, default)

    def __setitem__(self, key: str, value: Any) -> None:
        with self._lock:
            self._data[key] = value
            self._save()

    def _save(self) -> None:
        text = json.dumps(self._data, indent=1, sort_keys=True)
        handle, temporary = tempfile.mkstemp(dir=self._path.parent, prefix=f".{self._path.name}.")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as output:
                output.write(text)
                output.flush()
                os.fsync(output.fileno())
            os.replace(temporary, self._path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        folder = os.open(self._path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def value(number: int, generation: int = 0) -> dict[str, Any]:
    """About 100 bytes of JSON, like an issue in a triage model."""
    return {"id": number, "state": "open", "labels": ["bug", "triage"],
            "title": f"Issue {number} needs a look", "seen": generation}


def key(number: int) -> str:
    return f"issue:{number}"


def timed_changes(state: Mapping, size: int, changes: int, rng: random.Random) -> list[float]:
    times = []
    for generation in range(1, changes + 1):
        number = rng.randrange(size)
        started = time.perf_counter()
        state[key(number)] = value(number, generation)
        times.append(time.perf_counter() - started)
    return times


def timed_reads(state: Mapping, size: int, reads: int, rng: random.Random) -> list[float]:
    times = []
    for _ in range(reads):
        number = rng.randrange(size)
        started = time.perf_counter()
        state.get(key(number))
        times.append(time.perf_counter() - started)
    return times


@contextmanager
def json_state(folder: Path, size: int) -> Iterator[Mapping]:
    state = JsonFileState(folder / "bench.json")
    state.fill({key(n): value(n) for n in range(size)})
    yield state


@contextmanager
def sqlite_state(folder: Path, size: int) -> Iterator[Mapping]:
    store = sqlite_store.connect(sqlite_store.Settings(), folder)
    store.migrate()
    store.commit("bench", {key(n): json.dumps(value(n)) for n in range(size)}, None)
    try:
        yield State(store, "bench")
    finally:
        store.close()


def postgres_state(dsn: str) -> Callable[[Path, int], Any]:
    from univac.stores import postgres

    @contextmanager
    def make(folder: Path, size: int) -> Iterator[Mapping]:
        store = postgres.connect(postgres.Settings(dsn=dsn), folder)
        store.migrate()
        namespace = f"bench{size}"
        store.commit(namespace, {key(n): json.dumps(value(n)) for n in range(size)}, None)
        try:
            yield State(store, namespace)
        finally:
            store.close()

    return make


@contextmanager
def postgres_server() -> Iterator[str]:
    sys.path.insert(0, str(ROOT))
    from tests.integration.postgres_servers import Postgres

    server = Postgres(durable=True).start()
    try:
        yield server.create_database("bench")
    finally:
        server.cleanup()


def stats(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"median": statistics.median(ordered), "p10": pick(0.1), "p90": pick(0.9)}


def measure(stores: dict[str, Callable[[Path, int], Any]], sizes: tuple[int, ...],
            changes: int, where: str | None
            ) -> tuple[dict[str, dict[int, dict[str, float]]], dict[str, float]]:
    rng = random.Random(13)
    results: dict[str, dict[int, dict[str, float]]] = {name: {} for name in stores}
    reads: dict[str, float] = {}
    for name, make in stores.items():
        for size in sizes:
            with tempfile.TemporaryDirectory(prefix="univac-bench-", dir=where) as folder, \
                    make(Path(folder), size) as state:
                count = changes if name != "json" or size < 10_000 else max(10, changes // 10)
                timed_changes(state, size, min(count, 10), rng)  # warm-up, not counted
                results[name][size] = stats(timed_changes(state, size, count, rng))
                if size == sizes[-1]:
                    reads[name] = stats(timed_reads(state, size, 10_000, rng))["median"]
            print(f"  {name} at {size:,} keys: {results[name][size]['median'] * 1e3:.2f} ms",
                  file=sys.stderr)
    return results, reads


def file_system(folder: str) -> str:
    """The type of the file system that holds ``folder`` (from /proc/mounts)."""
    mounts = [line.split()[1:3] for line in Path("/proc/mounts").read_text().splitlines()]
    real = os.path.realpath(folder)
    found = [(point, kind) for point, kind in mounts
             if real == point or real.startswith(point.rstrip("/") + "/")]
    return max(found, key=lambda item: len(item[0]))[1] if found else "unknown"


def report(results: dict[str, dict[int, dict[str, float]]], reads: dict[str, float],
           sizes: tuple[int, ...], changes: int, where: str) -> None:
    print("Univac state benchmark: time of one single-key change (ms), median [p10-p90]")
    print(machine())
    print(f"files in {where} ({file_system(where)}), SQLite {sqlite3.sqlite_version}")
    print(f"changes per size: {changes} (json at 10,000 keys and more: {max(10, changes // 10)})")
    print(f"{'store':<10}" + "".join(f"{f'{size:,} keys':>24}" for size in sizes)
          + f"{'largest/10':>12}")
    for name, by_size in results.items():
        cells = [f"{r['median'] * 1e3:.2f} [{r['p10'] * 1e3:.2f}-{r['p90'] * 1e3:.2f}]"
                 for r in by_size.values()]
        ratio = by_size[sizes[-1]]["median"] / by_size[sizes[0]]["median"]
        print(f"{name:<10}" + "".join(f"{cell:>24}" for cell in cells) + f"{ratio:>11.1f}x")
    print(f"{'get (us)':<10}" + "".join(f"  {name} {us * 1e6:.1f}" for name, us in reads.items())
          + f"  (at {sizes[-1]:,} keys)")
    if "sqlite" in results:
        ratio = results["sqlite"][sizes[-1]]["median"] / results["sqlite"][sizes[0]]["median"]
        met = "yes" if ratio <= TARGET_RATIO else "no"
        print(f"target: sqlite at {sizes[-1]:,} keys <= {TARGET_RATIO:.0f}x at {sizes[0]} keys: "
              f"{ratio:.2f}x, met: {met}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, few changes")
    parser.add_argument("--no-postgres", action="store_true", help="leave PostgreSQL out")
    parser.add_argument("--changes", type=int, default=200, help="changes per size")
    parser.add_argument("--dir", default=tempfile.gettempdir(),
                        help="where the files go (default: the temporary folder)")
    args = parser.parse_args()
    sizes = QUICK_SIZES if args.quick else SIZES
    changes = 20 if args.quick else args.changes
    stores: dict[str, Callable[[Path, int], Any]] = {"json": json_state, "sqlite": sqlite_state}
    if args.no_postgres:
        results, reads = measure(stores, sizes, changes, args.dir)
    else:
        with postgres_server() as dsn:
            stores["postgres"] = postgres_state(dsn)
            results, reads = measure(stores, sizes, changes, args.dir)
    report(results, reads, sizes, changes, args.dir)


if __name__ == "__main__":
    main()
