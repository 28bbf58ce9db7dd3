"""Matrix benchmark: command-to-reply latency and throughput against a real Synapse.

Run it from the checkout after ``scripts/install-test-servers`` (see docs/matrix.md)::

    .venv/bin/python benchmarks/matrix_latency.py            # 5 runs, medians
    .venv/bin/python benchmarks/matrix_latency.py --quick    # small sizes, 1 run

A scripted user (``alice``, matrix-nio on its own thread, long-polling ``/sync``) sends
``!echo <n>`` to a room on Synapse on 127.0.0.1 (plain HTTP, SQLite) and waits for the
reply ``<n>`` from the bot's account. Three bots answer, one at a time:

- ``floor``: a minimal matrix-nio echo client (below), the least any nio bot can cost;
- ``transport``: Univac's Matrix transport alone, run on its thread as the supervisor
  runs it, with a ``deliver`` that answers at once through ``send`` (no dispatcher);
- ``univac``: a ``univac run`` process with the ``echo`` plugin (dispatcher, reactive
  threads, the default reactive queue; ``user_rate = 0`` and ``channel_rate = 0``,
  since one scripted user sends every command and the default limits would answer
  five of a burst; its log goes to ``univac.log`` in the server's temp dir).

Measured for each: latency of ``LATENCY_N`` sequential round trips (p50, p99), and
throughput: a burst of ``BURST_N`` commands sent at once (concurrent requests), timed
until the last reply arrived. Each figure is the median over the runs; a fresh Synapse per run, the
bots interleaved within a run.
"""

from __future__ import annotations

import asyncio
import platform
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from importlib.metadata import version
from pathlib import Path
from typing import Any

from nio import AsyncClient, MatrixRoom, RoomMessageText

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import echo_rounds  # noqa: E402
from echo_rounds import Reply, collect_burst, latency, wait_ready  # noqa: E402

from tests.contexts import lend  # noqa: E402
from tests.integration.matrix_servers import (  # noqa: E402
    PASSWORD,
    SYNC_FILTER,
    MatrixPeer,
    SynapseServer,
)
from tests.integration.xmpp_servers import RunningBot  # noqa: E402
from tests.waiting import free_port, wait_for  # noqa: E402
from univac.transports import matrix  # noqa: E402

SIZES = {"full": (200, 100), "quick": (30, 50)}
ALIAS = "#bench:localhost"


class EchoFloor:
    """The floor: the smallest matrix-nio bot that answers ``!echo`` with a notice."""

    def __init__(self, url: str, user_id: str) -> None:
        self.url, self.user_id = url, user_id
        self.joined = threading.Event()
        self.replies: set[asyncio.Future] = set()

    def run(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.loop.run_until_complete(self.main())
        self.loop.close()

    async def main(self) -> None:
        client = self.client = AsyncClient(self.url, self.user_id)
        await client.login(PASSWORD)
        await client.join(ALIAS)
        await client.sync(timeout=0)  # what came before is not answered
        client.add_event_callback(self.echo, RoomMessageText)
        self.joined.set()
        self.task = asyncio.ensure_future(client.sync_forever(
            timeout=30000, sync_filter=SYNC_FILTER))
        with suppress(asyncio.CancelledError):
            await self.task
        await client.close()

    async def echo(self, room: MatrixRoom, event: RoomMessageText) -> None:
        """Answer without holding up the next sync (nio awaits callbacks before it)."""
        if event.sender != self.user_id and event.body.startswith("!echo "):
            reply = self.client.room_send(room.room_id, "m.room.message",
                                          {"msgtype": "m.notice", "body": event.body[6:]})
            task = asyncio.ensure_future(reply)
            self.replies.add(task)
            task.add_done_callback(self.replies.discard)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.task.cancel)


@contextmanager
def floor_bot(server: SynapseServer) -> Iterator[str]:
    server.register("floor")
    bot = EchoFloor(server.url, "@floor:localhost")
    thread = threading.Thread(target=bot.run, daemon=True)
    thread.start()
    assert bot.joined.wait(20)
    yield "@floor:localhost"
    bot.stop()
    thread.join(10)


@contextmanager
def transport_bot(server: SynapseServer) -> Iterator[str]:
    server.register("transport")
    settings = matrix.Settings(homeserver=server.url, user_id="@transport:localhost",
                               password=PASSWORD, rooms=(ALIAS,),
                               state_file=str(server.dir / "transport.json"))
    lent = lend(server.dir / "transport-state", "matrix")
    bot = RunningBot(matrix.create("matrix", settings, lent.context)).start()
    bot.wait_joined(ALIAS, timeout=20)
    yield "@transport:localhost"
    bot.stop()
    lent.close()


@contextmanager
def univac_bot(server: SynapseServer) -> Iterator[str]:
    server.register("univac")
    config = server.dir / "univac.toml"
    config.write_text(f"""
[bot]
plugins = ["echo"]
state_dir = "{server.dir / 'state'}"
user_rate = 0
channel_rate = 0
log_level = "WARNING"

[[transports]]
type = "matrix"
homeserver = "{server.url}"
user_id = "@univac:localhost"
password = "{PASSWORD}"
rooms = ["{ALIAS}"]
state_file = "{server.dir / 'univac-matrix.json'}"  # none: no file of the home folder read
""")
    with echo_rounds.univac_process(config, server.dir / "univac.log", "@univac:localhost") as bot:
        yield bot


BOTS: dict[str, Callable] = {"floor": floor_bot, "transport": transport_bot, "univac": univac_bot}


def reply_from(peer: MatrixPeer, bot: str) -> Reply:
    return lambda timeout: peer.expect(lambda seen: seen.sender == bot, timeout).body


def measure(kind: str, latency_n: int, burst_n: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        server = SynapseServer(dir=Path(tmp), port=free_port())
        server.write_config()
        server.start()
        try:
            peer = MatrixPeer(server, "alice").start()
            room = peer.create_room(alias="bench")
            with BOTS[kind](server) as bot:
                say, reply = (lambda text: peer.say(room, text)), reply_from(peer, bot)
                wait_ready(say, reply, peer.inbox, bot, wait_for, 30, 0.5)
                result = {**latency(say, reply, latency_n),
                          **throughput(peer, room, reply, burst_n, bot)}
            peer.stop()
            return result
        finally:
            server.stop()


def throughput(peer: MatrixPeer, room: str, reply: Reply, n: int, bot: str) -> dict[str, float]:
    """The burst goes out concurrently: one ``room_send`` each, gathered."""
    async def send_all() -> Any:
        return await asyncio.gather(*(peer.client.room_send(
            room, "m.room.message", {"msgtype": "m.text", "body": f"!echo b{i}"})
            for i in range(n)))

    start = time.perf_counter()
    peer.call(send_all, timeout=120)
    return collect_burst(reply, n, start, bot)


def main() -> None:
    echo_rounds.main(__doc__, tuple(BOTS), SIZES, measure,
                     f"{platform.python_implementation()} {platform.python_version()}, "
                     f"matrix-nio {version('matrix-nio')}", target=1.5)


if __name__ == "__main__":
    main()
