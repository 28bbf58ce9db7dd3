"""What the chat-network latency benchmarks share: ``!echo`` round trips, interleaved
runs, and the table of medians.

A benchmark gives two callables for one bot in one room: ``say(text)`` sends a line as
the scripted user, ``reply(timeout)`` waits for the bot's next line (AssertionError when
none comes in time). ``main`` runs every bot once per run, interleaved, so drift hits
them alike, and prints the medians (and ``univac p50 / floor p50`` when both ran).
"""

from __future__ import annotations

import argparse
import json
import queue
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

Say = Callable[[str], None]
Reply = Callable[[float], str]
Measure = Callable[[str, int, int], dict[str, float]]


@contextmanager
def univac_process(config: Path, log: Path, name: str) -> Iterator[str]:
    """``univac run --config CONFIG`` (its log to ``log``) while the block runs; yields
    ``name``, who the bot is in the room. Stopped with SIGTERM, as systemd stops it."""
    command = [str(Path(sys.executable).parent / "univac"), "run", "--config", str(config)]
    with log.open("w") as written:
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=written)
        try:
            yield name
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(20)


def wait_ready(say: Say, reply: Reply, inbox: queue.Queue, what: str,
               wait_for: Callable[..., object], deadline_s: float, settle_s: float) -> None:
    """Ask until the bot answers (a bot process may still be joining), then let late
    duplicate answers arrive and drop them from the user's ``inbox``."""
    def answered() -> bool:
        say("!echo ready")
        try:
            return reply(1.0) == "ready"
        except AssertionError:
            return False
    wait_for(answered, deadline_s, f"{what} answering")
    time.sleep(settle_s)
    while not inbox.empty():
        inbox.get()


def latency(say: Say, reply: Reply, n: int) -> dict[str, float]:
    """``n`` sequential round trips: p50 and p99 in milliseconds."""
    samples = []
    for i in range(n):
        start = time.perf_counter()
        say(f"!echo {i}")
        assert reply(30.0) == str(i)
        samples.append((time.perf_counter() - start) * 1000)
    cuts = statistics.quantiles(samples, n=100)
    return {"p50_ms": statistics.median(samples), "p99_ms": cuts[98]}


def collect_burst(reply: Reply, n: int, start: float, what: str) -> dict[str, float]:
    """Wait for the ``n`` replies ``b0``..``b<n-1>`` of a burst sent since ``start``."""
    got: set[str] = set()
    try:
        while len(got) < n:
            got.add(reply(60.0))
    except AssertionError:
        missing = sorted({f"b{i}" for i in range(n)} - got)
        raise AssertionError(f"{what}: {len(missing)} replies missing: {missing[:10]}") from None
    assert got == {f"b{i}" for i in range(n)}
    return {"burst_per_s": n / (time.perf_counter() - start)}


def main(doc: str, bots: tuple[str, ...], sizes: dict[str, tuple[int, int]],
         measure: Measure, versions: str, target: float | None = None) -> None:
    """Parse the command line, run every bot, print the medians."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, 1 run")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print the raw results as JSON")
    parser.add_argument("--bots", default=",".join(bots), help="which bots (comma-separated)")
    args = parser.parse_args()
    latency_n, burst_n = sizes["quick" if args.quick else "full"]
    runs = 1 if args.quick else args.runs
    results: dict[str, list[dict[str, float]]] = {kind: [] for kind in args.bots.split(",")}
    for _ in range(runs):
        for kind in results:  # interleaved, so drift hits every bot alike
            results[kind].append(measure(kind, latency_n, burst_n))
    if args.json:
        print(json.dumps(results, indent=1))
    print(f"# {versions}, {runs} run(s), medians; latency: {latency_n} sequential round "
          f"trips; burst: {burst_n} commands")
    print(table(results, target))


def table(results: dict[str, list[dict[str, float]]], target: float | None) -> str:
    """The medians as a markdown table, and univac's p50 against the floor's (with the
    ``target`` ratio when the benchmark has one)."""
    lines = ["| bot | p50 ms | p99 ms | burst replies/s |", "|---|---:|---:|---:|"]
    for kind, rows in results.items():
        med = {key: statistics.median(row[key] for row in rows) for key in rows[0]}
        lines.append(f"| {kind} | {med['p50_ms']:.2f} | {med['p99_ms']:.2f} | "
                     f"{med['burst_per_s']:.0f} |")
    if "floor" in results and "univac" in results:
        floor = statistics.median(row["p50_ms"] for row in results["floor"])
        full = statistics.median(row["p50_ms"] for row in results["univac"])
        goal = f" (target: at most {target})" if target is not None else ""
        lines.append(f"univac p50 / floor p50 = {full / floor:.2f}{goal}")
    return "\n".join(lines)
