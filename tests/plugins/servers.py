"""Local servers for the plugin tests: an HTTP server and a DNS responder on 127.0.0.1.

Both bind port 0, run on daemon threads and are closed by their fixtures.

- ``HttpServer`` answers from a route table. A reply is usually a *recorded* response:
  a ``.http`` file under ``fixtures/<plugin>/`` holding the status line, the headers
  and the body exactly as the service sent them (``{base}`` stands for this server's
  URL). Like the real services it answers ``If-None-Match`` / ``If-Modified-Since``
  with 304 when the ETag / Last-Modified match. Every request is recorded, and every
  TCP connection accepted is counted (``connections``), also one closed at once.
- ``DnsServer`` is a tiny authoritative responder built on dnspython's
  ``dns.message.from_wire`` / ``make_response``, over UDP and TCP (truncating big UDP
  answers so resolvers retry over TCP). Names under ``silent.test.`` never get an
  answer; names under ``servfail.test.`` get SERVFAIL.
"""

from __future__ import annotations

import socket
import socketserver
import struct
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

FIXTURES = Path(__file__).parent / "fixtures"
DEADLINE_S = 10.0


@dataclass
class Reply:
    """One HTTP response to send."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    hold: threading.Event | None = None
    """When set, the server waits (up to a deadline) for this event before answering."""


@dataclass(frozen=True)
class Seen:
    """One request the server received."""

    path: str
    headers: dict[str, str]


def recorded(plugin: str, name: str, base: str = "") -> Reply:
    """Read ``fixtures/<plugin>/<name>``: a raw HTTP response, ``{base}`` replaced."""
    raw = (FIXTURES / plugin / name).read_bytes().replace(b"{base}", base.encode())
    head, _, body = raw.partition(b"\n\n")
    status_line, *header_lines = head.decode().splitlines()
    headers = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in header_lines)}
    return Reply(int(status_line.split()[1]), headers, body)


class HttpServer:
    """A threaded HTTP server on a loopback address answering from ``routes``."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, list[Reply]] = {}
        self.seen: list[Seen] = []
        self.connections = 0
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._server = _CountingServer((host, 0), _handler_for(self), self)
        self.base = f"http://{host}:{self._server.server_address[1]}"
        serve = self._server.serve_forever
        threading.Thread(target=serve, args=(0.05,), daemon=True).start()

    def route(self, path: str, *replies: Reply) -> None:
        """Answer ``path`` (with its query) by ``replies`` in turn; the last one stays."""
        with self._lock:
            self.routes[path] = list(replies)

    def record(self, plugin: str, path: str, *names: str) -> None:
        """Route ``path`` to recorded fixture files."""
        self.route(path, *(recorded(plugin, name, self.base) for name in names))

    def requests(self, prefix: str = "") -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.path.startswith(prefix)]

    def wait_requests(self, count: int, timeout: float = DEADLINE_S) -> list[Seen]:
        """Wait (with a deadline) until ``count`` requests arrived."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.seen) >= count, timeout):
                raise TimeoutError(f"only {len(self.seen)} of {count} requests arrived")
            return list(self.seen)

    def next_reply(self, path: str, headers: dict[str, str]) -> Reply:
        with self._arrived:
            self.seen.append(Seen(path, headers))
            self._arrived.notify_all()
            replies = self.routes.get(path)
            if not replies:
                return Reply(404, {"Content-Type": "application/json"}, b'{"message":"Not Found"}')
            return replies.pop(0) if len(replies) > 1 else replies[0]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> HttpServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class _CountingServer(ThreadingHTTPServer):
    """Counts every connection it accepts, before any byte is read from it."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler],
                 owner: HttpServer) -> None:
        self.owner = owner
        super().__init__(address, handler)

    def get_request(self) -> tuple[socket.socket, tuple[str, int]]:
        accepted = super().get_request()
        with self.owner._arrived:
            self.owner.connections += 1
        return accepted


def _handler_for(server: HttpServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            reply = server.next_reply(self.path, headers)
            if reply.hold is not None:
                reply.hold.wait(DEADLINE_S)
            if _not_modified(reply, headers):
                reply = Reply(304, {k: v for k, v in reply.headers.items() if k == "ETag"})
            self._send(reply)

        def _send(self, reply: Reply) -> None:
            try:
                self.send_response(reply.status)
                for key, value in reply.headers.items():
                    if key.lower() not in ("content-length", "connection"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
            except OSError:
                pass

        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

    return Handler


def _not_modified(reply: Reply, headers: dict[str, str]) -> bool:
    etag = reply.headers.get("ETag")
    modified = reply.headers.get("Last-Modified")
    if reply.status != 200:
        return False
    if etag and headers.get("if-none-match") == etag:
        return True
    return bool(modified and headers.get("if-modified-since") == modified)


class DnsServer:
    """An authoritative DNS responder for a small zone, on UDP and TCP."""

    def __init__(self, zone: dict[tuple[str, str], list[str]]) -> None:
        self.zone = zone
        self.stop = threading.Event()
        self.udp, self.tcp = self._bind_both()
        self.port = self.udp.getsockname()[1]
        self.queries = 0
        threading.Thread(target=self._serve_udp, daemon=True).start()
        threading.Thread(target=self.tcp.serve_forever, args=(0.05,), daemon=True).start()

    def _bind_both(self) -> tuple[socket.socket, _TcpServer]:
        """A UDP socket and a TCP server on the same free port (retry if TCP's is taken)."""
        for _attempt in range(20):
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.bind(("127.0.0.1", 0))
            try:
                tcp = _TcpServer(("127.0.0.1", udp.getsockname()[1]), _tcp_handler_for(self))
            except OSError:
                udp.close()
                continue
            return udp, tcp
        raise OSError("no port free for both UDP and TCP")

    def answer(self, wire: bytes, max_size: int) -> bytes | None:
        query = dns.message.from_wire(wire)
        self.queries += 1
        question = query.question[0]
        name = question.name.to_text().lower()
        if name.endswith("silent.test."):
            return None
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if name.endswith("servfail.test."):
            response.set_rcode(dns.rcode.SERVFAIL)
            return response.to_wire()
        key = (name, dns.rdatatype.to_text(question.rdtype))
        if key in self.zone:
            rdata = self.zone[key]
            response.answer.append(dns.rrset.from_text_list(question.name, 60, "IN", key[1], rdata))
        elif not any(known == name for known, _ in self.zone):
            response.set_rcode(dns.rcode.NXDOMAIN)
        try:
            return response.to_wire(max_size=max_size)
        except dns.exception.TooBig:
            response.answer.clear()
            response.flags |= dns.flags.TC
            return response.to_wire()

    def _serve_udp(self) -> None:
        while not self.stop.is_set():
            try:
                wire, address = self.udp.recvfrom(4096)
            except OSError:
                return
            reply = self.answer(wire, 512)
            if reply is not None:
                self.udp.sendto(reply, address)

    def close(self) -> None:
        self.stop.set()
        self.udp.close()
        self.tcp.shutdown()
        self.tcp.server_close()

    def __enter__(self) -> DnsServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class _TcpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def _tcp_handler_for(server: DnsServer) -> type[socketserver.BaseRequestHandler]:
    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            size = self.request.recv(2)
            if len(size) < 2:
                return
            wire = _recv_exactly(self.request, struct.unpack("!H", size)[0])
            reply = server.answer(wire, 65535)
            if reply is not None:
                self.request.sendall(struct.pack("!H", len(reply)) + reply)

    return Handler


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data
