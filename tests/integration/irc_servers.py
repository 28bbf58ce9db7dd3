"""Pytest fixtures for the IRC transport: a scripted fake server and real IRC servers.

Loaded for every test by tests/conftest.py. ``irc_fake`` is a line-exact scripted
server on 127.0.0.1 (lines in, bytes expected out); ``irc_bot`` runs the real transport
on a thread and collects what it delivers; ``ngircd`` and ``inspircd`` start real
servers from tests/integration/fixtures/irc in a temp dir on free ports.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import queue
import resource
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from tests.waiting import free_port
from univac import Message
from univac.transports import irc

FIXTURES = Path(__file__).parent / "fixtures" / "irc"
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


# ---------------------------------------------------------------------------------------
# scripted fake server


class FakeClient:
    """One accepted connection; the test reads exact lines and writes raw bytes."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""
        self.seen: list[bytes] = []

    def send(self, *lines: bytes) -> None:
        """Send raw bytes (each item as is: include the terminator)."""
        self.sock.sendall(b"".join(lines))

    def line(self, timeout: float = 5.0) -> bytes:
        """The next line the client sent, with its CRLF."""
        deadline = time.monotonic() + timeout
        while b"\r\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no line from the bot; seen so far: {self.seen!r}")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            if not data:
                raise AssertionError(f"bot closed the connection; seen: {self.seen!r}")
            self.buffer += data
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        self.seen.append(line + b"\r\n")
        return line + b"\r\n"

    def expect(self, wanted: bytes, timeout: float = 5.0) -> bytes:
        """Skip lines until one equals ``wanted`` exactly."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.line(max(0.01, deadline - time.monotonic()))
            if got == wanted:
                return got
            if time.monotonic() > deadline:
                raise AssertionError(f"never got {wanted!r}; seen: {self.seen!r}")

    def expect_prefix(self, prefix: bytes, timeout: float = 5.0) -> bytes:
        """Skip lines until one starts with ``prefix``."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.line(max(0.01, deadline - time.monotonic()))
            if got.startswith(prefix):
                return got
            if time.monotonic() > deadline:
                raise AssertionError(f"never got {prefix!r}; seen: {self.seen!r}")

    def closed(self, timeout: float = 5.0) -> bool:
        """Wait until the bot closes the connection (reading and keeping its lines)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return True
            if not data:
                return True
            self.buffer += data
        return False

    def register(self, nick: bytes = b"univac", motd: bool = True) -> None:
        """Play a plain server through CAP LS, NICK, USER, 001 and end of MOTD."""
        self.expect(b"CAP LS 302\r\n")
        self.expect_prefix(b"USER ")
        self.send(b":irc.test CAP * LS :x-unknown-cap\r\n")
        self.expect(b"CAP END\r\n")
        self.send(b":irc.test 001 " + nick + b" :Welcome\r\n")
        if motd:
            self.send(b":irc.test 376 " + nick + b" :End of MOTD\r\n")


class FakeServer:
    """Listens on 127.0.0.1:0 and hands accepted connections to the test."""

    def __init__(self, context: ssl.SSLContext | None = None) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.context = context
        self.accepted: queue.Queue[FakeClient] = queue.Queue()
        self.clients: list[FakeClient] = []
        threading.Thread(target=self._accept, daemon=True, name="fake-ircd").start()

    def _accept(self) -> None:
        while True:
            try:
                sock, _addr = self.listener.accept()
                if self.context is not None:
                    sock = self.context.wrap_socket(sock, server_side=True)
            except (OSError, ssl.SSLError):
                if self.listener.fileno() == -1:
                    return
                continue
            client = FakeClient(sock)
            self.clients.append(client)
            self.accepted.put(client)

    def accept(self, timeout: float = 5.0) -> FakeClient:
        """The next connection from the bot."""
        try:
            return self.accepted.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("the bot did not connect") from None

    def close(self) -> None:
        """Stop listening and drop every connection."""
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        self.listener.close()
        for client in self.clients:
            client.sock.close()


@pytest.fixture
def irc_fake() -> Iterator[Callable[..., FakeServer]]:
    """Factory for scripted fake IRC servers (plain, or TLS with a context)."""
    servers: list[FakeServer] = []

    def make(context: ssl.SSLContext | None = None) -> FakeServer:
        server = FakeServer(context)
        servers.append(server)
        return server

    make.servers = servers  # type: ignore[attr-defined]  # irc_bot closes them first
    yield make
    for server in servers:
        server.close()


# ---------------------------------------------------------------------------------------
# the transport under test


@dataclass
class BotHandle:
    """A running IRC transport and what it delivered."""

    transport: irc.IrcTransport
    thread: threading.Thread
    messages: queue.Queue[Message] = field(default_factory=queue.Queue)
    error: list[BaseException] = field(default_factory=list)

    def message(self, timeout: float = 5.0) -> Message:
        """The next delivered message."""
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("nothing was delivered") from None

    def no_message(self, within: float = 0.3) -> None:
        """Assert that nothing gets delivered within ``within`` seconds."""
        try:
            got = self.messages.get(timeout=within)
        except queue.Empty:
            return
        raise AssertionError(f"unexpected delivery: {got!r}")

    def stop(self, goodbye: str = "") -> None:
        """Stop the transport and wait for ``run`` to return."""
        self.transport.stop(goodbye)
        self.thread.join(10)
        assert not self.thread.is_alive(), "run() did not return after stop()"


FAST = {
    "tls": False,
    "reconnect_min_s": 0.05,
    "reconnect_max_s": 0.2,
    "motd_wait_s": 0.2,
    "sts_file": "",
}


@pytest.fixture
def irc_bot(tmp_path: Path, irc_fake) -> Iterator[Callable[..., BotHandle]]:
    """Factory: start the real transport on a thread with test-friendly settings."""
    bots: list[BotHandle] = []

    def start(port: int, echo: bool = False, **options) -> BotHandle:
        values = {**FAST, "sts_file": str(tmp_path / "sts.json"), **options}
        settings = irc.Settings(host=values.pop("host", "127.0.0.1"), port=port, **values)
        transport = irc.create("irc-test", settings)
        handle = BotHandle(transport, threading.Thread())

        def deliver(message: Message) -> None:
            handle.messages.put(message)
            if echo and message.text.startswith("!echo "):  # who asked, as the core passes it
                transport.send(message.target, message.text[len("!echo ") :], message.identity)

        def run() -> None:
            try:
                transport.run(deliver)
            except BaseException as error:  # surfaced by the test
                handle.error.append(error)

        handle.thread = threading.Thread(target=run, daemon=True, name="transport:irc-test")
        handle.thread.start()
        bots.append(handle)
        return handle

    yield start
    for server in irc_fake.servers:  # fake peers hang up first: QUIT needs no wait
        server.close()
    for bot in bots:
        if bot.thread.is_alive():
            bot.transport.stop()
            bot.thread.join(10)


def settings_for(port: int, **options) -> irc.Settings:
    """Settings for a test bot (plain TCP, fast backoff)."""
    return replace(irc.Settings(host="127.0.0.1", port=port, **FAST), **options)


# ---------------------------------------------------------------------------------------
# TLS material


@dataclass(frozen=True)
class TlsFiles:
    """A self-signed server certificate (localhost, 127.0.0.1) and a client certificate."""

    cert: str
    key: str
    client_cert: str
    client_key: str
    dh: str

    def client_fingerprint(self) -> str:
        """SHA-256 of the client certificate (DER), lower-case hex, as InspIRCd shows it."""
        der = ssl.PEM_cert_to_DER_cert(Path(self.client_cert).read_text())
        return hashlib.sha256(der).hexdigest()

    def server_context(self, require_client: bool = False) -> ssl.SSLContext:
        """A server-side context; optionally demanding the client certificate."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        if require_client:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(self.client_cert)
        return context


def make_cert(directory: Path, stem: str, subject: str) -> tuple[str, str]:
    """Create a self-signed RSA certificate with openssl; return (cert, key) paths."""
    cert, key = directory / f"{stem}.pem", directory / f"{stem}-key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "2", "-subj", subject,
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return str(cert), str(key)


@pytest.fixture(scope="session")
def irc_tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """Certificates shared by the TLS tests (made once per run)."""
    directory = tmp_path_factory.mktemp("irc-tls")
    cert, key = make_cert(directory, "server", "/CN=localhost")
    client_cert, client_key = make_cert(directory, "client", "/CN=univac-bot")
    dh = directory / "dh.pem"
    command = ["openssl", "genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt",
               "group:ffdhe2048", "-out", str(dh)]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True)
    return TlsFiles(cert, key, client_cert, client_key, str(dh))


# ---------------------------------------------------------------------------------------
# real servers


def _line_probe(port: int, send: bytes, until: bytes, timeout: float = 2.0) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(send)
        buffer = b""
        while until not in buffer:
            data = sock.recv(4096)
            if not data:
                break
            buffer += data
        return buffer.decode(errors="replace")


def _no_core() -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


class RealIrcd:
    """A real ngircd or InspIRCd (+ Anope) in a temp dir on free 127.0.0.1 ports."""

    def __init__(self, kind: str, tls: TlsFiles, accounts: dict[str, str] | None = None,
                 default_flood: bool = False, sts: bool = False,
                 account_tag: bool = True) -> None:  # fmt: skip
        self.kind, self.tls, self.accounts = kind, tls, accounts or {}
        self.default_flood, self.sts, self.account_tag = default_flood, sts, account_tag
        self.dir = Path(tempfile.mkdtemp(prefix=f"univac-{kind}-"))
        self.port, self.tls_port, self.link_port = free_port(), free_port(), free_port()
        self.strict_port = free_port()
        self.procs: list[subprocess.Popen] = []
        for name, source in (("cert.pem", tls.cert), ("key.pem", tls.key), ("dh.pem", tls.dh)):
            shutil.copy(source, self.dir / name)
            os.chmod(self.dir / name, 0o644)

    def _config(self, template: str, dest: Path) -> None:
        text = (FIXTURES / template).read_text()
        text = text.replace("16667", str(self.port)).replace("16697", str(self.tls_port))
        text = text.replace("16900", str(self.link_port)).replace("16668", str(self.strict_port))
        if self.default_flood:
            text = text.replace("MaxPenaltyTime = 0", "MaxPenaltyTime = -1")
        if not self.account_tag:
            text = text.replace('<module name="ircv3_accounttag">\n', "")
        if self.sts:  # a policy for "localhost" (TLS port), no services
            text = text.split("# --- SASL / accounts")[0]
            text += f'<module name="ircv3_sts">\n<sts host="localhost" port="{self.tls_port}" '
            text += 'duration="300">\n'
        dest.write_text(text)

    def _spawn(self, cmd: list[str], log: str, cwd: Path, core: bool = True) -> subprocess.Popen:
        with open(self.dir / log, "ab") as out:
            proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                    preexec_fn=None if core else _no_core)  # fmt: skip
        self.procs.append(proc)
        return proc

    def _wait(self, probe: Callable[[], bool], proc: subprocess.Popen, what: str) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{what} exited with {proc.returncode}; see {self.dir}")
            try:
                if probe():
                    return
            except OSError:
                pass
            threading.Event().wait(0.01)
        raise TimeoutError(what)

    def start(self) -> RealIrcd:
        """Start the server (and services) and wait until it answers."""
        if self.kind == "ngircd":
            self._config("ngircd.conf", self.dir / "ngircd.conf")
            proc = self._spawn(["ngircd", "-n", "-f", str(self.dir / "ngircd.conf")],
                               "ngircd.log", self.dir)  # fmt: skip
        else:
            self._config("inspircd.conf", self.dir / "inspircd.conf")
            root = ["--runasroot"] if os.getuid() == 0 else []
            cmd = ["inspircd", "--nofork", "--nopid", *root, f"--config={self.dir}/inspircd.conf"]
            proc = self._spawn(cmd, "stdout.log", self.dir, core=False)
        self._wait(lambda: " CAP " in _line_probe(self.port, b"CAP LS 302\r\n", b"\r\n"),
                   proc, self.kind)  # fmt: skip
        if self.kind == "inspircd" and not self.sts:
            self._start_anope()
        return self

    def _start_anope(self) -> None:
        anope = self.dir / "anope"
        anope.mkdir(exist_ok=True)
        self._config("anope-services.conf", anope / "services.conf")
        nickserv = Path("/etc/anope/nickserv.conf").read_text()
        nickserv = nickserv.replace("\tforceemail = yes", "\tforceemail = no")
        nickserv = nickserv.replace("\tregdelay = 30s", "\tregdelay = 0")
        nickserv = nickserv.replace('"killprotect ns_secure ', '"ns_secure ')
        (anope / "nickserv.conf").write_text(nickserv)
        certs = {"certbot": self.tls.client_fingerprint()}
        db = "".join(_account(u, p, certs.get(u, "")) for u, p in self.accounts.items())
        (anope / "anope.db").write_text(db)
        # The first database save (updatetimeout, 5 min) copies anope.db into backups/;
        # without the folder Anope quits ("Unable to back up database"), and SASL with it.
        (anope / "backups").mkdir(exist_ok=True)
        prefix: list[str] = []
        if os.getuid() == 0:  # Anope sleeps 3 s when started as root
            for path in (anope, *anope.iterdir()):
                shutil.chown(path, "nobody", "nogroup")
            os.chmod(self.dir, 0o755)
            prefix = NOBODY
        cmd = [*prefix, "anope", "--nofork", f"--confdir={anope}", f"--dbdir={anope}",
               f"--logdir={anope}", "--modulesdir=/usr/lib/anope",
               "--localedir=/usr/share/anope/locale"]  # fmt: skip
        proc = self._spawn(cmd, "anope.log", anope)
        self._wait(lambda: "sasl" in _line_probe(self.port, b"CAP LS 302\r\n", b"\r\n"),
                   proc, "anope")  # fmt: skip

    def kill(self) -> None:
        """Stop every process (SIGTERM, then SIGKILL)."""
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.procs.clear()

    def close(self) -> None:
        """Stop and remove the temp dir."""
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def _account(user: str, password: str, cert: str = "") -> str:
    encoded = base64.b64encode(password.encode()).decode()
    certs = f"DATA cert {cert}\n" if cert else ""
    return (
        f"OBJECT NickCore\nDATA display {user}\nDATA pass plain:{encoded}\n{certs}"
        f"DATA email {user}@example.test\nEND\nOBJECT NickAlias\nDATA nick {user}\n"
        f"DATA nc {user}\nDATA time_registered 1700000000\nDATA last_seen 1700000000\nEND\n"
    )


@pytest.fixture
def ngircd(irc_tls: TlsFiles) -> Iterator[Callable[..., RealIrcd]]:
    """Factory: start a real ngircd (flood penalties off unless ``default_flood``)."""
    servers: list[RealIrcd] = []

    def start(default_flood: bool = False) -> RealIrcd:
        server = RealIrcd("ngircd", irc_tls, default_flood=default_flood)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.close()


INSPIRCD_ACCOUNTS = {"alice": "alicepw", "univacbot": "botpw", "certbot": "unused-pw"}


@pytest.fixture(scope="session")
def inspircd(irc_tls: TlsFiles) -> Iterator[RealIrcd]:
    """One real InspIRCd + Anope for the session, with accounts ``INSPIRCD_ACCOUNTS``."""
    server = RealIrcd("inspircd", irc_tls, accounts=INSPIRCD_ACCOUNTS)
    try:
        yield server.start()
    finally:
        server.close()


@pytest.fixture(scope="session")
def inspircd_without_account_tag(irc_tls: TlsFiles) -> Iterator[RealIrcd]:
    """InspIRCd + Anope without ``account-tag``: a client learns accounts only from
    extended-join, account-notify and WHOX (like servers that predate the tag)."""
    server = RealIrcd("inspircd", irc_tls, accounts=INSPIRCD_ACCOUNTS, account_tag=False)
    try:
        yield server.start()
    finally:
        server.close()


# ---------------------------------------------------------------------------------------
# a scripted human on a real server


class IrcUser:
    """A minimal raw-socket IRC user for integration tests (registers, joins, talks)."""

    def __init__(self, port: int, nick: str, caps: tuple[str, ...] = (),
                 sasl: tuple[str, str] | None = None) -> None:  # fmt: skip
        self.nick = nick
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""
        self.lines: list[str] = []
        wanted = [*caps, "sasl"] if sasl else list(caps)
        if wanted:
            self.raw(f"CAP REQ :{' '.join(wanted)}")
        self.raw(f"NICK {nick}")
        self.raw(f"USER {nick} 0 * :{nick}")
        if sasl:
            self.wait(lambda line: " ACK " in line)
            self.raw("AUTHENTICATE PLAIN")
            self.wait(lambda line: "AUTHENTICATE" in line)
            token = base64.b64encode(f"{sasl[0]}\0{sasl[0]}\0{sasl[1]}".encode()).decode()
            self.raw(f"AUTHENTICATE {token}")
            self.wait(lambda line: " 903 " in line)
        if wanted:
            self.raw("CAP END")
        self.wait(lambda line: " 001 " in line, timeout=15)

    def raw(self, line: str) -> None:
        """Send one line."""
        self.sock.sendall(line.encode() + b"\r\n")

    def say(self, target: str, text: str) -> None:
        """PRIVMSG ``target``."""
        self.raw(f"PRIVMSG {target} :{text}")

    def join(self, channel: str) -> None:
        """JOIN and wait for the end of NAMES."""
        self.raw(f"JOIN {channel}")
        self.wait(lambda line: " 366 " in line and channel.lower() in line.lower())

    def wait(self, predicate: Callable[[str], bool], timeout: float = 10.0) -> str:
        """Read lines (answering PING) until one matches."""
        deadline = time.monotonic() + timeout
        while True:
            while b"\n" in self.buffer:
                raw, self.buffer = self.buffer.split(b"\n", 1)
                line = raw.rstrip(b"\r").decode(errors="replace")
                self.lines.append(line)
                if line.startswith("PING"):
                    self.raw("PONG" + line[4:])
                if predicate(line):
                    return line
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{self.nick}: timed out; last lines {self.lines[-5:]!r}")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            if not data:
                raise AssertionError(f"{self.nick}: server closed; last {self.lines[-5:]!r}")
            self.buffer += data

    def close(self) -> None:
        """QUIT and close."""
        with contextlib.suppress(OSError):
            self.raw("QUIT :done")
        self.sock.close()



@pytest.fixture
def inspircd_sts(irc_tls: TlsFiles) -> Iterator[RealIrcd]:
    """A real InspIRCd (no services) advertising an STS policy for ``localhost``."""
    server = RealIrcd("inspircd", irc_tls, sts=True)
    try:
        yield server.start()
    finally:
        server.close()
