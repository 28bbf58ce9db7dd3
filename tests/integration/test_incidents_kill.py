"""A process killed with SIGKILL in a burst of incident writes leaves every store
readable, with every record it acknowledged.

The child writes incidents and comments (big ones, so that a write takes long enough to
be cut) as fast as it can and prints each record's id once ``write`` returned; the test
kills it after a few hundred acknowledgements, while it is writing, then opens the store
again: everything printed must be there, and reading must work (a torn JSON line is set
aside, not fatal).
"""

from __future__ import annotations

import ctypes
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from univac.plugins.incidents.stores.auto import AutoStore
from univac.plugins.incidents.stores.jsonl import JsonlStore
from univac.plugins.incidents.stores.postgres import PostgresStore

pytestmark = pytest.mark.integration
ACKNOWLEDGED_BEFORE_KILL = 300
CHILD = """
import itertools, sys
from datetime import UTC, datetime
from pathlib import Path
from univac.plugins.incidents.model import Batch, Event, Incident, new_id, timestamp
from univac.plugins.incidents.stores.auto import AutoStore
from univac.plugins.incidents.stores.jsonl import JsonlStore
from univac.plugins.incidents.stores.postgres import PostgresStore
kind, folder, dsn = sys.argv[1:4]
if kind == "jsonl":
    store = JsonlStore(Path(folder))
elif kind == "postgres":
    store = PostgresStore(dsn)
else:
    store = AutoStore(PostgresStore(dsn), JsonlStore(Path(folder)))
for number in itertools.count():
    stamp = timestamp(datetime.now(UTC))
    incident = Incident(f"inc_20260302_0900_k{number:05d}", "burst", "db", "prod", "P2",
                        "open", stamp, "kill", stamp, stamp)
    comment = Event(new_id("ev"), incident.id, stamp, "comment", "x" * 20000, "kill")
    store.write(Batch((incident,), (comment,)))
    print(incident.id, comment.id, flush=True)
"""


def _die_with_parent() -> None:
    ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def open_store(kind: str, folder: Path, dsn: str):
    if kind == "jsonl":
        return JsonlStore(folder)
    if kind == "postgres":
        return PostgresStore(dsn)
    return AutoStore(PostgresStore(dsn), JsonlStore(folder))


@pytest.mark.parametrize("kind", ["jsonl", "postgres", "auto"])
def test_kill_during_a_burst_of_writes_loses_nothing_acknowledged(
        kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    dsn = request.getfixturevalue("postgres") if kind != "jsonl" else ""
    child = subprocess.Popen([sys.executable, "-c", CHILD, kind, str(tmp_path), dsn],
                             stdout=subprocess.PIPE, text=True, preexec_fn=_die_with_parent)
    assert child.stdout is not None
    acknowledged: list[list[str]] = []
    try:
        while len(acknowledged) < ACKNOWLEDGED_BEFORE_KILL:
            line = child.stdout.readline()
            assert line, f"the child stopped after {len(acknowledged)} writes"
            acknowledged.append(line.split())
        child.send_signal(signal.SIGKILL)
        assert child.wait(30) == -signal.SIGKILL
        acknowledged += [line.split() for line in child.stdout.read().splitlines()]
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(30)
    store = open_store(kind, tmp_path, dsn)
    try:
        incidents = {i.id for i in store.incidents()}
        events = {e.id for e in store.events()}
        assert all(i in incidents and e in events for i, e in acknowledged)
        assert len(incidents) >= len(acknowledged)
        if kind != "postgres":
            journal = JsonlStore(tmp_path)
            assert {i.id for i in journal.incidents()} >= {i for i, _ in acknowledged}
            torn = [p for p in journal.health().problems if "unfinished last line" in p]
            assert len(torn) <= 1  # at most the line being written when it was killed
    finally:
        store.close()
