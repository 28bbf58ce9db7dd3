"""Real Prosody for the XMPP transport tests, and a scripted slixmpp user. Layer: tests.

Fixtures (auto-loaded by tests/conftest.py):

- ``prosody_cert``: a self-signed certificate for ``localhost`` (once per session);
- ``prosody``: a Prosody 0.12 server on a free port of 127.0.0.1 in a temp dir, with the
  users in ``USERS``, MUC services ``conference.localhost`` (real JIDs visible to all)
  and ``anon.localhost`` (visible to moderators only), XEP-0198 and an admin socket;
- ``xmpp_peer``: a factory of ``Peer`` clients (a second real user) that are
  disconnected at teardown;
- ``xmpp_bot``: a factory of ``RunningBot``: the XMPP transport under test, logged in as
  bot@localhost and run on its own thread, stopped (and its thread joined) at teardown;
- ``tcp_proxy``: a relay to the server whose connections a test can cut (a link drop);
- ``ScriptedServer``: a TCP server that plays a stalled XMPP server (silent, or stuck
  in the login).

``Peer`` runs slixmpp on its own loop in its own thread, like the transport does, and
offers blocking calls with deadlines to the test thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import slixmpp
from slixmpp import JID

from tests.waiting import free_port, wait_for
from univac.loophost import close_loop

FIXTURES = Path(__file__).parent / "fixtures" / "xmpp"
USERS = {"bot": "botpw", "alice": "alicepw", "bob": "bobpw", "floor": "floorpw"}
DOMAIN = "localhost"
MUC = "conference.localhost"
ANON_MUC = "anon.localhost"


@dataclass
class ProsodyServer:
    """One Prosody process in ``dir`` listening on ``port``."""

    dir: Path
    port: int
    cafile: Path
    tls_port: int = 0
    proc: subprocess.Popen | None = None

    def write_config(self) -> None:
        text = (FIXTURES / "prosody.cfg.lua").read_text()
        self.tls_port = self.tls_port or free_port()
        text = text.replace("@DIR@", str(self.dir)).replace("@PORT@", str(self.port))
        text = text.replace("@TLSPORT@", str(self.tls_port))
        (self.dir / "prosody.cfg.lua").write_text(text)
        accounts = self.dir / "data" / "localhost" / "accounts"
        accounts.mkdir(parents=True, exist_ok=True)
        for user, password in USERS.items():
            (accounts / f"{user}.dat").write_text(f'return {{ ["password"] = "{password}"; }};\n')

    def start(self, timeout: float = 10.0) -> None:
        """Start the server and wait until c2s answers a stream header."""
        log = (self.dir / "console.log").open("ab")
        self.proc = subprocess.Popen(
            ["prosody", "-F", "--config", str(self.dir / "prosody.cfg.lua")],
            cwd=self.dir, stdout=log, stderr=subprocess.STDOUT,
        )
        wait_for(self._ready, timeout, "prosody c2s")
        wait_for((self.dir / "prosody.sock").exists, timeout, "prosody admin socket")

    def _ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"prosody exited: {(self.dir / 'console.log').read_text()}")
        header = (
            "<?xml version='1.0'?><stream:stream to='localhost' version='1.0' "
            "xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"
        )
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(header.encode())
                data = b""
                while b"</stream:features>" not in data:
                    chunk = sock.recv(4096)
                    if not chunk:
                        return False
                    data += chunk
                return True
        except OSError:
            return False

    def stop(self, graceful: bool = True) -> None:
        """SIGTERM the server (it closes every stream, ~1 s) or SIGKILL it; wait for it."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM if graceful else signal.SIGKILL)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        with contextlib.suppress(FileNotFoundError):
            (self.dir / "prosody.sock").unlink()

    def restart(self) -> None:
        self.stop()
        self.start()

    def shell(self, lua: str) -> str:
        """Run one Lua statement in the server's admin shell; return its output."""
        out = subprocess.run(
            ["prosodyctl", "--config", str(self.dir / "prosody.cfg.lua"), "shell", ">" + lua],
            cwd=self.dir, capture_output=True, text=True, timeout=15, check=False,
        )
        return out.stdout + out.stderr


@pytest.fixture(scope="session")
def prosody_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate and key for ``localhost`` and 127.0.0.1."""
    path = tmp_path_factory.mktemp("xmpp-cert")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
         str(path / "key.pem"), "-out", str(path / "cert.pem"), "-days", "2",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    return path / "cert.pem", path / "key.pem"


@pytest.fixture
def prosody(tmp_path: Path, prosody_cert: tuple[Path, Path]) -> Iterator[ProsodyServer]:
    """A running Prosody, stopped at teardown."""
    for source in prosody_cert:
        shutil.copy(source, tmp_path / source.name)
    os.chmod(tmp_path / "key.pem", 0o600)
    server = ProsodyServer(dir=tmp_path, port=free_port(), cafile=tmp_path / "cert.pem")
    server.write_config()
    server.start()
    yield server
    server.stop(graceful=False)  # every client has already left; nothing to wait for


@dataclass
class Received:
    """One message a Peer received."""

    kind: str
    sender: str
    text: str
    stanza_id: str = ""


@dataclass
class Peer:
    """A scripted XMPP user on its own thread and loop (a second real client)."""

    jid: str
    password: str
    port: int
    resource: str = "peer"
    inbox: queue.Queue = field(default_factory=queue.Queue)
    presences: queue.Queue = field(default_factory=queue.Queue)
    history: queue.Queue = field(default_factory=queue.Queue)

    def start(self, timeout: float = 10.0) -> None:
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True,
                                       name=f"peer:{self.jid}")
        self.thread.start()
        assert ready.wait(timeout), f"{self.jid} did not log in"

    def _run(self, ready: threading.Event) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.client = client = slixmpp.ClientXMPP(f"{self.jid}/{self.resource}", self.password)
        client.enable_starttls = client.enable_direct_tls = False
        client.enable_plaintext = True
        client.plugin["feature_mechanisms"].unencrypted_plain = True
        for plugin in ("xep_0045", "xep_0199", "xep_0308", "xep_0203"):
            client.register_plugin(plugin)
        self.ready = ready
        client.add_event_handler("session_start", self._started)
        client.add_event_handler("message", self._on_message)
        client.add_event_handler("groupchat_message", self._on_groupchat)
        client.add_event_handler("groupchat_presence", self.presences.put)
        client.connect("127.0.0.1", self.port)
        self.loop.run_forever()
        close_loop(self.loop)

    async def _started(self, _event: object) -> None:
        self.client.send_presence()
        # A round trip: once the server answers, it has processed the presence too, so
        # messages to our bare JID reach this session from now on.
        await self.client.plugin["xep_0199"].ping(JID(DOMAIN), timeout=10)
        self.ready.set()

    def _on_message(self, msg: slixmpp.Message) -> None:
        if msg["type"] in ("chat", "normal") and msg["body"]:
            self.inbox.put(Received("chat", msg["from"].bare, msg["body"], msg["id"]))

    def _on_groupchat(self, msg: slixmpp.Message) -> None:
        if not msg["body"]:
            return
        item = Received("groupchat", msg["mucnick"], msg["body"], msg["id"])
        delayed = msg.get_plugin("delay", check=True) is not None
        (self.history if delayed else self.inbox).put(item)

    def call(self, func: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Run ``func`` (or await it, if it returns a coroutine) on the peer's loop."""
        async def wrapper() -> Any:
            result = func()
            if asyncio.iscoroutine(result):
                result = await result
            return result
        return asyncio.run_coroutine_threadsafe(wrapper(), self.loop).result(timeout)

    def join(self, room: str, nick: str, history: int = 0) -> None:
        """Join ``room`` as ``nick``; return once the self-presence arrived."""
        muc = self.client.plugin["xep_0045"]
        self.call(lambda: asyncio.wait_for(
            _join(muc, room, nick, history), 10))

    def say(self, room: str, text: str) -> str:
        """Send a groupchat message; return its id."""
        def send() -> str:
            msg = self.client.make_message(mto=room, mbody=text, mtype="groupchat")
            msg.send()
            return msg["id"]
        return self.call(send)

    def correct(self, room: str, original_id: str, text: str, mtype: str = "groupchat") -> None:
        """Send a XEP-0308 correction of ``original_id``."""
        def send() -> None:
            msg = self.client.make_message(mto=room, mbody=text, mtype=mtype)
            msg["replace"]["id"] = original_id
            msg.send()
        self.call(send)

    def dm(self, jid: str, text: str) -> str:
        def send() -> str:
            msg = self.client.make_message(mto=jid, mbody=text, mtype="chat")
            msg.send()
            return msg["id"]
        return self.call(send)

    def expect(self, predicate: Callable[[Received], bool], timeout: float = 10.0) -> Received:
        """Return the first inbox message matching ``predicate``; drop the others."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{self.jid}: no matching message within {timeout}s")
            try:
                item = self.inbox.get(timeout=left)
            except queue.Empty:
                continue
            if predicate(item):
                return item

    def stop(self) -> None:
        if not getattr(self, "loop", None) or self.loop.is_closed():
            return
        with contextlib.suppress(Exception):
            self.call(lambda: self.client.disconnect(wait=1), timeout=5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


async def _join(muc: Any, room: str, nick: str, history: int) -> None:
    # join_muc_wait waits for the subject too; Prosody sends an empty subject at once.
    await muc.join_muc_wait(room, nick, maxstanzas=history, timeout=10)


@pytest.fixture
def xmpp_peer(prosody: ProsodyServer) -> Iterator[Callable[[str], Peer]]:
    """A factory: ``xmpp_peer("alice")`` returns a logged-in Peer for that user."""
    peers: list[Peer] = []

    def make(user: str) -> Peer:
        peer = Peer(f"{user}@{DOMAIN}", USERS[user], prosody.port)
        peer.start()
        peers.append(peer)
        return peer

    yield make
    for peer in peers:
        peer.stop()


class TcpProxy:
    """A loopback TCP relay whose live connections a test can cut (link drop)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.accepted = 0
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True, name="tcp-proxy").start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target_port))
            with self.lock:
                self.sockets += [client, server]
                self.accepted += 1
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """Drop every relayed connection at once, both sides, without a stream close."""
        with self.lock:
            for sock in self.sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self.sockets.clear()

    def close(self) -> None:
        self.cut()
        self.listener.close()


@pytest.fixture
def tcp_proxy(prosody: ProsodyServer) -> Iterator[TcpProxy]:
    proxy = TcpProxy(prosody.port)
    yield proxy
    proxy.close()


STREAM_HEADER = (b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                 b"xmlns:stream='http://etherx.jabber.org/streams' id='s1' "
                 b"from='localhost' version='1.0'>")
PLAIN_FEATURES = (b"<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
                  b"<mechanism>PLAIN</mechanism></mechanisms></stream:features>")
STARTTLS_FEATURES = (b"<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>"
                     b"<required/></starttls></stream:features>")
PROCEED = b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"


class ScriptedServer:
    """A TCP server on 127.0.0.1 playing a stalled XMPP server.

    Each connection gets, once, the reply in ``script`` for each key the client's bytes
    contain (for example the stream header for ``b"<stream:stream"``), and nothing else.
    An empty script accepts connections and never says a word.
    """

    def __init__(self, script: dict[bytes, bytes] | None = None) -> None:
        self.script = script or {}
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepted = 0
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True, name="scripted-xmpp").start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.accepted += 1
            self.sockets.append(conn)
            threading.Thread(target=self._play, args=(conn,), daemon=True).start()

    def _play(self, conn: socket.socket) -> None:
        heard, pending = b"", dict(self.script)
        with contextlib.suppress(OSError):
            while data := conn.recv(65536):
                heard += data
                for key in [k for k in pending if k in heard]:
                    conn.sendall(pending.pop(key))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        self.listener.close()
        for conn in self.sockets:
            conn.close()


class RunningBot:
    """The XMPP transport under test, run on its own thread like the supervisor does.

    Delivered messages go to ``delivered``; ``!echo TEXT`` is answered with ``TEXT``
    (what the echo plugin does), so a peer can see replies. A ``deliver`` given here
    replaces that.
    """

    def __init__(self, transport: Any, deliver: Callable[[Any], None] | None = None) -> None:
        self.transport = transport
        self.delivered: queue.Queue = queue.Queue()
        self.thread = threading.Thread(target=transport.run, args=(deliver or self.deliver,),
                                       name=f"transport:{transport.name}", daemon=True)

    def deliver(self, message: Any) -> None:
        self.delivered.put(message)
        if message.text.startswith("!echo "):
            self.transport.send(message.target, message.text.removeprefix("!echo "))

    def start(self) -> RunningBot:
        self.thread.start()
        return self

    def wait_status(self, predicate: Callable[[Any], bool], timeout: float = 10.0) -> Any:
        return wait_for(lambda: (s := self.transport.status()) and predicate(s) and s,
                          timeout, "transport status")

    def wait_joined(self, *rooms: str, timeout: float = 10.0) -> Any:
        return self.wait_status(lambda s: set(rooms) <= set(s.targets), timeout)

    def next_message(self, timeout: float = 10.0) -> Any:
        try:
            return self.delivered.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"nothing delivered within {timeout}s") from None

    def stop(self, goodbye: str = "") -> None:
        self.transport.stop(goodbye)
        self.thread.join(15)
        assert not self.thread.is_alive(), "run() did not return after stop()"


@pytest.fixture
def xmpp_bot(prosody: ProsodyServer) -> Iterator[Callable[..., RunningBot]]:
    """A factory: ``xmpp_bot(rooms=(...), **settings)`` starts the transport as bot@localhost."""
    from univac.transports import xmpp

    bots: list[RunningBot] = []

    def make(name: str = "xmpp", **overrides: Any) -> RunningBot:
        values = {"jid": "bot@localhost", "password": USERS["bot"], "host": "127.0.0.1",
                  "port": prosody.port, "tls_ca_file": str(prosody.cafile),
                  "reconnect_min_s": 0.1, "reconnect_max_s": 1.0, **overrides}
        bot = RunningBot(xmpp.create(name, xmpp.Settings(**values)))
        bots.append(bot.start())
        return bot

    yield make
    for bot in bots:
        bot.stop()
