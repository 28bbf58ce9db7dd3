"""Failover benchmark: how long the standby takes to answer after the leader goes away.

Run it from the checkout (results and their meaning: docs/performance.md)::

    .venv/bin/python benchmarks/failover.py              # 10 kills and 10 clean stops
    .venv/bin/python benchmarks/failover.py --rounds 3   # fewer (a smoke test)

It starts a PostgreSQL 15 and an ngircd on 127.0.0.1 with the test suite's fixtures
(tests/integration/), then two real ``univac`` processes with one configuration
(tests/integration/ha_cluster.py: IRC, the PostgreSQL store, ``[ha]`` with its
default timings, the echo plugin) and an IRC user, the watcher, in the bots' channel.

Each round, after a pause of 0.5 to 2.5 s (random, seeded: the stop falls anywhere in
the standby's one-second cycle of attempts), the leader gets SIGKILL (``kill -9``) or
SIGTERM at time 0, and the watcher says ``!echo probe-<round>-<n>`` every 0.1 s from
then on; the round ends when the other instance has answered a probe. Measured from
time 0: when the new leader logged that it leads, when its IRC link was up (its log
line ``connected to``), when the watcher saw it join the channel, and when its first
answer arrived ("answering", the figure the targets are about). The stopped instance
is then started again as the next standby, and once it says so, the next round
begins. Every answer to every probe is counted: a probe answered twice fails the run
(exit code 1); probes sent while no instance was connected are never answered. The
watcher also counts the bots on the server (LUSERS) and in the channel the whole
time: more than one at once fails the run too.

Targets: kill -9, median of the rounds <= 15 s; SIGTERM, every round <= 3 s.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dispatch import machine  # noqa: E402  (the same machine line as the dispatch benchmark)

from tests.integration.ha_cluster import Instance, Watcher, write_config  # noqa: E402
from tests.integration.irc_servers import RealIrcd, TlsFiles, make_cert  # noqa: E402
from tests.integration.postgres_servers import Postgres  # noqa: E402

KILL_TARGET_S = 15.0
TERM_TARGET_S = 3.0
MARKS = ("leads", "connected", "joined", "answering")


def tls_files(folder: Path) -> TlsFiles:
    cert, key = make_cert(folder, "server", "/CN=localhost")
    client_cert, client_key = make_cert(folder, "client", "/CN=univac-bot")
    dh = folder / "dh.pem"
    subprocess.run(["openssl", "genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt",
                    "group:ffdhe2048", "-out", str(dh)], check=True, capture_output=True)
    return TlsFiles(cert, key, client_cert, client_key, str(dh))


class Bench:
    """The servers, the two instances and the watcher of one run."""

    def __init__(self, folder: Path) -> None:
        self.postgres = Postgres(durable=True).start()
        self.ircd = RealIrcd("ngircd", tls_files(folder)).start()
        dsn = self.postgres.create_database("failover")
        self.config = write_config(folder, self.ircd.port, dsn)
        self.watcher = Watcher(self.ircd.port)
        self.leader = Instance(self.config, "a")
        self.leader.wait_log("leader: epoch")
        self.standby = self.start_standby("b")
        self.duplicates = 0
        self.rng = random.Random(13)

    def start_standby(self, name: str) -> Instance:
        standby = Instance(self.config, name)
        standby.wait_log("standby: another instance leads", timeout=60)
        return standby

    def round(self, number: int, how: str) -> dict[str, float]:
        """Stop the leader ``how`` (``kill`` or ``term``); seconds to each mark."""
        stop = threading.Event()
        prefix = f"probe-{number}-"
        sent = 0

        def probe() -> None:
            nonlocal sent
            while not stop.wait(0.1):
                self.watcher.say(f"!echo {prefix}{sent}")
                sent += 1

        thread = threading.Thread(target=probe, daemon=True)
        time.sleep(self.rng.uniform(0.5, 2.5))
        start = time.monotonic()
        (self.leader.kill if how == "kill" else self.leader.terminate)()
        thread.start()
        try:
            marks = self._marks(start, prefix)
        finally:
            stop.set()
            thread.join(5)
        answers = Counter(s.text for s in self.watcher.said if s.text.startswith(prefix))
        self.duplicates += sum(count - 1 for count in answers.values())
        old = self.leader
        self.leader, self.standby = self.standby, self.start_standby(old.name)
        return marks

    def _marks(self, start: float, prefix: str) -> dict[str, float]:
        new = self.standby
        leads = new.wait_log("leader: epoch", after=start, timeout=60)
        connected = new.wait_log("connected to", after=start, timeout=60)
        deadline = time.monotonic() + 60
        while not (answered := [s.when for s in self.watcher.said
                                if s.text.startswith(prefix) and s.when > start]):
            if time.monotonic() > deadline:
                raise AssertionError(f"no answer within 60 s:\n{new.tail()}")
            time.sleep(0.01)
        joined = self._joined_after(start)
        return {"leads": leads - start, "connected": connected - start,
                "joined": joined - start, "answering": answered[0] - start}

    def _joined_after(self, start: float) -> float:
        """When the watcher saw a bot join after ``start`` (the JOIN precedes answers)."""
        return min((when for when, nick in self.watcher.joins if when > start), default=0.0)

    def close(self) -> None:
        for instance in (self.leader, self.standby):
            instance.kill()
        self.watcher.close()
        self.ircd.close()
        self.postgres.cleanup()


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    return (f"median {statistics.median(ordered):5.2f}  min {ordered[0]:5.2f}  "
            f"max {ordered[-1]:5.2f}")


def report(results: dict[str, list[dict[str, float]]], bench: Bench) -> bool:
    print("Univac failover benchmark: seconds from the leader's end to the standby's marks")
    print(machine())
    print("[ha] defaults: heartbeat_s 1, lease_s 3, step_down_s 3, grace_s 7; "
          "PostgreSQL 15 (fsync on), ngircd, all on 127.0.0.1")
    met = True
    for how, rounds in results.items():
        label = {"kill": "kill -9", "term": "SIGTERM"}[how]
        print(f"{label}, {len(rounds)} rounds:")
        for mark in MARKS:
            print(f"  {mark:<10} {summary([r[mark] for r in rounds])}")
        answering = [r["answering"] for r in rounds]
        print("  answering, each round: " + " ".join(f"{v:.2f}" for v in answering))
        if how == "kill":
            ok = statistics.median(answering) <= KILL_TARGET_S
            print(f"  target: median <= {KILL_TARGET_S:.0f} s: {'met' if ok else 'NOT met'}")
        else:
            ok = max(answering) <= TERM_TARGET_S
            print(f"  target: every round <= {TERM_TARGET_S:.0f} s: {'met' if ok else 'NOT met'}")
        met = met and ok
    once = bench.duplicates == 0
    alone = bench.watcher.most_bots_in_channel <= 1 and bench.watcher.most_bot_connections <= 1
    print(f"probes answered twice: {bench.duplicates}; most bots at once: "
          f"{bench.watcher.most_bot_connections} on the server, "
          f"{bench.watcher.most_bots_in_channel} in the channel")
    return met and once and alone


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10, help="rounds of each kind")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="univac-failover-"))
    bench = Bench(folder)
    results: dict[str, list[dict[str, float]]] = {"kill": [], "term": []}
    try:
        for how in results:
            for number in range(args.rounds):
                marks = bench.round(len(results["kill"]) + len(results["term"]), how)
                results[how].append(marks)
                print(f"  {how} {number + 1}: answering after {marks['answering']:.2f} s",
                      file=sys.stderr)
        ok = report(results, bench)
    finally:
        bench.close()
        shutil.rmtree(folder, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
