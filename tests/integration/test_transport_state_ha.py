"""A transport's state across a handover: two bots with ``[ha]`` sharing one real
PostgreSQL, in one process, each with a transport that counts its runs in its
``TransportContext.state`` (tests/core/sample_transports/keeper.py).

Both bots are built (and so read their transport's state) before either leads; the
first leads and writes; when it stops, the second takes over, and its transport must
start from what the first one wrote: the state is read again as a term begins."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tests.core.sample_transports import keeper
from tests.waiting import wait_for
from univac.config import from_mapping
from univac.engine.bot import Bot
from univac.settings import Source

pytestmark = pytest.mark.integration


def bot(folder: Path, dsn: str, label: str) -> Bot:
    folder.mkdir()
    data = {
        "bot": {"plugins": ["echo"], "state_dir": str(folder), "shutdown_timeout_s": 2.0},
        "store": {"backend": "postgres", "dsn": dsn},
        "ha": {"enabled": True, "heartbeat_s": 0.2, "lease_s": 1.0, "step_down_s": 1.0,
               "grace_s": 2.0},
        "transports": [{"type": "tests.core.sample_transports.keeper", "name": "k",
                        "label": label}],
    }
    return Bot(from_mapping(data, Source("<test>", folder)))


def test_the_next_leader_s_transport_starts_from_the_state_the_last_one_wrote(
        tmp_path: Path, postgres: str) -> None:
    keeper.FOUND.clear()
    first, second = bot(tmp_path / "a", postgres, "a"), bot(tmp_path / "b", postgres, "b")
    threads = [threading.Thread(target=b.run, name=f"bot-{n}") for n, b in
               (("a", first), ("b", second))]
    try:
        threads[0].start()
        wait_for(lambda: first.transports["k"].status().state == "connected", 30,
                 "the first bot leading, its transport run")
        threads[1].start()
        wait_for(lambda: second.ha.role() == "standby", 30, "the second bot standing by")
        first.request_stop()
        threads[0].join(30)
        wait_for(lambda: ("b", 1) in keeper.FOUND or ("b", 0) in keeper.FOUND, 30,
                 "the second bot's transport run")
    finally:
        for each, thread in zip((first, second), threads, strict=True):
            each.request_stop()
            if thread.is_alive():
                thread.join(30)
    assert keeper.FOUND == [("a", 0), ("b", 1)]
