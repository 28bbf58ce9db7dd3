"""XMPP benchmark: command-to-reply latency and throughput against a real Prosody.

Run it from the checkout, as a user that may start Prosody (see docs/xmpp.md)::

    .venv/bin/python benchmarks/xmpp_latency.py            # 5 runs, medians
    .venv/bin/python benchmarks/xmpp_latency.py --quick    # small sizes, 1 run

A scripted user (``alice``, slixmpp on its own thread) sends ``!echo <n>`` to a room on
Prosody 0.12 on 127.0.0.1 (plaintext c2s, so TLS cost is not measured) and waits for
the reply ``<n>`` from the bot's nick. Three bots answer, one at a time:

- ``floor``: a minimal slixmpp echo client (below), the least any XMPP bot can cost;
- ``transport``: Univac's XMPP transport alone, run on its thread as the supervisor runs
  it, with a ``deliver`` that answers at once through ``send`` (no dispatcher);
- ``univac``: a ``univac run`` process with the ``echo`` plugin (dispatcher, reactive
  threads, the default reactive queue; ``user_rate = 0`` and ``channel_rate = 0``,
  since one scripted user sends every command and the default limits would answer
  five of a burst; its log goes to ``univac.log`` in the server's temp dir).

Measured for each: latency of ``LATENCY_N`` sequential round trips (p50, p99), and
throughput: a burst of ``BURST_N`` commands sent back to back, timed until the last
reply arrived. Each figure is the median over the runs; a fresh Prosody per run.
"""

from __future__ import annotations

import asyncio
import platform
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import slixmpp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import echo_rounds  # noqa: E402
from echo_rounds import Reply, Say, collect_burst, latency, wait_ready  # noqa: E402

from tests.integration.xmpp_servers import (  # noqa: E402
    USERS,
    Peer,
    ProsodyServer,
    RunningBot,
    close_loop,
)
from tests.waiting import free_port, wait_for  # noqa: E402
from univac.transports import xmpp  # noqa: E402

ROOM = "bench@conference.localhost"
SIZES = {"full": (500, 2000), "quick": (100, 300)}


class EchoFloor:
    """The floor: the smallest slixmpp bot that answers ``!echo`` in a room."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.joined = threading.Event()

    def run(self) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        client = self.client = slixmpp.ClientXMPP("floor@localhost/bench", USERS["floor"])
        client.enable_starttls = client.enable_direct_tls = False
        client.enable_plaintext = True
        client.plugin["feature_mechanisms"].unencrypted_plain = True
        client.register_plugin("xep_0045")
        client.add_event_handler("session_start", self.start)
        client.add_event_handler("groupchat_message", self.echo)
        client.connect("127.0.0.1", self.port)
        self.loop.run_forever()
        close_loop(self.loop)

    async def start(self, _event: object) -> None:
        self.client.send_presence()
        await self.client.plugin["xep_0045"].join_muc_wait(ROOM, "floor", maxstanzas=0)
        self.joined.set()

    def echo(self, msg: slixmpp.Message) -> None:
        if msg["mucnick"] != "floor" and msg["body"].startswith("!echo "):
            self.client.send_message(mto=ROOM, mbody=msg["body"][6:], mtype="groupchat")

    def stop(self) -> None:
        async def leave() -> None:
            await self.client.disconnect(wait=1)
        asyncio.run_coroutine_threadsafe(leave(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)


@contextmanager
def floor_bot(server: ProsodyServer) -> Iterator[str]:
    bot = EchoFloor(server.port)
    thread = threading.Thread(target=bot.run, daemon=True)
    thread.start()
    assert bot.joined.wait(10)
    yield "floor"
    bot.stop()
    thread.join(5)


@contextmanager
def transport_bot(server: ProsodyServer) -> Iterator[str]:
    settings = xmpp.Settings(jid="bot@localhost", password=USERS["bot"], host="127.0.0.1",
                             port=server.port, tls="plaintext", rooms=(ROOM,), nick="univac")
    bot = RunningBot(xmpp.create("xmpp", settings)).start()
    bot.wait_joined(ROOM)
    yield "univac"
    bot.stop()


@contextmanager
def univac_bot(server: ProsodyServer) -> Iterator[str]:
    config = server.dir / "univac.toml"
    config.write_text(f"""
[bot]
plugins = ["echo"]
state_dir = "{server.dir / 'state'}"
user_rate = 0
channel_rate = 0
log_level = "WARNING"

[[transports]]
type = "xmpp"
jid = "bot@localhost"
password = "{USERS['bot']}"
host = "127.0.0.1"
port = {server.port}
tls = "plaintext"
rooms = ["{ROOM}"]
""")
    with echo_rounds.univac_process(config, server.dir / "univac.log", "univac") as bot:
        yield bot


BOTS: dict[str, Callable] = {"floor": floor_bot, "transport": transport_bot, "univac": univac_bot}


def reply_from(peer: Peer, nick: str) -> Reply:
    return lambda timeout: peer.expect(
        lambda r: r.kind == "groupchat" and r.sender == nick, timeout).text


def measure(kind: str, latency_n: int, burst_n: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        server = make_server(Path(tmp))
        try:
            peer = Peer("alice@localhost", USERS["alice"], server.port)
            peer.start()
            peer.join(ROOM, "alice")
            with BOTS[kind](server) as nick:
                say, reply = (lambda text: peer.say(ROOM, text)), reply_from(peer, nick)
                wait_ready(say, reply, peer.inbox, nick, wait_for, 20, 0.3)
                result = {**latency(say, reply, latency_n),
                          **throughput(say, reply, burst_n, nick)}
            peer.stop()
            return result
        finally:
            server.stop()


def throughput(say: Say, reply: Reply, n: int, nick: str) -> dict[str, float]:
    start = time.perf_counter()
    for i in range(n):
        say(f"!echo b{i}")
    return collect_burst(reply, n, start, nick)


def make_server(directory: Path) -> ProsodyServer:
    fixtures = ROOT / "tests" / "integration" / "fixtures" / "xmpp"
    assert fixtures.is_dir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(directory / "key.pem"), "-out", str(directory / "cert.pem"), "-days",
                    "1", "-subj", "/CN=localhost"], check=True, capture_output=True)
    server = ProsodyServer(dir=directory, port=free_port(), cafile=directory / "cert.pem")
    server.write_config()
    server.start()
    return server


def main() -> None:
    echo_rounds.main(__doc__, tuple(BOTS), SIZES, measure,
                     f"{platform.python_implementation()} {platform.python_version()}, "
                     f"slixmpp {slixmpp.__version__}")


if __name__ == "__main__":
    main()
