"""IRC round-trip benchmark against a real ngircd on 127.0.0.1 (flood penalties off).

Usage:  .venv/bin/python benchmarks/irc_roundtrip.py [--runs 5] [--bots univac,handoff,...]
            [--flood] [--joins] [--defaults]

Bots, each run as its own process so its CPU, RSS and threads can be read from /proc,
all with the default output queue settings (``max_queued_lines``, ``max_queued_bytes``):
- ``univac``: ``univac run`` with the IRC transport, the echo plugin and the core plugins;
- ``handoff``: the IRC transport alone, its deliver callback handing ``!echo X`` to one
  other thread that sends the echo (what the thread model costs, without the core);
- ``transport``: the IRC transport alone, its deliver callback echoing ``!echo X``;
- ``floor``: a minimal raw-socket echo bot (the floor).
Scenarios, with the bot's flood control and the core's rate limits off: start-to-joined;
300 sequential channel commands (p50/p99 latency); 1,000 private commands sent at once
by 10 clients, each reading its own replies (replies/s, median reply latency, bot CPU per
command, replies lost); 1,000 channel commands sent at once by 10 clients in one channel
(replies/s, replies lost: the independent benchmark's case); idle and peak RSS, peak
thread count. ``--flood`` adds the default-flood-control scenarios: 1, 2 and 4
connections flood 500 commands each into the channel, a second user's single command
is timed (the core's rate limits off; once more with 4 flooders and the core's default
rate limits). ``--joins`` adds the 500-channel scenarios: ``univac run`` configured for 500
channels, time from start until it is in all of them, with flood control off and with
the defaults. ``--defaults`` runs both bursts once more against ``univac run`` with every
default (flood control, the core's rate limits, the reactive queue) and counts what was
answered: the rest was refused by the limits. Prints the medians of all runs.
"""

from __future__ import annotations

import argparse
import compileall
import os
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHANNEL = "#bench"
TICK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------- bots


def floor_bot(port: int) -> None:
    """The floor: raw socket, no parsing beyond what echo needs."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(f"NICK univac\r\nUSER univac 0 * :floor\r\nJOIN {CHANNEL}\r\n".encode())
    buffer = b""
    while data := sock.recv(65536):
        buffer += data
        *lines, buffer = buffer.split(b"\r\n")
        out = []
        for line in lines:
            if line.startswith(b"PING"):
                out.append(b"PONG" + line[4:] + b"\r\n")
            elif b" PRIVMSG " in line and b" :!echo " in line:
                target = line.split(b" ")[2]
                if target == b"univac":  # a private message: answer the sender
                    target = line[1:].split(b"!", 1)[0]
                out.append(b"PRIVMSG " + target + b" :" + line.split(b" :!echo ", 1)[1] + b"\r\n")
        if out:
            sock.sendall(b"".join(out))


def transport_bot(port: int, handoff: bool = False) -> None:
    """The IRC transport alone, flood control off, echoing on its own I/O thread, or with
    ``handoff`` from a second thread (the thread model without the core)."""
    import queue

    from univac.transports import irc

    settings = irc.Settings(host="127.0.0.1", port=port, tls=False, channels=(CHANNEL,),
                            flood_rate=0, motd_wait_s=0.2, sts_file="/nonexistent/sts")
    transport = irc.create("bench", settings)
    jobs: queue.SimpleQueue = queue.SimpleQueue()

    def echo(message) -> None:
        transport.send(message.target, message.text[6:])

    def echo_thread() -> None:
        while True:
            echo(jobs.get())

    if handoff:
        threading.Thread(target=echo_thread, name="echo", daemon=True).start()

    def deliver(message) -> None:
        if message.text.startswith("!echo "):
            (jobs.put if handoff else echo)(message)

    transport.run(deliver)


def univac_config(port: int, directory: Path, flood: bool, channels: tuple[str, ...],
                  limits: bool) -> Path:  # fmt: skip
    """A config for ``univac run``: echo + core plugins; IRC flood control off unless
    ``flood``, the core's rate limits off unless ``limits``; the output queues keep their
    defaults."""
    config = directory / "univac.toml"
    flood_line = "" if flood else "flood_rate = 0\n"
    rate = "" if limits else "user_rate = 0\nchannel_rate = 0\n"
    listed = ", ".join(f'"{c}"' for c in channels)
    config.write_text(
        f'[bot]\nplugins = ["echo", "help", "version", "status", "whereareyou"]\n'
        f'state_dir = "{directory / "state"}"\n{rate}'
        f'[[transports]]\ntype = "irc"\nhost = "127.0.0.1"\nport = {port}\ntls = false\n'
        f'channels = [{listed}]\nmotd_wait_s = 0.2\nsts_file = "{directory / "sts.json"}"\n'
        f"{flood_line}"
    )
    return config


def spawn_bot(kind: str, port: int, directory: Path, flood: bool = False,
              channels: tuple[str, ...] = (CHANNEL,), limits: bool = False) -> subprocess.Popen:
    if kind == "univac":
        config = univac_config(port, directory, flood, channels, limits)
        command = [str(Path(sys.executable).parent / "univac"), "run", "--config", str(config)]
    else:
        command = [sys.executable, __file__, f"--run-{kind}-bot", str(port)]
    log = open(directory / f"{kind}.log", "ab")  # noqa: SIM115 (closed with the process)
    return subprocess.Popen(command, stdout=log, stderr=log)


# ---------------------------------------------------------------------------- measuring


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM (kB) and Threads of a process."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _sep, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "Threads"):
            fields[key] = int(value.split()[0])
    return fields


def cpu_seconds(pid: int) -> float:
    parts = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / TICK


class Sampler(threading.Thread):
    """Sample the bot's thread count every 5 ms."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.done = pid, 0, threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.005):
            try:
                self.peak = max(self.peak, proc_status(self.pid)["Threads"])
            except (OSError, KeyError):
                return


class Client:
    """A raw IRC client that records when each reply arrived."""

    def __init__(self, port: int, nick: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.sendall(f"NICK {nick}\r\nUSER {nick} 0 * :{nick}\r\nJOIN {CHANNEL}\r\n".encode())
        self.buffer = b""
        self.wait_for(b" 366 ")

    def lines(self, timeout: float) -> list[bytes]:
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(262144)
        except TimeoutError:
            return []
        if not data:
            raise ConnectionError("server closed")
        self.buffer += data
        *lines, self.buffer = self.buffer.split(b"\r\n")
        return lines

    def wait_for(self, needle: bytes, timeout: float = 10.0) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines(0.5):
                if needle in line:
                    return time.perf_counter()
        raise TimeoutError(needle)


def start_server(directory: Path):
    """A real ngircd from the test fixtures (MaxPenaltyTime = 0)."""
    sys.path.insert(0, str(ROOT))
    from tests.integration.irc_servers import RealIrcd, TlsFiles, make_cert

    cert, key = make_cert(directory, "server", "/CN=localhost")
    dh = directory / "dh.pem"
    command = ["openssl", "genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt",
               "group:ffdhe2048", "-out", str(dh)]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True)
    return RealIrcd("ngircd", TlsFiles(cert, key, cert, key, str(dh))).start()


def one_run(kind: str, server, directory: Path, sequential_count: int = 300,
            burst_each: int = 100) -> dict[str, float]:  # fmt: skip
    observer = Client(server.port, "observer")
    started = time.perf_counter()
    bot = spawn_bot(kind, server.port, directory)
    try:
        joined = observer.wait_for(b" JOIN ", 15) - started
        sampler = Sampler(bot.pid)
        sampler.start()
        time.sleep(0.1 if sequential_count < 300 else 0.5)  # settle, then read idle RSS
        idle_rss = proc_status(bot.pid)["VmRSS"] / 1024
        result = {"joined_s": joined, "idle_rss_mb": idle_rss}
        result.update(sequential(observer, sequential_count))
        result.update(burst(server.port, observer, bot.pid, each=burst_each))
        result.update(channel_burst(server.port, observer, each=burst_each))
        sampler.done.set()
        result["peak_rss_mb"] = proc_status(bot.pid)["VmHWM"] / 1024
        result["peak_threads"] = sampler.peak
        return result
    finally:
        bot.terminate()
        bot.wait(10)
        observer.sock.close()


def sequential(client: Client, count: int = 300) -> dict[str, float]:
    waits = []
    for i in range(count):
        sent = time.perf_counter()
        client.sock.sendall(f"PRIVMSG {CHANNEL} :!echo s{i}\r\n".encode())
        got = client.wait_for(f":s{i}".encode())
        waits.append((got - sent) * 1000)
    waits.sort()
    return {"p50_ms": statistics.median(waits), "p99_ms": waits[int(len(waits) * 0.99) - 1]}


def burst(port: int, observer: Client, pid: int, clients: int = 10, each: int = 100):
    """``clients`` users each send ``each`` private commands at once and read the replies
    (a reply that has not come 10 s after the last one is lost).

    One thread sends all the bursts, then reads every client's replies with ``selectors``,
    counting them per read, so the load generator costs little next to the server and the
    bot on the same two CPUs.
    """
    senders = [Client(port, f"load{i}") for i in range(clients)]
    payloads = [b"".join(f"PRIVMSG univac :!echo b{c}-{j}\r\n".encode() for j in range(each))
                for c in range(clients)]  # fmt: skip
    seen: list[float] = []
    with selectors.DefaultSelector() as sel:
        for sender in senders:
            sel.register(sender.sock, selectors.EVENT_READ, sender)
        cpu_before = cpu_seconds(pid)
        start = time.perf_counter()
        for sender, payload in zip(senders, payloads, strict=True):
            sender.sock.sendall(payload)
        while len(seen) < clients * each and time.perf_counter() - (seen or [start])[-1] < 10:
            for key, _mask in sel.select(1.0):
                stamp, sender = time.perf_counter(), key.data
                data = sender.sock.recv(262144)
                if not data:
                    raise ConnectionError("server closed")
                complete, _nl, sender.buffer = (sender.buffer + data).rpartition(b"\n")
                seen.extend([stamp] * complete.count(b" :b"))  # the echoes, b<client>-<n>
    cpu = cpu_seconds(pid) - cpu_before
    for sender in senders:
        sender.sock.close()
    return {
        "replies": len(seen),
        "lost": clients * each - len(seen),
        "replies_per_s": len(seen) / ((seen[-1] - start) if seen else float("inf")),
        "burst_median_ms": (statistics.median(seen) - start) * 1000 if seen else float("nan"),
        "cpu_ms_per_cmd": cpu * 1000 / max(1, len(seen)),
    }


def channel_burst(port: int, observer: Client, clients: int = 10, each: int = 100):
    """The independent benchmark's case: ``clients`` users in the channel send ``each``
    commands at once; the observer counts the distinct replies, and a reply that has not
    come 10 s after the last one is lost. Every client's socket is read meanwhile (each
    gets every command and every reply), so the server never drops a slow reader."""
    senders = [Client(port, f"chan{i}") for i in range(clients)]
    payloads = [b"".join(f"PRIVMSG {CHANNEL} :!echo c{c}-{j}\r\n".encode() for j in range(each))
                for c in range(clients)]  # fmt: skip
    seen: dict[bytes, float] = {}
    with selectors.DefaultSelector() as sel:
        for client in (observer, *senders):
            sel.register(client.sock, selectors.EVENT_READ, client)
        start = last = time.perf_counter()
        for sender, payload in zip(senders, payloads, strict=True):
            sender.sock.sendall(payload)
        while len(seen) < clients * each and time.perf_counter() - last < 10:
            for key, _mask in sel.select(1.0):
                client, stamp = key.data, time.perf_counter()
                data = client.sock.recv(262144)
                if not data:
                    raise ConnectionError("server closed")
                complete, _nl, client.buffer = (client.buffer + data).rpartition(b"\n")
                if client is observer:
                    for line in complete.split(b"\n"):
                        if line.startswith(b":univac!") and f" {CHANNEL} :c".encode() in line:
                            seen.setdefault(line.rstrip(b"\r").rsplit(b" :", 1)[1], stamp)
                            last = stamp
    for sender in senders:
        sender.sock.close()
    stamps = sorted(seen.values())
    return {
        "chan_replies": len(seen),
        "chan_lost": clients * each - len(seen),
        "chan_replies_per_s": len(seen) / ((stamps[-1] - start) if stamps else float("inf")),
    }


def defaults_run(server, directory: Path, each: int = 100) -> dict[str, float]:
    """``univac run`` with every default (IRC flood control, the core's rate limits, the
    reactive queue): the private and the channel burst. What is not answered was refused
    by the limits, as they are meant to: one person gets ``user_burst`` answers at once,
    a channel ``channel_burst``."""
    observer = Client(server.port, "observer")
    bot = spawn_bot("univac", server.port, directory, flood=True, limits=True)
    try:
        observer.wait_for(b" JOIN ", 15)
        result = burst(server.port, observer, bot.pid, each=each)
        result.update(channel_burst(server.port, observer, each=each))
        return {key: result[key] for key in ("replies", "lost", "chan_replies", "chan_lost")}
    finally:
        bot.terminate()
        bot.wait(10)
        observer.sock.close()


def flood_run(server, directory: Path, flooders: int, limits: bool = False) -> float:
    """The IRC transport's default flood control: ``flooders`` connections flood 500
    commands each into the channel; seconds until a second user's one command is
    answered (infinity: not within 30 s). The core's rate limits are off unless
    ``limits``, so that every flooded command reaches the output queues."""
    observer = Client(server.port, "observer")
    bot = spawn_bot("univac", server.port, directory, flood=True, limits=limits)
    try:
        observer.wait_for(b" JOIN ", 15)
        floods = [Client(server.port, f"flooder{i}") for i in range(flooders)]
        asker = Client(server.port, "asker")
        for flooder in floods:
            flooder.sock.sendall(b"".join(f"PRIVMSG {CHANNEL} :!echo f{i}\r\n".encode()
                                          for i in range(500)))  # fmt: skip
        time.sleep(0.2)
        sent = time.perf_counter()
        asker.sock.sendall(f"PRIVMSG {CHANNEL} :!echo second-user\r\n".encode())
        try:
            return asker.wait_for(b":second-user", 30) - sent
        except TimeoutError:
            return float("inf")
    finally:
        bot.terminate()
        bot.wait(10)


def join_run(server, directory: Path, flood: bool, count: int = 500) -> float:
    """``univac run`` configured for ``count`` channels: seconds from start until an
    observer in every one of them has seen the bot join it."""
    channels = tuple(f"#join{i:03d}" for i in range(count))
    observer = Client(server.port, "observer")
    for first in range(0, count, 40):
        observer.sock.sendall(f"JOIN {','.join(channels[first:first + 40])}\r\n".encode())
    names_ends = 0
    while names_ends < count:
        names_ends += sum(b" 366 " in line for line in observer.lines(5.0))
    started = time.perf_counter()
    bot = spawn_bot("univac", server.port, directory, flood=flood, channels=channels)
    try:
        joined: set[bytes] = set()
        deadline = time.monotonic() + 120
        while len(joined) < count and time.monotonic() < deadline:
            for line in observer.lines(1.0):
                if line.startswith(b":univac!") and b" JOIN " in line:
                    joined.add(line.split(b" JOIN ", 1)[1].lstrip(b":"))
        return time.perf_counter() - started if len(joined) == count else float("inf")
    finally:
        bot.terminate()
        bot.wait(10)
        observer.sock.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--bots", default="univac,handoff,transport,floor")
    parser.add_argument("--flood", action="store_true")
    parser.add_argument("--joins", action="store_true")
    parser.add_argument("--defaults", action="store_true",
                        help="also the bursts with every default: count what the limits refuse")
    parser.add_argument("--quick", action="store_true", help="small counts, for a smoke test")
    parser.add_argument("--keep", default="", help="directory for bot logs (kept)")
    parser.add_argument("--run-floor-bot", type=int)
    parser.add_argument("--run-transport-bot", type=int)
    parser.add_argument("--run-handoff-bot", type=int)
    args = parser.parse_args()
    if args.run_floor_bot:
        return floor_bot(args.run_floor_bot)
    if args.run_transport_bot:
        return transport_bot(args.run_transport_bot)
    if args.run_handoff_bot:
        return transport_bot(args.run_handoff_bot, handoff=True)
    report(args)


def with_server(directory: Path, scenario):
    """Run ``scenario(server)`` on a fresh ngircd."""
    server = start_server(directory)
    try:
        return scenario(server)
    finally:
        server.close()


def one_round(args: argparse.Namespace, directory: Path) -> dict[str, dict[str, float]]:
    """Every scenario once; results by bot (or scenario group)."""
    counts = (30, 20) if args.quick else (300, 100)
    results = {kind: with_server(directory, lambda s, k=kind: one_run(k, s, directory, *counts))
               for kind in args.bots.split(",")}  # fmt: skip
    if args.flood:
        flood = {f"second_user_s_{n}_flooders": with_server(
                     directory, lambda s, n=n: flood_run(s, directory, n)) for n in (1, 2, 4)}
        flood["second_user_s_4_flooders_core_limits"] = with_server(
            directory, lambda s: flood_run(s, directory, 4, limits=True))
        results["univac+flood"] = flood  # fmt: skip
    if args.defaults:
        results["univac+defaults"] = with_server(
            directory, lambda s: defaults_run(s, directory, counts[1]))
    if args.joins:
        count = 50 if args.quick else 500
        results["univac+joins"] = {
            f"joined_{count}_s_{label}": with_server(directory,
                                                      lambda s, f=flood: join_run(s, directory, f,
                                                                                  count))
            for label, flood in (("flood_off", False), ("defaults", True))
        }  # fmt: skip
    return results


def report(args: argparse.Namespace) -> None:
    results: dict[str, list[dict[str, float]]] = {}
    for folder in ("univac", "transports", "plugins"):  # start-up, not a first compile,
        compileall.compile_dir(ROOT / folder, quiet=1)  # counts in start to joined
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(args.keep or tmp)
        for run in range(args.runs):
            for kind, result in one_round(args, directory).items():
                results.setdefault(kind, []).append(result)
            print(f"run {run + 1}/{args.runs} done", file=sys.stderr)
    for kind, runs in results.items():
        keys = runs[0].keys()
        medians = {k: statistics.median(r[k] for r in runs) for k in keys}
        print(f"\n{kind} (median of {len(runs)} runs)")
        for key, value in medians.items():
            spread = f"  [{min(r[key] for r in runs):.3f} .. {max(r[key] for r in runs):.3f}]"
            print(f"  {key:26} {value:10.3f}{spread if len(runs) > 1 else ''}")


if __name__ == "__main__":
    main()
