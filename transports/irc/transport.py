"""The IRC transport: settings, the reconnect loop, and the thread-safe API.

Layer: transport (IRC adapter). ``run`` executes on the transport's own thread (the
I/O thread): it dials, serves one connection with ``link.LinkIO``, and redials
with ``univac.Backoff``, which starts again after a connection registered for
``healthy_after_s`` (no delay for the first retry after a server's RECONNECT/ERROR; a
second ``Backoff`` of ``auth_failure_backoff_s`` after an auth failure). Each drop is
logged as a WARNING with the wait before the next dial, and each registered link as
INFO with the number of dials and, after a drop, how long the link was down. ``send``,
``stop`` and ``status`` are called from other threads: text goes to the ``Sender``
(sender.py), which owns all output, and status is a snapshot published by the I/O
thread under a lock. Protocol pieces live in the sibling modules of this package; see
docs/irc.md.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from dataclasses import dataclass
from typing import Literal

from univac import Backoff, Deliver, SettingsError, TransportError, TransportStatus

from . import net
from .caps import Caps, SaslConfig
from .channels import Channels
from .inbound import Inbound
from .lines import LineFramer
from .link import LinkIO
from .sender import Sender
from .session import Identity, Session, Timing
from .state import Closed, Link

log = logging.getLogger("univac.transports.irc")

Mechanism = Literal["", "PLAIN", "EXTERNAL", "SCRAM-SHA-256", "ECDSA-NIST256P-CHALLENGE"]


@dataclass(frozen=True)
class Settings:
    """Keys of an ``[[transports]]`` table with ``type = "irc"`` (see docs/irc.md)."""

    host: str
    port: int = 0
    tls: bool = True
    tls_verify: bool = True
    tls_ca_file: str = ""
    tls_fingerprint: str = ""
    tls_cert_file: str = ""
    tls_key_file: str = ""
    tls_server_name: str = ""
    password: str = ""
    nick: str = "univac"
    alt_nicks: tuple[str, ...] = ()
    username: str = "univac"
    realname: str = "Univac bot"
    channels: tuple[str, ...] = ()
    sasl_mechanism: Mechanism = ""
    sasl_username: str = ""
    sasl_password: str = ""
    sasl_key_file: str = ""
    sasl_required: bool = True
    echo_message: bool = False
    connect_timeout_s: float = 15.0
    tls_handshake_timeout_s: float = 15.0
    first_byte_timeout_s: float = 20.0
    register_timeout_s: float = 60.0
    motd_wait_s: float = 2.0
    ping_interval_s: float = 10.0
    ping_timeout_s: float = 15.0
    join_timeout_s: float = 15.0
    join_retry_max_s: float = 600.0
    nick_regain_s: float = 60.0
    reconnect_min_s: float = 2.0
    reconnect_max_s: float = 300.0
    healthy_after_s: float = 60.0
    auth_failure_backoff_s: float = 900.0
    flood_burst: int = 8
    flood_rate: float = 1.0
    max_queued_lines: int = 200
    max_queued_bytes: int = 4 * 1024 * 1024
    max_lines_per_reply: int = 0
    more_command: str = "!more"
    max_line_bytes: int = 8704
    max_buffer_bytes: int = 65536
    fallback_encoding: str = "cp1252"
    edit_prefixes: tuple[str, ...] = ("[edit] ", "* ")
    playback_skew_s: float = 5.0
    sts_file: str = ""

    def __post_init__(self) -> None:
        problem = _problem(self)
        if problem:
            raise ValueError(problem)


def _problem(s: Settings) -> str:
    """Raise SettingsError with everything wrong with ``s``, each under its key; else ``""``."""
    needs = {"PLAIN": s.sasl_password, "SCRAM-SHA-256": s.sasl_password,
             "EXTERNAL": s.tls_cert_file, "ECDSA-NIST256P-CHALLENGE": s.sasl_key_file}  # fmt: skip
    what = {"PLAIN": "sasl_password", "SCRAM-SHA-256": "sasl_password",
            "EXTERNAL": "tls_cert_file", "ECDSA-NIST256P-CHALLENGE": "sasl_key_file"}  # fmt: skip
    problems = {}
    if not 0 <= s.port <= 65535:
        problems["port"] = "must be 0..65535"
    if s.flood_burst < 1:
        problems["flood_burst"] = "must be at least 1"
    if s.flood_rate < 0:
        problems["flood_rate"] = "must be at least 0"
    if s.max_queued_lines < 1:
        problems["max_queued_lines"] = "must be at least 1"
    if s.max_queued_bytes < 4096:
        problems["max_queued_bytes"] = "must be at least 4096"
    if s.max_line_bytes < 512:
        problems["max_line_bytes"] = "must be at least 512"
    elif s.max_buffer_bytes < s.max_line_bytes:
        problems["max_buffer_bytes"] = "must be at least max_line_bytes"
    if s.sasl_mechanism and not needs[s.sasl_mechanism]:
        problems["sasl_mechanism"] = f"{s.sasl_mechanism} needs {what[s.sasl_mechanism]}"
    if problems:
        raise SettingsError(problems)
    return ""


def create(name: str, settings: Settings) -> IrcTransport:
    """Build the transport (nothing connects until ``run``)."""
    if not settings.host:
        raise TransportError(f"{name}: irc needs a host")
    return IrcTransport(name, settings)


class IrcTransport:
    """One IRC network connection, kept up until ``stop``."""

    def __init__(self, name: str, settings: Settings) -> None:
        self.name = name
        self.settings = settings
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._status = TransportStatus("starting")
        self._last_inbound: float | None = None
        self._sts_port = 0
        self._sender = Sender(name, flood_burst=settings.flood_burst,
                              flood_rate=settings.flood_rate,
                              max_queued_lines=settings.max_queued_lines,
                              max_queued_bytes=settings.max_queued_bytes,
                              max_lines_per_reply=settings.max_lines_per_reply,
                              more_command=settings.more_command)  # fmt: skip
        self._channels = Channels(settings.channels, settings.join_timeout_s,
                                  settings.join_retry_max_s)  # fmt: skip
        self._inbound = Inbound(name, settings.edit_prefixes, settings.playback_skew_s)
        self._session: Session | None = None
        self._next_publish = 0.0
        self._published: tuple = ()
        self._sessions = 0
        self._dials = 0
        self._down_since: float | None = None

    # thread-safe API ---------------------------------------------------------

    def send(self, target: str, text: str, requester: str = "") -> None:
        """Queue ``text`` for ``target``; the I/O thread splits and sends it. Replies are
        queued and dropped fairly by ``requester`` (who asked), else by target."""
        self._sender.submit(target, text, requester)

    def stop(self, goodbye: str = "") -> None:
        """Ask ``run`` to QUIT with ``goodbye`` and return."""
        self._sender.goodbye = goodbye
        self._stop.set()
        self._sender.wake()

    def status(self) -> TransportStatus:
        """The last snapshot the I/O thread published, with live traffic times."""
        with self._lock:
            snapshot = self._status
        session = self._session
        pong = session.last_pong if session is not None else None
        return dataclasses.replace(snapshot, last_inbound=self._last_inbound, last_pong=pong,
                                   dropped=self._sender.dropped())

    # I/O thread ----------------------------------------------------------------

    def run(self, deliver: Deliver) -> None:
        """Connect, serve, reconnect with backoff; return once ``stop`` was called."""
        s = self.settings
        backoff = Backoff(s.reconnect_min_s, s.reconnect_max_s, healthy_after_s=s.healthy_after_s)
        auth = Backoff(s.auth_failure_backoff_s, s.auth_failure_backoff_s, jitter=0.1)
        self._dials, self._down_since = 0, None
        self._sender.io_thread = threading.get_ident()
        try:
            while not self._stop.is_set():
                self._dials += 1
                closed = self._connect_and_serve(deliver)
                if closed is None:
                    break
                if self._registered_for() >= 0:  # the link was up: downtime starts now
                    self._down_since = time.monotonic()
                    backoff.started(time.monotonic() - self._registered_for())
                delay = self._delay(closed, backoff, auth)
                log.warning("%s: %s; reconnecting in %.1f s", self.name, closed.reason, delay)
                self._publish("disconnected", closed.reason)
                self._stop.wait(delay)
        finally:
            self._publish("stopped", "")  # the wake-up pipe stays open: run may be called again

    def _came_up(self, link: Link) -> None:
        """A link registered: log it at INFO with the dials (and downtime) it took."""
        where = f"{self.settings.host}:{link.port}"
        dials, self._dials = self._dials, 0
        if self._down_since is None:
            log.info("%s: connected to %s as %s (attempt %d)", self.name, where, link.nick, dials)
            return
        down, self._down_since = time.monotonic() - self._down_since, None
        log.info("%s: reconnected to %s as %s after %.1f s down (attempt %d)",
                 self.name, where, link.nick, down, dials)  # fmt: skip

    def _registered_for(self) -> float:
        session = self._session
        if session is None or not session.link.registered:
            return -1.0
        return time.monotonic() - session.link.registered_at

    @staticmethod
    def _delay(closed: Closed, backoff: Backoff, auth: Backoff) -> float:
        """Seconds before the next dial; every drop counts in ``backoff``."""
        delay = backoff.failed()
        if closed.backoff == "auth":
            return auth.failed()
        if closed.backoff == "now" and backoff.failures == 1:
            return 0.0  # the server asked us to come back: the first retry is at once
        return delay

    def _connect_and_serve(self, deliver: Deliver) -> Closed | None:
        self._session = None
        self._publish("connecting", "")
        try:
            sock, link = self._dial()
        except net.NetError as error:
            return Closed(str(error))
        session = None
        try:
            session = self._new_session(link, deliver)
            framer = LineFramer(self.settings.max_line_bytes, self.settings.max_buffer_bytes)
            LinkIO(sock, session, self._sender, framer, self._stop,
                   self.settings.fallback_encoding, self._saw_inbound,
                   self._publish_live).serve()  # fmt: skip
            return None
        except Closed as closed:
            self._sts_port = closed.sts_port
            return closed
        except Exception as error:  # transport-loop boundary: log, redial
            log.exception("%s: connection failed unexpectedly", self.name)
            return Closed(f"internal error: {type(error).__name__}")
        finally:
            sock.close()
            if session is not None:
                session.caps.on_closed(link, time.time())

    def _dial(self):
        s = self.settings
        now = time.time()
        sts_path = s.sts_file or net.default_sts_path()
        sts_port = self._sts_port or net.load_sts(sts_path, s.host, now)
        self._sts_port = 0
        tls = bool(sts_port) or s.tls
        port = sts_port or s.port or (6697 if tls else 6667)
        sock = net.connect(s.host, port, s.connect_timeout_s, self._stop.is_set)
        if tls:
            sock = self._tls(sock, enforce=bool(sts_port))
        return sock, Link(s.nick, s.nick, tls, time.time(), port)

    def _tls(self, sock, enforce: bool):
        s = self.settings
        pin = net.normalize_fingerprint(s.tls_fingerprint)
        try:
            context = net.tls_context(s.tls_verify or enforce, s.tls_ca_file, bool(pin),
                                          s.tls_cert_file, s.tls_key_file)  # fmt: skip
        except (OSError, ValueError) as error:
            sock.close()
            raise TransportError(f"{self.name}: TLS settings: {error}") from error
        sock = net.wrap(sock, context, s.tls_server_name or s.host,
                            s.tls_handshake_timeout_s, self._stop.is_set)  # fmt: skip
        if pin and net.fingerprint(sock) != pin:
            sock.close()
            raise net.NetError("TLS certificate does not match tls_fingerprint")
        return sock

    def _new_session(self, link: Link, deliver: Deliver) -> Session:
        s = self.settings
        self._sender.new_link()
        self._channels.reset()
        self._inbound.reset()
        sasl = SaslConfig(s.sasl_mechanism, s.sasl_username or s.nick, s.sasl_password,
                          s.sasl_key_file, s.sasl_required)  # fmt: skip
        sts_path = s.sts_file or net.default_sts_path()
        caps = Caps(sasl, s.echo_message, sts_path, s.host, link.port)
        who = Identity(s.nick, s.alt_nicks, s.username, s.realname, s.password)
        timing = Timing(s.register_timeout_s, s.motd_wait_s, s.ping_interval_s,
                        s.ping_timeout_s, s.nick_regain_s, s.first_byte_timeout_s)  # fmt: skip
        self._session = Session(link, self._sender, caps, self._channels, self._inbound, who,
                                timing, deliver, time.monotonic())  # fmt: skip
        return self._session

    def _saw_inbound(self, data: bytes) -> None:
        self._last_inbound = time.time()

    def _publish_live(self) -> None:
        session = self._session
        if session is None or not session.link.registered:
            return
        now = time.monotonic()
        key = (session.link.nick, self._channels.version, self._status.state)
        if key != self._published or now >= self._next_publish:
            self._next_publish = now + 1.0
            if self._status.state != "connected":
                self._sessions += 1
                self._came_up(session.link)
            self._publish("connected", self._channels.problems())
            self._published = (session.link.nick, self._channels.version, "connected")

    def _publish(self, state: str, detail: str) -> None:
        session = self._session
        nick = session.link.nick if session else self.settings.nick
        targets = self._channels.targets() if state == "connected" else ()
        snapshot = TransportStatus(state, nick, targets, detail, self._last_inbound,
                                   reconnects=max(0, self._sessions - 1))
        with self._lock:
            self._status = snapshot
