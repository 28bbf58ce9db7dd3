"""What one handoff between two Python threads costs here, with the CPUs warm and idle.

Usage:  .venv/bin/python benchmarks/thread_handoff.py [--runs 5]

A command through the full ``univac`` process crosses threads twice (the transport's I/O
thread hands it to a reactive thread, whose reply wakes the I/O thread again), on top
of the wake-up on the packet that every bot pays. This measures such a round trip
without any bot code: thread A puts a number on a ``queue.SimpleQueue``, thread B takes
it and writes a byte to a pipe that A waits for with ``select`` (the same mechanisms as
the pool and the IRC transport's wake-up pipe). Two cases:

- ``warm``: round trips back to back, so both threads' CPUs are busy;
- ``idle``: a 2 ms pause before each round trip, so the CPUs go idle first, as they do
  between one person's commands.

Prints the median round trip of each run and the median over runs (docs/irc.md).
"""

from __future__ import annotations

import argparse
import os
import queue
import select
import statistics
import threading
import time

ROUNDS = {"warm": 3000, "idle": 300}


def round_trips(count: int, pause: float) -> list[float]:
    """``count`` round trips A -> B -> A; microseconds each."""
    jobs: queue.SimpleQueue[int | None] = queue.SimpleQueue()
    wake_r, wake_w = os.pipe()

    def thread_b() -> None:
        while jobs.get() is not None:
            os.write(wake_w, b"x")

    helper = threading.Thread(target=thread_b, name="B")
    helper.start()
    waits = []
    for number in range(count):
        if pause:
            time.sleep(pause)
        started = time.perf_counter()
        jobs.put(number)
        select.select([wake_r], [], [], 1.0)
        os.read(wake_r, 16)
        waits.append((time.perf_counter() - started) * 1e6)
    jobs.put(None)
    helper.join()
    os.close(wake_r)
    os.close(wake_w)
    return waits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    medians: dict[str, list[float]] = {case: [] for case in ROUNDS}
    for run in range(args.runs):
        for case, count in ROUNDS.items():
            medians[case].append(statistics.median(round_trips(count, 0.002 * (case == "idle"))))
        print(f"run {run + 1}: " + ", ".join(f"{case} {values[-1]:.1f} us"
                                             for case, values in medians.items()))
    for case, values in medians.items():
        print(f"{case}: median round trip {statistics.median(values):.1f} us "
              f"(runs {min(values):.1f}-{max(values):.1f})")


if __name__ == "__main__":
    main()
