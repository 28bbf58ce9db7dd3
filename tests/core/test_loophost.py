"""LoopHost: replies queued from other threads reach the session in order, before a stop."""

from __future__ import annotations

import asyncio
import threading

from tests.waiting import wait_for
from univac import LoopHost, TransportStatus


class Recorder:
    """A session that records what the host hands it, on the loop's thread."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, ...]] = []
        self.threads: set[str] = set()
        self.last_inbound: float | None = None
        self.stopping = asyncio.Event()

    def put(self, target: str, text: str) -> None:
        self.threads.add(threading.current_thread().name)
        self.seen.append((target, text))

    def request_stop(self, goodbye: str) -> None:
        self.seen.append(("stop", goodbye))
        self.stopping.set()

    async def serve(self) -> None:
        await self.stopping.wait()


def run_host(host: LoopHost, session: Recorder) -> threading.Thread:
    thread = threading.Thread(target=host.run, args=(lambda _loop: session,), name="loop")
    thread.start()
    return thread


def test_replies_and_a_stop_before_run_are_handed_over_in_order() -> None:
    host, session = LoopHost(TransportStatus(state="starting")), Recorder()
    host.send("#a", "one")
    host.send("#b", "two")
    host.stop("bye")
    run_host(host, session).join(10)
    assert session.seen == [("#a", "one"), ("#b", "two"), ("stop", "bye")]
    assert session.threads == {"loop"}
    assert host.status().state == "stopped"


def test_replies_sent_while_running_reach_put_before_the_stop() -> None:
    host, session = LoopHost(TransportStatus(state="starting")), Recorder()
    thread = run_host(host, session)
    host.send("#a", "one")
    wait_for(lambda: session.seen, what="the first reply handed over")
    for n in range(50):
        host.send("#a", str(n))
    host.stop("bye")
    thread.join(10)
    assert session.seen == [("#a", "one"), *(("#a", str(n)) for n in range(50)),
                            ("stop", "bye")]
    assert session.threads == {"loop"}
