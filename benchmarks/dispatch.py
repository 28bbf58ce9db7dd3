"""Dispatch benchmark: messages through the real dispatcher, fake transport, ``echo`` plugin.

Run it from the checkout (results and their meaning: docs/performance.md)::

    .venv/bin/python benchmarks/dispatch.py            # 5 runs, medians
    .venv/bin/python benchmarks/dispatch.py --quick    # small sizes, 1 run (smoke test)

Each measurement runs in a fresh child process (this script with ``--child``), and the
rounds interleave the two ways of running handlers, so drift hits both alike:

- ``pool``: the core's bounded reactive pool (``Harness(...).bot.dispatcher.deliver``);
- ``thread``: the baseline the design guide first asked for, one new ``threading.Thread``
  per message, at most ``max_reactive`` at once (a semaphore that the delivering thread
  waits on): the same Bot and dispatcher, built with ``ThreadPerMessage`` as its pool.

What is measured:

1. throughput: a burst of N commands delivered back to back from one thread (the
   transport's), queue sized so nothing is shed, timed until the last reply is sent;
   also the process's CPU time per command and the other processes' share of the CPUs
   meanwhile (the machine may be shared: read the numbers with it);
2. latency: an open-loop producer offering 1,000 commands/s on a fixed schedule; each
   latency runs from ``deliver()`` to the fake transport's ``send()`` for that reply;
3. threads: ``threading.active_count()`` sampled every millisecond during 1 and 2, and
   the pool's ``peak_threads``; the fixed threads are the main thread and the sampler;
4. flood: 100,000 messages as fast as one thread can deliver them, default bounded
   queue; RSS (``VmRSS``) before, after and at its peak, and how many were shed.

The fake transport's ``send`` is replaced on the instance by one that timestamps
(``time.perf_counter``) and counts each reply without keeping its text, so the flood's
RSS measures the bot, not the fake transport's record of replies.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import univac.engine.bot
from univac.engine.reactive import ReactivePool
from univac.message import Deliver, Message
from univac.testing import Harness

MAX_REACTIVE = 16  # the default [bot] max_reactive
RATE = 1000.0  # commands/s offered in the latency run
SIZES = {"full": (50_000, 5_000, 100_000), "quick": (2_000, 300, 5_000)}
Results = dict[str, list[dict[str, float]]]  # measurement kind -> one dict per run
NPROC = len(os.sched_getaffinity(0))  # CPUs this process may use (taskset lowers it)
ONLINE = os.cpu_count() or NPROC  # CPUs counted in /proc/stat
TICKS_PER_S = os.sysconf("SC_CLK_TCK")
KINDS = ("throughput:pool", "throughput:thread", "latency:pool", "latency:thread", "flood:pool")


class Recorder:
    """Stands in for ``FakeTransport.send``: timestamps reply ``i`` (its text is ``i``).

    It takes no lock: each reply writes its own slot, and ``next()`` on an
    ``itertools.count`` is atomic in CPython. A lock here, held across calls, was itself
    a convoy that halved the throughput measured (docs/performance.md); real transports
    hand replies over without one (the IRC transport's ``send`` is a ``SimpleQueue.put``).
    """

    def __init__(self, expected: int, keep_times: bool = True) -> None:
        self.expected = expected
        self.times = [0.0] * expected if keep_times else []
        self.done = threading.Event()
        self._sent = itertools.count(1)
        self._last = 0

    @property
    def count(self) -> int:
        """Replies recorded so far (as of the last one)."""
        return self._last

    def send(self, target: str, text: str) -> None:
        now = time.perf_counter()
        if self.times:
            self.times[int(text)] = now
        self._last = number = next(self._sent)
        if number == self.expected:
            self.done.set()


class ThreadPerMessage(ReactivePool):
    """Baseline pool: a new thread per job, at most ``max_threads`` at once (a semaphore).

    Only ``submit`` differs: nothing waits in a queue, the delivering thread waits for a
    free slot instead, so nothing is shed.
    """

    def __init__(self, max_threads: int, queue_size: int, idle_s: float = 30.0) -> None:
        super().__init__(max_threads, queue_size, idle_s)
        self._slots = threading.BoundedSemaphore(max_threads)
        self._live_lock = threading.Lock()
        self._live = self._peak = 0

    @property
    def peak_threads(self) -> int:
        return self._peak

    def submit(self, label: str, job: Callable[[], None]) -> bool:
        self._slots.acquire()
        with self._live_lock:
            self._live += 1
            self._peak = max(self._peak, self._live)
        threading.Thread(target=self._run_one, args=(job,), name=f"react:{label}").start()
        return True

    def _run_one(self, job: Callable[[], None]) -> None:
        try:
            job()
        finally:
            with self._live_lock:
                self._live -= 1
            self._slots.release()


class ThreadSampler:
    """Samples ``threading.active_count()`` every millisecond in its own thread."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)
        self._thread.start()
        self.fixed = threading.active_count()  # main + sampler, before any handler thread

    def _run(self) -> None:
        while not self._stop.wait(0.001):
            self.peak = max(self.peak, threading.active_count())

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def message(i: int) -> Message:
    return Message("test", "#test", "tester", f"!echo {i}", identity="test:tester",
                   bot_nick="univac")


def setup(mode: str, queue_size: int) -> tuple[Harness, Deliver, ReactivePool]:
    """A harness with the echo plugin and ``mode``'s pool; its deliver function and pool."""
    if mode == "thread":
        univac.engine.bot.ReactivePool = ThreadPerMessage  # type: ignore[misc]  # the Bot's pool
    harness = Harness("echo", bot={"max_reactive": MAX_REACTIVE, "queue_size": queue_size})
    return harness, harness.bot.dispatcher.deliver, harness.bot.pool


def listen(harness: Harness, recorder: Recorder) -> None:
    """Let ``recorder`` stand in for the fake transport's ``send``."""
    harness.fakes["test"].send = recorder.send  # type: ignore[method-assign]


def warm_up(harness: Harness, deliver: Deliver, n: int = 200) -> None:
    """Start the handler threads and warm the interpreter; their replies are dropped."""
    recorder = Recorder(n, keep_times=False)
    listen(harness, recorder)
    for i in range(n):
        deliver(message(i))
    recorder.done.wait(30)


def throughput(mode: str, n: int) -> dict[str, float]:
    sampler = ThreadSampler()
    harness, deliver, pool = setup(mode, queue_size=n)
    warm_up(harness, deliver)
    recorder = Recorder(n)
    listen(harness, recorder)
    messages = [message(i) for i in range(n)]
    shed_before = harness.bot.stats.get("shed")
    ticks, cpu, start = cpu_ticks(), time.process_time(), time.perf_counter()
    for m in messages:
        deliver(m)
    if not recorder.done.wait(120):
        raise TimeoutError(f"only {recorder.count} of {n} replies")
    elapsed = max(recorder.times) - start
    cpu_us = (time.process_time() - cpu) / n * 1e6
    busy, mine = (after - before for after, before in zip(cpu_ticks(), ticks, strict=True))
    others = (busy - mine) / (time.perf_counter() - start) / TICKS_PER_S / ONLINE * 100
    result = {"per_s": n / elapsed, "shed": harness.bot.stats.get("shed") - shed_before,
              "cpu_us": cpu_us, "others_pct": max(0.0, others),
              "active_peak": sampler.stop(), "fixed": sampler.fixed,
              "pool_peak": pool.peak_threads}
    harness.close()
    return result


def latency(mode: str, n: int) -> dict[str, float]:
    sampler = ThreadSampler()
    harness, deliver, pool = setup(mode, queue_size=256)
    warm_up(harness, deliver)
    recorder = Recorder(n)
    listen(harness, recorder)
    messages = [message(i) for i in range(n)]
    sent = [0.0] * n
    start = time.perf_counter() + 0.01
    for i, m in enumerate(messages):
        delay = start + i / RATE - time.perf_counter()
        if delay > 0:
            time.sleep(delay)  # open loop: on schedule, never waiting for replies
        sent[i] = time.perf_counter()
        deliver(m)
    if not recorder.done.wait(60):
        raise TimeoutError(f"only {recorder.count} of {n} replies")
    ms = sorted((got - put) * 1e3 for got, put in zip(recorder.times, sent, strict=True))
    result = {"p50_ms": percentile(ms, 50), "p99_ms": percentile(ms, 99), "max_ms": ms[-1],
              "offered_per_s": n / (sent[-1] - sent[0]), "active_peak": sampler.stop(),
              "fixed": sampler.fixed, "pool_peak": pool.peak_threads}
    harness.close()
    return result


def flood(mode: str, n: int) -> dict[str, float]:
    harness = Harness("echo")  # default bounded queue: max_reactive 16, queue_size 256
    bot, deliver = harness.bot, harness.bot.dispatcher.deliver
    warm_up(harness, deliver)
    listen(harness, Recorder(n, keep_times=False))
    before = peak = rss_mb()
    for i in range(n):
        deliver(message(i))
        if i % 500 == 0:
            peak = max(peak, rss_mb())
    harness.wait(60)
    after = rss_mb()
    peak = max(peak, after)
    result = {"rss_before": before, "rss_after": after, "rss_peak": peak, "growth": peak - before,
              "shed": bot.stats.get("shed"), "pool_shed": bot.pool.shed,
              "pool_peak": bot.pool.peak_threads}
    harness.close()
    return result


def percentile(ordered: list[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    return ordered[max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered)) - 1))]


def cpu_ticks() -> tuple[int, int]:
    """Busy CPU ticks of the whole machine and of this process (``/proc``)."""
    user, nice, system, _, _, irq, softirq, steal = map(
        int, Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9])
    mine = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    return user + nice + system + irq + softirq + steal, int(mine[11]) + int(mine[12])


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def run_child(kind: str, size: str) -> dict[str, float]:
    """Run one measurement in a fresh interpreter; return its numbers."""
    command = [sys.executable, __file__, "--child", kind, "--size", size]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        sys.exit(f"{kind} failed:\n{done.stderr}")
    return json.loads(done.stdout.splitlines()[-1])


def child(kind: str, size: str) -> None:
    what, mode = kind.split(":")
    n = dict(zip(("throughput", "latency", "flood"), SIZES[size], strict=True))[what]
    measure = {"throughput": throughput, "latency": latency, "flood": flood}[what]
    print(json.dumps(measure(mode, n)))


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo
                if line.startswith("model name")), "unknown CPU")
    return (f"machine: nproc {NPROC} (of {ONLINE} online), {cpu}, "
            f"{platform.python_implementation()} {platform.python_version()}, "
            f"{platform.system()} {platform.release()}, load average {os.getloadavg()[0]:.2f}")


def report(results: Results, runs: int, size: str) -> None:
    """Print the machine, the sizes and the table: medians, and the pool's min-max."""
    def med(kind: str, key: str) -> float:
        return statistics.median(r[key] for r in results[kind])

    def span(kind: str, key: str, fmt: str) -> str:
        values = [r[key] for r in results[kind]]
        return f"{min(values):{fmt}}-{max(values):{fmt}}"

    def most(key: str, *kinds: str) -> int:
        return int(max(r[key] for kind in kinds for r in results[kind]))

    tp, tt, lp, lt, fl = KINDS
    fixed = most("fixed", tp, tt, lp, lt)
    yes = {True: "yes", False: "NO"}
    rss = "/".join(f"{med(fl, key):.1f}" for key in ("rss_before", "rss_after", "rss_peak"))
    rows = [
        ("throughput (commands/s)", f"{med(tp, 'per_s'):,.0f}", span(tp, "per_s", ",.0f"),
         f"{med(tt, 'per_s'):,.0f}", ">= 25,000", yes[med(tp, "per_s") >= 25_000]),
        ("throughput CPU per command (us)", f"{med(tp, 'cpu_us'):.1f}", span(tp, "cpu_us", ".1f"),
         f"{med(tt, 'cpu_us'):.1f}", "", ""),
        ("other load in burst (% of CPUs)", f"{med(tp, 'others_pct'):.0f}",
         span(tp, "others_pct", ".0f"), f"{med(tt, 'others_pct'):.0f}", "", ""),
        ("throughput shed (max)", f"{most('shed', tp)}", "", f"{most('shed', tt)}", "0",
         yes[most("shed", tp) == 0]),
        *[(f"latency {name} at 1,000/s (ms)", f"{med(lp, key):.3f}", span(lp, key, ".3f"),
           f"{med(lt, key):.3f}", target, yes[med(lp, key) <= 2] if target else "")
          for name, key, target in (("p50", "p50_ms", ""), ("p99", "p99_ms", "<= 2"),
                                    ("max", "max_ms", ""))],
        ("peak active_count (max)", f"{most('active_peak', tp, lp)}", "",
         f"{most('active_peak', tt, lt)}", f"<= {MAX_REACTIVE + fixed}",
         yes[most("active_peak", tp, lp) <= MAX_REACTIVE + fixed]),
        ("peak handler threads (max)", f"{most('pool_peak', tp, lp, fl)}", "",
         f"{most('pool_peak', tt, lt)}", f"<= {MAX_REACTIVE}",
         yes[most("pool_peak", tp, lp, fl) <= MAX_REACTIVE]),
        ("flood RSS before/after/peak (MB)", rss, "", "", "", ""),
        ("flood RSS growth to peak (MB)", f"{med(fl, 'growth'):.1f}", span(fl, "growth", ".1f"),
         "", "< 20", yes[med(fl, "growth") < 20]),
        ("flood shed", f"{med(fl, 'shed'):,.0f}", span(fl, "shed", ",.0f"), "", "", ""),
    ]
    n_tp, n_lat, n_flood = SIZES[size]
    print(f"Univac dispatch benchmark: {runs} run(s), each measurement in a fresh process")
    print(machine())
    print(f"sizes: burst {n_tp:,}, latency {n_lat:,} at {RATE:,.0f}/s, flood {n_flood:,}; "
          f"max_reactive {MAX_REACTIVE}; fixed threads {fixed} (main + sampler)")
    line = "{:<33}{:>15}{:>16}{:>11}{:>11}{:>5}"
    print(line.format("metric", "pool median", "pool min-max", "thread/msg", "target", "met"))
    for row in rows:
        print(line.format(*row))
    print(f"ratio pool / thread-per-message (medians): "
          f"throughput {med(tp, 'per_s') / med(tt, 'per_s'):.2f} (higher is better), "
          f"latency p50 {med(lp, 'p50_ms') / med(lt, 'p50_ms'):.2f}, "
          f"p99 {med(lp, 'p99_ms') / med(lt, 'p99_ms'):.2f} (lower is better)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, help="rounds of measurements (default 5, quick 1)")
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument("--child", choices=KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--size", choices=tuple(SIZES), default="full", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        return child(options.child, options.size)
    size = "quick" if options.quick else "full"
    runs = options.runs or (1 if options.quick else 5)
    results: Results = {kind: [] for kind in KINDS}
    for round_ in range(runs):
        for kind in KINDS:
            print(f"run {round_ + 1}/{runs}: {kind}", file=sys.stderr, flush=True)
            results[kind].append(run_child(kind, size))
    report(results, runs, size)


if __name__ == "__main__":
    main()
