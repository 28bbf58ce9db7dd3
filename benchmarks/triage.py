"""Triage benchmark: the model's memory at 10,000 issues, and the time to apply a webhook.

Run it from the checkout (results and their meaning: docs/performance.md, "Triage")::

    .venv/bin/python benchmarks/triage.py              # 5 runs of 10,000 issues
    .venv/bin/python benchmarks/triage.py --runs 9     # more runs
    .venv/bin/python benchmarks/triage.py --quick      # 500 issues, 1 run: a smoke test

Each run is a fresh process with the triage plugin in the test harness, on the real
embedded SQLite store (WAL, ``synchronous = FULL``: every webhook's transaction is on
disk before the handler returns) in a temporary folder, with one chat target whose
sends are counted and dropped. Nothing calls GitHub (the pollers do not run).

1. **Fill.** ``issues`` ``labeled`` deliveries for issues 1 to N go through the
   plugin's webhook handler (the route the http plugin calls, without its HTTP and
   signature layers), each with 2 to 5 relevant labels, an assignee on every third, a
   body of template text, each request made just before its call; ``VmRSS`` is read
   before the first and after the last (after ``gc.collect()``): the growth is what the
   model of N issues costs.
2. **Latency.** Then D more deliveries, after 50 not counted: a comment by a
   contributor, a label change, or a new issue, in turn, each on a random issue;
   each is timed from the call to its return (model updated, transaction synced,
   fan-out queued) with ``time.perf_counter``.
3. **Restart.** A second fresh process opens the filled state folder: ``VmRSS``
   before the bot is made (every module already imported) and after, the cost of
   loading N issues at start.

The table shows medians over the runs, with the minimum and maximum.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from dispatch import machine, rss_mb  # the same machine line and RSS reading

ROOT = Path(__file__).resolve().parents[1]
TEAM = [f"member{i}" for i in range(300)]
LABELS = ["team-engine", "team-framework", "team-tool", "team-web", "P0", "P1", "P2", "P3",
          "triaged-engine", "triaged-framework", "fyi-tool", "c: crash", "platform-ios",
          "a: text input", "found in release: 3.22", "has reproducible steps"]
BODY = ("<!-- Thank you for using Flutter! -->\n### Steps to reproduce\n\n1. Run the app\n"
        "2. Tap the button\n\n### Expected results\n\nIt works.\n\n### Actual results\n\n"
        "It crashes.\n\n- [X] I have searched for similar issues\n")
SETTINGS = {"repo": "acme/rocket", "team": "hackers", "token": "benchmark",
            "api_url": "http://127.0.0.1:9", "targets": ["test:#triage"]}


def payload(number: int, action: str, rng: random.Random) -> dict[str, Any]:
    names = rng.sample(LABELS, rng.randint(2, 5))
    assignee = {"login": rng.choice(TEAM)} if number % 3 == 0 else None
    issue = {
        "number": number, "title": f"Issue {number}: the button does not work", "state": "open",
        "user": {"login": f"user{number % 997}"}, "labels": [{"name": n} for n in names],
        "assignee": assignee, "assignees": [assignee] if assignee else [], "locked": False,
        "created_at": "2026-01-01T00:00:00Z", "body": BODY,
        "html_url": f"https://github.com/acme/rocket/issues/{number}",
        "reactions": {"+1": rng.randint(0, 40), "total_count": 0},
    }
    found: dict[str, Any] = {"action": action, "issue": issue,
                             "sender": {"login": rng.choice(TEAM)},
                             "repository": {"full_name": "acme/rocket"}}
    if action == "labeled":
        found["label"] = {"name": names[-1]}
    if action == "created":
        found["comment"] = {"body": "Still seeing this on 3.22.", "html_url": issue["html_url"]}
    return found


def request(event: str, body: dict[str, Any], number: int) -> Any:
    from univac import WebhookRequest
    from univac.kit.webhook import sign

    raw = json.dumps(body).encode()
    headers = {"X-GitHub-Event": event, "X-GitHub-Delivery": f"d-{number}-{event}",
               "X-Hub-Signature-256": sign("secret", raw)}
    return WebhookRequest("POST", "/triage", headers, raw)


def harness(folder: Path) -> Any:
    from univac.testing import Harness

    made = Harness("triage", settings={"triage": SETTINGS}, state_dir=folder)
    made.fakes["test"].send = lambda target, text: None  # count nothing, keep nothing
    made.bot.contexts["triage"].state["team"] = {"members": TEAM, "loaded": 1}
    return made


def fill_run(folder: Path, issues: int, deliveries: int, seed: int) -> dict[str, float]:
    import univac.plugins.triage  # noqa: F401  (imported before the first reading)

    rng = random.Random(seed)
    bot = harness(folder)
    route = {r.path: r for r in bot.bot.webhooks()}["/triage"]
    gc.collect()
    before = rss_mb()
    for number in range(1, issues + 1):  # each request made just before its call
        assert route.call(request("issues", payload(number, "labeled", rng), number)).status \
            == 200
    gc.collect()
    after = rss_mb()
    times = latency(route, issues, deliveries, rng)
    bot.close()
    return {"rss_before": before, "rss_after": after, "growth": after - before,
            "p50_ms": _pct(times, 50), "p99_ms": _pct(times, 99), "max_ms": max(times)}


def latency(route: Any, issues: int, deliveries: int, rng: random.Random) -> list[float]:
    kinds = [("issue_comment", "created"), ("issues", "labeled"), ("issues", "opened")]
    made, newest = [], issues
    for index in range(50 + deliveries):
        event, action = kinds[index % 3]
        number = rng.randint(1, issues)
        if action == "opened":
            newest += 1
            number = newest
        made.append(request(event, payload(number, action, rng), 10**6 + index))
    times = []
    for index, one in enumerate(made):
        started = time.perf_counter()
        reply = route.call(one)
        elapsed = (time.perf_counter() - started) * 1000
        assert reply.status == 200, reply.body
        if index >= 50:
            times.append(elapsed)
    return times


def load_run(folder: Path) -> dict[str, float]:
    import univac.plugins.triage
    import univac.testing  # noqa: F401

    gc.collect()
    before = rss_mb()
    bot = harness(folder)
    tracked = bot.bot.contexts["triage"].state.keys()
    gc.collect()
    after = rss_mb()
    bot.close()
    return {"load_growth": after - before, "keys": float(len(tracked))}


def _pct(values: list[float], pct: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


def child(args: list[str]) -> dict[str, float]:
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"a run failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--issues", type=int, default=10_000)
    parser.add_argument("--deliveries", type=int, default=2_000)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--fill", help=argparse.SUPPRESS)
    parser.add_argument("--load", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fill:
        print(json.dumps(fill_run(Path(args.fill), args.issues, args.deliveries, args.seed)))
        return
    if args.load:
        print(json.dumps(load_run(Path(args.load))))
        return
    if args.quick:
        args.runs, args.issues, args.deliveries = 1, 500, 200
    results = []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="univac-triage-bench-") as folder:
            sizes = ["--issues", str(args.issues), "--deliveries", str(args.deliveries)]
            filled = child(["--fill", folder, *sizes, "--seed", str(run + 1)])
            results.append(filled | child(["--load", folder]))
    report(results, args)


def report(results: list[dict[str, float]], args: argparse.Namespace) -> None:
    def row(name: str, key: str, fmt: str, target: str = "", met: bool | None = None) -> str:
        values = [r[key] for r in results]
        span = f"{min(values):{fmt}}-{max(values):{fmt}}"
        verdict = "" if met is None else ("yes" if met else "NO")
        return f"{name:<38} {statistics.median(values):>9{fmt}} {span:>15} {target:>9} {verdict}"

    growth = statistics.median(r["growth"] for r in results)
    p99 = statistics.median(r["p99_ms"] for r in results)
    print(f"Univac triage benchmark: {args.runs} run(s), each in fresh processes")
    print(machine())
    print(f"sizes: {args.issues:,} issues, {args.deliveries:,} timed deliveries; SQLite store, "
          "synchronous = FULL")
    print(f"{'metric':<38} {'median':>9} {'min-max':>15} {'target':>9} met")
    print(row("RSS before the fill (MB)", "rss_before", ".1f"))
    print(row(f"RSS growth, {args.issues:,} issues (MB)", "growth", ".1f", "<= 20", growth <= 20))
    print(row("RSS growth, restart with them (MB)", "load_growth", ".1f"))
    print(row("webhook applied, p50 (ms)", "p50_ms", ".2f"))
    print(row("webhook applied, p99 (ms)", "p99_ms", ".2f", "< 5", p99 < 5))
    print(row("webhook applied, max (ms)", "max_ms", ".2f"))


if __name__ == "__main__":
    main()
