"""Real Synapse for the Matrix transport tests, and scripted matrix-nio users. Layer: tests.

Fixtures (auto-loaded by tests/conftest.py):

- ``synapse``: one Synapse homeserver for the whole session (server name ``localhost``)
  on a free port of 127.0.0.1, in a temp dir, SQLite, installed by
  ``scripts/install-test-servers`` into its own virtualenv (``synapse_python``). Users
  are registered through the shared-secret admin API; ``restart()`` stops and starts
  the same server (same database);
- ``matrix_user``: a factory of ``MatrixPeer`` clients (a second real user, registered
  afresh for each test), stopped at teardown;
- ``matrix_bot``: a factory of ``RunningBot`` for the Matrix transport under test,
  logged in as a bot user registered afresh for each test, its memory in an SQLite
  state store of that user's in the test's temp dir (``bot.lent``: tests/contexts.py);
  stopped (and its thread joined) at teardown.

``MatrixPeer`` runs nio on its own loop in its own thread, like the transport does, and
offers blocking calls with deadlines to the test thread.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import os
import queue
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from nio import AsyncClient, AsyncClientConfig, RoomCreateError, RoomPreset, RoomVisibility

from tests.contexts import Lent, lend
from tests.waiting import free_port, wait_for

FIXTURES = Path(__file__).parent / "fixtures" / "matrix"
SECRET = "test-shared-secret"
PASSWORD = "secret-pw"
_numbers = itertools.count(1)
SYNC_FILTER = {"room": {"timeline": {"limit": 1000}}}
"""The server sends 10 new events per room and sync by default; a burst needs more."""


def synapse_python() -> Path:
    """The Python of the virtualenv ``scripts/install-test-servers`` puts Synapse in."""
    cache = os.environ.get("UNIVAC_CACHE_DIR") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "univac")
    return Path(cache) / "synapse" / "bin" / "python"


def unique(prefix: str) -> str:
    """A name no other test of this session uses (users, room aliases)."""
    return f"{prefix}{next(_numbers)}"


@dataclass
class SynapseServer:
    """One Synapse process in ``dir`` listening on ``port``."""

    dir: Path
    port: int
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def write_config(self) -> None:
        for name in ("homeserver.yaml", "log.yaml"):
            text = (FIXTURES / name).read_text()
            text = text.replace("@DIR@", str(self.dir)).replace("@PORT@", str(self.port))
            (self.dir / name).write_text(text)

    def start(self, timeout: float = 60.0) -> None:
        """Start the server and wait until ``/health`` answers."""
        python = synapse_python()
        if not python.exists():
            raise AssertionError(f"Synapse is not installed ({python} is missing): "
                                 "run scripts/install-test-servers")
        log = (self.dir / "console.log").open("ab")
        self.proc = subprocess.Popen(
            [str(python), "-m", "synapse.app.homeserver", "-c", str(self.dir / "homeserver.yaml")],
            cwd=self.dir, stdout=log, stderr=subprocess.STDOUT,
        )
        wait_for(self._healthy, timeout, "synapse /health")

    def _healthy(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError("synapse exited: "
                                 + (self.dir / "console.log").read_text()[-3000:])
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=1) as answer:
                return answer.status == 200
        except (OSError, urllib.error.URLError):
            return False

    def stop(self) -> None:
        """SIGTERM the server and wait for it (it exits in well under a second)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def restart(self) -> None:
        self.stop()
        self.start()

    # -- admin API -----------------------------------------------------------

    def call(self, method: str, path: str, body: dict | None = None,
             token: str = "") -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(request, timeout=20) as answer:
            return json.load(answer)

    def register(self, user: str, password: str = PASSWORD, admin: bool = False) -> dict:
        """Register ``user`` with the shared secret; the answer has ``access_token``,
        ``device_id`` and ``user_id``."""
        path = "/_synapse/admin/v1/register"
        nonce = self.call("GET", path)["nonce"]
        mac = hmac.new(SECRET.encode(), digestmod=hashlib.sha1)
        mac.update(b"\x00".join([nonce.encode(), user.encode(), password.encode(),
                                 b"admin" if admin else b"notadmin"]))
        return self.call("POST", path, {"nonce": nonce, "username": user, "password": password,
                                        "admin": admin, "mac": mac.hexdigest()})

    def admin_token(self) -> str:
        if not getattr(self, "_admin", ""):
            self._admin = self.register(unique("admin"), admin=True)["access_token"]
        return self._admin

    def limit_messages(self, user_id: str, per_second: int, burst: int) -> None:
        """Lower the message rate limit of one user (admin API)."""
        self.call("POST", f"/_synapse/admin/v1/users/{user_id}/override_ratelimit",
                  {"messages_per_second": per_second, "burst_count": burst},
                  token=self.admin_token())

    def devices(self, user_id: str) -> list[str]:
        answer = self.call("GET", f"/_synapse/admin/v2/users/{user_id}/devices",
                           token=self.admin_token())
        return sorted(device["device_id"] for device in answer["devices"])


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SynapseServer]:
    """One running Synapse for the session, stopped at the end."""
    folder = tmp_path_factory.mktemp("synapse")
    server = SynapseServer(dir=folder, port=free_port())
    server.write_config()
    server.start()
    yield server
    server.stop()
    shutil.rmtree(folder / "media_store", ignore_errors=True)


@dataclass
class Seen:
    """One message (``m.room.message``) a peer saw from someone else."""

    room_id: str
    event: dict[str, Any]

    @property
    def sender(self) -> str:
        return self.event.get("sender", "")

    @property
    def content(self) -> dict[str, Any]:
        return self.event.get("content", {})

    @property
    def body(self) -> str:
        return self.content.get("body", "")


@dataclass
class MatrixPeer:
    """A scripted Matrix user on its own thread and loop (a second real client)."""

    server: SynapseServer
    user: str
    inbox: queue.Queue = field(default_factory=queue.Queue)

    @property
    def user_id(self) -> str:
        return f"@{self.user}:localhost"

    def start(self, timeout: float = 20.0, register: bool = True) -> MatrixPeer:
        """Log in (registering the user first unless ``register`` is false) and sync."""
        if register:
            self.server.register(self.user)
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True,
                                       name=f"peer:{self.user}")
        self.thread.start()
        assert ready.wait(timeout), f"{self.user} did not log in"
        return self

    def _run(self, ready: threading.Event) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        config = AsyncClientConfig(max_timeout_retry_wait_time=0.5)
        self.client = AsyncClient(self.server.url, self.user_id, config=config)
        self.loop.run_until_complete(self.client.login(PASSWORD))
        self.loop.run_until_complete(self.client.sync(timeout=0))
        self.syncing = self.loop.create_task(self._sync_forever())
        ready.set()
        self.loop.run_forever()
        self.syncing.cancel()
        self.loop.run_until_complete(asyncio.gather(self.syncing, return_exceptions=True))
        self.loop.run_until_complete(self.client.close())
        self.loop.close()

    async def _sync_forever(self) -> None:
        while True:
            answer = await self.client.sync(timeout=10000, sync_filter=SYNC_FILTER)
            rooms = getattr(answer, "rooms", None)
            if rooms is None:
                await asyncio.sleep(0.2)
                continue
            for room_id, info in rooms.join.items():
                for event in info.timeline.events:
                    source = event.source
                    if source.get("type") == "m.room.message" and \
                            source.get("sender") != self.user_id:
                        self.inbox.put(Seen(room_id, source))

    def call(self, make: Callable[[], Any], timeout: float = 20.0) -> Any:
        """Run the coroutine ``make()`` returns on the peer's loop; return its result."""
        return asyncio.run_coroutine_threadsafe(make(), self.loop).result(timeout)

    def create_room(self, alias: str = "", invite: tuple[str, ...] = (),
                    encrypted: bool = False, direct: bool = False) -> str:
        state = [{"type": "m.room.encryption", "state_key": "",
                  "content": {"algorithm": "m.megolm.v1.aes-sha2"}}] if encrypted else []
        answer = self.call(lambda: self.client.room_create(
            visibility=RoomVisibility.private, alias=alias or None, invite=invite,
            preset=RoomPreset.private_chat if direct else RoomPreset.public_chat,
            is_direct=direct, initial_state=state))
        assert not isinstance(answer, RoomCreateError), answer
        return answer.room_id

    def send(self, room_id: str, content: dict[str, Any]) -> str:
        answer = self.call(lambda: self.client.room_send(room_id, "m.room.message", content))
        assert hasattr(answer, "event_id"), answer
        return answer.event_id

    def say(self, room_id: str, text: str, thread: str = "") -> str:
        content: dict[str, Any] = {"msgtype": "m.text", "body": text}
        if thread:
            content["m.relates_to"] = {"rel_type": "m.thread", "event_id": thread,
                                       "is_falling_back": True,
                                       "m.in_reply_to": {"event_id": thread}}
        return self.send(room_id, content)

    def notice(self, room_id: str, text: str) -> str:
        return self.send(room_id, {"msgtype": "m.notice", "body": text})

    def edit(self, room_id: str, event_id: str, text: str) -> str:
        return self.send(room_id, {
            "msgtype": "m.text", "body": f"* {text}",
            "m.new_content": {"msgtype": "m.text", "body": text},
            "m.relates_to": {"rel_type": "m.replace", "event_id": event_id}})

    def join(self, room: str) -> str:
        answer = self.call(lambda: self.client.join(room))
        assert hasattr(answer, "room_id"), answer
        return answer.room_id

    def invite(self, room_id: str, user_id: str) -> None:
        self.call(lambda: self.client.room_invite(room_id, user_id))

    def members(self, room_id: str) -> list[str]:
        answer = self.call(lambda: self.client.joined_members(room_id))
        return sorted(member.user_id for member in answer.members)

    def expect(self, predicate: Callable[[Seen], bool], timeout: float = 20.0) -> Seen:
        """Return the first event seen matching ``predicate``; drop the others."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{self.user}: no matching event within {timeout}s")
            try:
                seen = self.inbox.get(timeout=left)
            except queue.Empty:
                continue
            if predicate(seen):
                return seen

    def stop(self) -> None:
        if getattr(self, "loop", None) and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)


@pytest.fixture
def matrix_user(synapse: SynapseServer) -> Iterator[Callable[[str], MatrixPeer]]:
    """A factory: ``matrix_user("alice")`` returns a logged-in peer (a fresh user)."""
    peers: list[MatrixPeer] = []

    def make(name: str = "alice") -> MatrixPeer:
        peer = MatrixPeer(synapse, unique(name)).start()
        peers.append(peer)
        return peer

    yield make
    for peer in peers:
        peer.stop()


@pytest.fixture
def matrix_bot(synapse: SynapseServer, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """A factory: ``matrix_bot(rooms=(...), **settings)`` starts the transport as a fresh
    bot user (``bot.user_id``); ``user=`` names a user registered already (an earlier
    bot's, to log in as it again); ``deliver=`` replaces the echoing test deliver."""
    from tests.integration.xmpp_servers import RunningBot  # here: a fixture module itself
    from univac.transports import matrix

    bots: list[RunningBot] = []
    lent: list[Lent] = []

    def make(name: str = "matrix", user: str = "", deliver: Callable | None = None,
             **overrides: Any) -> RunningBot:
        if not user:
            user = unique("bot")
            synapse.register(user)
        values = {"homeserver": synapse.url, "user_id": f"@{user}:localhost",
                  "password": PASSWORD, "state_file": str(tmp_path / f"{user}.json"),
                  "reconnect_min_s": 0.1, "reconnect_max_s": 1.0, **overrides}
        lent.append(lend(tmp_path / user, name))
        bot = RunningBot(matrix.create(name, matrix.Settings(**values), lent[-1].context),
                         deliver)
        bot.user_id = values["user_id"]
        bot.lent = lent[-1]
        bots.append(bot.start())
        return bot

    yield make
    for bot in bots:
        if bot.thread.is_alive():
            bot.stop()
    for each in lent:
        each.close()
