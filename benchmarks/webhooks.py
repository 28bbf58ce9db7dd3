"""Webhook benchmark: signed GitHub deliveries per second and their latency.

Run it from the checkout (results and their meaning: docs/performance.md)::

    .venv/bin/python benchmarks/webhooks.py              # 3 runs of 2,000 deliveries per level
    .venv/bin/python benchmarks/webhooks.py --quick      # 1 run of 200 (smoke test)

Two servers answer the same signed deliveries, each in its own process:

- ``bare``: the baseline, a WSGI app on waitress (the server the http plugin uses, with
  the plugin's default of 8 worker threads) that reads the body, checks its
  ``X-Hub-Signature-256`` HMAC and answers 200: the least any webhook server must do;
- ``univac``: a real ``univac`` process with the product's default settings: the
  ``http`` plugin (signature check, delivery ids and body digests remembered in the
  embedded SQLite state store, durable before the answer) and a webhook handler that
  does nothing more (``benchmarks/plugins/received.py``): the cost of Univac's webhook
  machinery, which is what the target is about;
- ``hooks``: the same with the ``hooks`` plugin instead, which parses each push and
  posts a chat line (on the console transport, to /dev/null): a whole delivery.

This process is the load: ``concurrency`` threads, each with one keep-alive
connection, post ``deliveries`` pushes (each body different, each with its own
``X-GitHub-Delivery``), and the time from sending a request to reading its answer is
recorded. For each level (1, 8 and 32 at once) both servers are measured in every run,
in alternating order; the table gives medians over the runs and the ratio of univac's
throughput to the bare app's measured in the same run. Target: at concurrency 8, at
least half the bare app's throughput.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from dispatch import machine  # the same machine line as the other benchmarks

ROOT = Path(__file__).resolve().parents[1]
PUSH = ROOT / "tests" / "plugins" / "fixtures" / "hooks" / "push.json"
RECEIVED = Path(__file__).resolve().parent / "plugins" / "received.py"
KINDS = ("bare", "univac", "hooks")
SECRET = "benchmark-webhook-secret"
LEVELS = (1, 8, 32)
THREADS = 8
"""The http plugin's default worker threads; the bare app gets as many."""
TARGET_RATIO = 0.5
CONFIG = """\
[bot]
plugins = ["http", "{plugin}"]
state_dir = "{state}"

[[transports]]
type = "console"

[plugins.http]
port = {port}
webhook_secret = "{secret}"

[plugins.{plugin}]
"""
HOOKS = """targets = ["console:#dev"]\n"""


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bare_app(environ: dict, start_response) -> list[bytes]:
    """What every webhook server must do: read the body and check its signature."""
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    given = environ.get("HTTP_X_HUB_SIGNATURE_256", "")
    ok = hmac.compare_digest(given, f"sha256={digest}")
    start_response("200 OK" if ok else "401 Unauthorized", [("Content-Type", "text/plain")])
    return [b"ok\n" if ok else b"bad signature\n"]


def serve_bare(port: int) -> None:
    """The baseline server's process: waitress with the http plugin's default threads."""
    import waitress

    waitress.serve(bare_app, host="127.0.0.1", port=port, threads=THREADS, _quiet=True)


class Server:
    """One server under test, as a child process, ready when it answers."""

    def __init__(self, kind: str, folder: Path) -> None:
        self.kind = kind
        self.port = free_port()
        if kind == "bare":
            command = [sys.executable, __file__, "--bare", str(self.port)]
            path = "/"
        else:
            plugin = "hooks" if kind == "hooks" else str(RECEIVED)
            config = folder / f"{kind}.toml"
            text = CONFIG.format(state=folder / kind, port=self.port, plugin=plugin,
                                 secret=SECRET)
            text = text + HOOKS if kind == "hooks" else text.replace(f"[plugins.{plugin}]\n", "")
            config.write_text(text, encoding="utf-8")
            command = [sys.executable, "-m", "univac", "--config", str(config)]
            path = "/hooks/github"
        self.path = path
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._wait_ready()

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.kind} server exited with {self.process.returncode}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                connection.request("GET", "/" if self.kind == "bare" else "/healthz")
                if connection.getresponse().status in (200, 401):
                    return
            except OSError:
                pass
            threading.Event().wait(0.05)  # a poll interval while a child process starts
        raise RuntimeError(f"{self.kind} server did not answer within {timeout} s")

    def cpu_s(self) -> float:
        """CPU time (user + system) the server's process has used so far."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.terminate()
        self.process.wait(30)


def deliveries(count: int, tag: str) -> list[tuple[bytes, dict[str, str]]]:
    """``count`` signed pushes, each body and delivery id different."""
    base = json.loads(PUSH.read_text(encoding="utf-8"))
    made = []
    for number in range(count):
        base["after"] = hashlib.sha1(f"{tag}-{number}".encode()).hexdigest()
        body = json.dumps(base).encode()
        signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        made.append((body, {
            "Content-Type": "application/json", "X-GitHub-Event": "push",
            "X-GitHub-Delivery": f"{tag}-{number}", "X-Hub-Signature-256": signature,
        }))
    return made


def load(server: Server, concurrency: int, work: list[tuple[bytes, dict[str, str]]]) -> dict:
    """Post ``work`` with ``concurrency`` keep-alive connections; rate and latencies."""
    latencies: list[float] = []
    failures: list[int] = []
    lock = threading.Lock()
    parts = [work[i::concurrency] for i in range(concurrency)]

    def client(part: list[tuple[bytes, dict[str, str]]]) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        mine, bad = [], 0
        for body, headers in part:
            started = time.perf_counter()
            connection.request("POST", server.path, body, headers)
            response = connection.getresponse()
            response.read()
            mine.append(time.perf_counter() - started)
            bad += response.status != 200
        connection.close()
        with lock:
            latencies.extend(mine)
            failures.append(bad)

    threads = [threading.Thread(target=client, args=(part,)) for part in parts]
    cpu = server.cpu_s()
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    cpu = server.cpu_s() - cpu
    latencies.sort()
    return {"rate": len(work) / elapsed, "cpu_ms": 1000 * cpu / len(work),
            "p50_ms": 1000 * statistics.median(latencies),
            "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))],
            "failed": sum(failures)}


def measure(runs: int, count: int) -> dict[tuple[str, int], list[dict]]:
    results: dict[tuple[str, int], list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="univac-webhooks-") as folder:
        servers = {kind: Server(kind, Path(folder)) for kind in KINDS}
        try:
            for run in range(runs):
                for level in LEVELS:
                    order = KINDS if (run + level) % 2 else KINDS[::-1]
                    for kind in order:
                        work = deliveries(count, f"r{run}-c{level}-{kind}")
                        load(servers[kind], level, work[: max(20, count // 20)])  # warm-up
                        result = load(servers[kind], level, work)
                        results.setdefault((kind, level), []).append(result)
        finally:
            for server in servers.values():
                server.stop()
    return results


def report(results: dict[tuple[str, int], list[dict]], runs: int, count: int) -> bool:
    """Print medians per server and level, with the ratio to the bare app's throughput
    measured in the same run; True when the target is met."""
    print(machine())
    print(f"{runs} run(s) of {count} signed deliveries per level; medians\n")
    print(f"{'server':>7} {'at once':>7} | {'per s':>7} | {'x bare':>6} | {'p50 ms':>7} | "
          f"{'p99 ms':>7} | {'CPU ms/delivery':>15} | failed")
    met = True
    for kind in KINDS:
        for level in LEVELS:
            mine, bare = results[(kind, level)], results[("bare", level)]
            ratio = statistics.median(m["rate"] / b["rate"] for b, m in zip(bare, mine,
                                                                             strict=True))
            med = {key: statistics.median(r[key] for r in mine) for key in mine[0]}
            met &= kind != "univac" or level != 8 or ratio >= TARGET_RATIO
            print(f"{kind:>7} {level:>7} | {med['rate']:>7,.0f} | {ratio:>6.2f} | "
                  f"{med['p50_ms']:>7.2f} | {med['p99_ms']:>7.2f} | {med['cpu_ms']:>15.3f} | "
                  f"{sum(r['failed'] for r in mine)}")
    print(f"\ntarget: univac >= {TARGET_RATIO}x the bare app at concurrency 8: "
          f"{'met' if met else 'NOT met'}")
    return met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--quick", action="store_true", help="1 run of 200 (smoke test)")
    parser.add_argument("--bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare:
        serve_bare(args.bare)
        return 0
    runs, count = (1, 200) if args.quick else (args.runs, args.deliveries)
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    return 0 if report(measure(runs, count), runs, count) or args.quick else 1


if __name__ == "__main__":
    sys.exit(main())
