"""Report the bot's health: uptime, transports, pollers, plugin errors."""

import time
from datetime import UTC, datetime

from univac import Context, PollerReport, TransportStatus, command

DAY_S = 86400


@command
def status(ctx: Context):
    """Show uptime, transports, pollers' runs and next run, plugins' own lines, errors.

    With [ha] on, a line says whether this instance leads and since when."""
    report = ctx.bot.status()
    now = time.time()
    threads, running, queued = report.reactive
    yield (f"Univac {report.version}, up {_duration(now - report.started)}; "
           f"handlers: {running} running, {queued} queued, {threads} threads")
    if report.lease is not None:
        lease = report.lease
        epoch = f" with epoch {lease.epoch}" if lease.epoch is not None else ""
        since = _duration(time.time() - lease.since)
        yield f"lease: {lease.role}{epoch} for {since} ({lease.detail})"
    for name, state in report.transports.items():
        yield f"transport {name}: {_transport(state)}"
    for poller in report.pollers:
        yield f"poller {poller.name}: {_poller(poller, now)}"
    for name, line in report.plugins.items():
        yield f"plugin {name}: {line}"
    if report.plugin_errors:
        yield f"plugin errors in: {', '.join(report.plugin_errors)} (details in the log)"


def _transport(state: TransportStatus) -> str:
    targets = f" in {', '.join(state.targets)}" if state.targets else ""
    detail = f" ({state.detail})" if state.detail else ""
    return f"{state.state} as {state.nick or '?'}{targets}{detail}"


def _poller(poller: PollerReport, now: float) -> str:
    """Real polls and the last success; failures, deferrals and skips when there are any;
    then the next run."""
    last = "never"
    if poller.last_ok:
        last = f"{_short(now - poller.last_ok)} ago ({_stamp(poller.last_ok, now)})"
    parts = [f"{poller.runs} run{'s' * (poller.runs != 1)}, last success {last}"]
    if poller.failures:
        parts.append(f"{poller.failures} failed: {poller.last_error}")
    if poller.deferred:
        parts.append(f"{poller.deferred} deferred")
    if poller.skipped:
        parts.append(f"{poller.skipped} skipped")
    line = ", ".join(parts)
    if poller.next_run is not None:
        left = poller.next_run - now
        when = f"in {_short(left)}" if left >= 1 else "due now"
        line += f"; next {when} ({_stamp(poller.next_run, now)})"
    return line


def _stamp(when: float, now: float) -> str:
    """The time of day within a day of now, else the day too."""
    moment = datetime.fromtimestamp(when, UTC)
    return moment.strftime("%H:%M:%S UTC" if abs(when - now) < DAY_S else "%a %d %b %H:%M UTC")


def _short(seconds: float) -> str:
    """A duration in its two largest units: 42s, 3m 5s, 2h 10m, 6d 23h."""
    secs = int(max(seconds, 0))
    minutes, secs = divmod(secs, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {secs}s" if minutes else f"{secs}s"


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h {minutes}m" if days else f"{hours}h {minutes}m {secs}s"
