"""Report the bot's health: uptime, transports, pollers, plugin errors."""

import time
from datetime import UTC, datetime

from univac import Context, TransportStatus, command


@command
def status(ctx: Context):
    """Show uptime, each transport's state, each poller's last run and plugin errors.

    With [ha] on, a line says whether this instance leads and since when."""
    report = ctx.bot.status()
    threads, running, queued = report.reactive
    yield (f"Univac {report.version}, up {_duration(time.time() - report.started)}; "
           f"handlers: {running} running, {queued} queued, {threads} threads")
    if report.lease is not None:
        lease = report.lease
        epoch = f" with epoch {lease.epoch}" if lease.epoch is not None else ""
        since = _duration(time.time() - lease.since)
        yield f"lease: {lease.role}{epoch} for {since} ({lease.detail})"
    for name, state in report.transports.items():
        yield f"transport {name}: {_transport(state)}"
    for poller in report.pollers:
        last = _ago(poller.last_ok) if poller.last_ok else "never"
        failing = f", {poller.failures} failed: {poller.last_error}" if poller.failures else ""
        yield f"poller {poller.name}: last success {last}{failing}"
    if report.plugin_errors:
        yield f"plugin errors in: {', '.join(report.plugin_errors)} (details in the log)"


def _transport(state: TransportStatus) -> str:
    targets = f" in {', '.join(state.targets)}" if state.targets else ""
    detail = f" ({state.detail})" if state.detail else ""
    return f"{state.state} as {state.nick or '?'}{targets}{detail}"


def _ago(when: float) -> str:
    stamp = datetime.fromtimestamp(when, UTC).strftime("%H:%M:%S UTC")
    return f"{_duration(time.time() - when)} ago ({stamp})"


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h {minutes}m" if days else f"{hours}h {minutes}m {secs}s"
