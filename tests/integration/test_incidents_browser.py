"""An incident's page in a real browser: headless Chromium (the Debian package) behind a
small reverse proxy that signs it in, as nginx would in production.

Why a proxy and not a header set from the browser (Selenium and Chrome DevTools'
``Network.setExtraHTTPHeaders``): it is the set-up the pages are made for. The bot
believes ``X-Forwarded-User`` only from its trusted proxy, here 127.0.0.2 (the proxy
connects to the bot from that address), so the test goes through the real check, the
browser talks to the proxy only, and no Python dependency or WebDriver is needed: the
``chromium`` command line takes the screenshot and dumps the DOM. A token in the URL
was never an option: tokens in URLs leak into logs and history.
"""

from __future__ import annotations

import http.client
import http.server
import logging
import shutil
import struct
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from tests.plugins.incidents.helpers import Clock, ask, created_id
from tests.plugins.incidents.week import write_store
from tests.plugins.test_http import HTTP_LOG, served_port
from univac.plugins.incidents import digest
from univac.testing import Harness

pytestmark = pytest.mark.integration
PROXY_ADDRESS = "127.0.0.2"
PHONE = (390, 844)
ROLES = {"sre": {"*": ["test:alice", "http:alice"]}}


def chromium() -> str:
    """The browser; a clear failure (not a skip) where it is missing."""
    found = shutil.which("chromium")
    if not found:
        pytest.fail("Chromium is not installed: run scripts/install-test-servers "
                    "(Debian packages chromium and chromium-driver)")
    return found


class SigningProxy(http.server.ThreadingHTTPServer):
    """A reverse proxy on 127.0.0.1: ``/incidents...`` to the bot's ``/hooks/incidents...``,
    from 127.0.0.2, with ``X-Forwarded-User`` set to its user (whatever the client sent)."""

    daemon_threads = True

    def __init__(self, upstream: int, user: str) -> None:
        self.upstream, self.user = upstream, user
        super().__init__(("127.0.0.1", 0), ProxyHandler)


class ProxyHandler(http.server.BaseHTTPRequestHandler):
    server: SigningProxy

    def do_GET(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.server.upstream, timeout=30,
                                                source_address=(PROXY_ADDRESS, 0))
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("x-forwarded-user", "host", "connection")}
        connection.request("GET", "/hooks" + self.path,
                           headers=headers | {"X-Forwarded-User": self.server.user})
        answer = connection.getresponse()
        body = answer.read()
        connection.close()
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in ("connection", "transfer-encoding", "server", "date"):
                self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def proxied(univac_bot: Callable[..., Harness], tmp_path: Path,
            caplog: pytest.LogCaptureFixture) -> Iterator[tuple[Harness, int, str]]:
    """A bot serving the pages, trusting the proxy at 127.0.0.2; the bot's port and the
    proxy's base URL."""
    settings = {"incidents": {"writers": "sre", "folder": str(tmp_path / "incidents"),
                              "shift_zone": "Europe/Berlin",
                              "reports_folder": str(tmp_path / "reports"),
                              "page_user_header": "X-Forwarded-User",
                              "page_proxies": [PROXY_ADDRESS]},
                "http": {"port": 0, "idle_timeout_s": 5}}
    with caplog.at_level(logging.INFO, logger=HTTP_LOG):
        bot = univac_bot("incidents", "http", roles=ROLES, clock=Clock(), settings=settings)
    port = served_port(caplog)
    assert port, bot.errors
    proxy = SigningProxy(port, "alice")
    thread = threading.Thread(target=proxy.serve_forever, name="proxy", daemon=True)
    thread.start()
    yield bot, port, f"http://127.0.0.1:{proxy.server_address[1]}"
    proxy.shutdown()
    proxy.server_close()


def browse(tmp_path: Path, url: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    """One headless Chromium run (root needs --no-sandbox) with a profile of its own."""
    command = [chromium(), "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}",
               f"--window-size={PHONE[0]},{PHONE[1]}", *arguments, url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", data[:16]
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_an_incident_page_in_chromium_on_a_phone(proxied, tmp_path: Path) -> None:
    bot, port, base = proxied
    found = created_id(ask(bot, "!inc create --sev P1 --service gateway Gateway 5xx <b>"))
    ask(bot, f"!inc log {found} rolled back release 2026.03.1")
    ask(bot, f"!inc coordinator {found} carol")

    shot = tmp_path / "incident.png"
    browse(tmp_path, f"{base}/incidents/{found}", f"--screenshot={shot}")
    assert png_size(shot) == PHONE

    dom = browse(tmp_path, f"{base}/incidents/{found}", "--dump-dom").stdout
    soup = BeautifulSoup(dom, "html.parser")
    assert soup.h1.get_text(" ", strip=True) == "P1 Gateway 5xx <b>"
    timeline = [[td.get_text(" ", strip=True) for td in tr.find_all("td")]
                for tr in soup.find(id="timeline").tbody.find_all("tr")]
    assert timeline == [
        ["2026-03-02 10:00 CET", "alice", "created", "Gateway 5xx <b>"],
        ["2026-03-02 10:00 CET", "alice", "comment", "rolled back release 2026.03.1"],
        ["2026-03-02 10:00 CET", "alice", "coordinator", "carol"],
    ]
    assert "signed in as alice" in soup.header.get_text(" ", strip=True)

    listing = tmp_path / "incidents.png"
    browse(tmp_path, f"{base}/incidents", f"--screenshot={listing}")
    assert png_size(listing) == PHONE
    listed = BeautifulSoup(browse(tmp_path, f"{base}/incidents", "--dump-dom").stdout,
                           "html.parser")
    assert listed.find(id="open").find("a")["href"] == f"incidents/{found}"

    direct = browse(tmp_path, f"http://127.0.0.1:{port}/hooks/incidents/{found}",
                    "--dump-dom").stdout
    assert "Sign in to see incidents." in direct and "Gateway" not in direct


def test_a_weekly_digest_page_in_chromium_on_a_phone(proxied, tmp_path: Path) -> None:
    made = digest.build(write_store(tmp_path / "log"), digest.Week.parse("2026-W09"))
    digest.write(tmp_path / "reports" / "incidents" / "weekly", made)
    _, _, base = proxied
    shot = tmp_path / "weekly.png"
    browse(tmp_path, f"{base}/incidents/weekly/2026-W09", f"--screenshot={shot}")
    assert png_size(shot) == PHONE
    soup = BeautifulSoup(browse(tmp_path, f"{base}/incidents/weekly/2026-W09",
                                "--dump-dom").stdout, "html.parser")
    assert soup.h1.get_text(strip=True) == "Incident digest 2026-W09"
    counts = [tr.get_text(" ", strip=True) for tr in soup.find(id="counts")("tr")]
    assert counts[:3] == ["New incidents 4", "Resolved 2", "Mean time to resolve 1h 51m"]
    resolved = [td.get_text(" ", strip=True) for td in soup.find(id="resolved").tbody.tr("td")]
    assert resolved[0] == "API 5xx | spike inc_20260224_0000_aa0000"
