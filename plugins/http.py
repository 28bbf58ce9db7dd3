"""Serve health, Prometheus metrics and plugin webhooks over HTTP (enable it by name).

One small waitress server, started in ``setup`` on a thread of its own and stopped by
the teardown ``setup`` returns (the server lives in that closure, not in a module
global, so several bots in one process each serve on their own port); bound to 127.0.0.1
by default, with a body size limit, a header size limit, a connection limit, an
idle-connection timeout (waitress's ``channel_timeout``) and an overall deadline for
reading a request, which waitress lacks: a client that sends its request a line at a
time is cut off ``request_timeout_s`` after it began, however steadily it trickles, so
slow clients cannot hold the connection slots:

- ``GET /healthz``: JSON of each transport (state, joined targets, last inbound traffic,
  reconnects), each poller (real polls, skips and deferrals, last success, failures in a
  row and the kind of the last error, the next run), the reactive threads and queue,
  and the leader lease. 200 when healthy,
  503 when not: healthy means every transport is ``connected``, no poller has failed
  ``poller_failures_unhealthy`` times in a row and, with ``[ha]`` on, this instance
  leads: a standby answers 503 (``"role": "standby"``), so a load balancer that checks
  ``/healthz`` sends webhooks to the leader only.
- ``GET /metrics``: Prometheus text, read from the bot on each scrape.
- ``<webhook_prefix><path>``: the ``@webhook(path)`` handlers of every enabled plugin.
  A request must carry a valid ``X-Hub-Signature-256`` (HMAC-SHA256 of the body under
  ``webhook_secret``) or ``Authorization: Bearer <webhook_token>``, unless
  ``allow_unsigned`` is set; a repeated ``X-GitHub-Delivery`` id, or a signed body seen
  before (by its SHA-256), is answered 200 and not handled again; a webhook with
  ``own_auth`` checks its callers itself and skips both. A path ending in ``/*`` answers
  the paths below it (the exact path first, then the longest ``/*`` path). Handlers run
  on the server's worker threads (``threads``).

Settings (``[plugins.http]``)::

    port = 9464
    webhook_secret_file = "webhook-secret"    # GitHub's hook secret
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, ClassVar

from prometheus_client import CONTENT_TYPE_LATEST, Counter, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry
from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ThreadedTaskDispatcher

from univac import (
    Context,
    MetricsReport,
    PluginError,
    StatusReport,
    WebhookRequest,
    WebhookResponse,
    WebhookRoute,
)
from univac.kit import webhook as hooks

log = logging.getLogger("univac.plugin.http")
ENDPOINTS = ("healthz", "metrics", "webhooks")
JSON = "application/json"
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass(frozen=True)
class Settings:
    """The ``[plugins.http]`` table."""

    host: str = "127.0.0.1"
    port: int = 9464
    """0 picks a free port (logged at start)."""
    endpoints: tuple[str, ...] = ENDPOINTS
    webhook_prefix: str = "/hooks"
    max_body_bytes: int = 1_000_000
    max_header_bytes: int = 65_536
    idle_timeout_s: int = 30
    """Connections without traffic are closed after this many seconds."""
    request_timeout_s: float = 10.0
    """A request (head and body) not read in full this long after it began is cut off."""
    threads: int = 8
    max_connections: int = 100
    webhook_secret: str = ""
    webhook_token: str = ""
    allow_unsigned: bool = False
    """Accept webhook requests without a signature or token (only behind a gateway)."""
    remember_deliveries: int = 1000
    poller_failures_unhealthy: int = 3
    RENAMED: ClassVar[dict[str, str]] = {"timeout_s": "idle_timeout_s"}

    def __post_init__(self) -> None:
        unknown = sorted(set(self.endpoints) - set(ENDPOINTS))
        if unknown:
            raise ValueError(f"endpoints: unknown {unknown}; choose from {list(ENDPOINTS)}")
        if not self.webhook_prefix.startswith("/") or self.webhook_prefix.endswith("/"):
            raise ValueError("webhook_prefix must start with / and not end with one")
        if not 0 <= self.port <= 65535 or min(self.max_body_bytes, self.idle_timeout_s) < 1:
            raise ValueError("need port 0..65535, max_body_bytes >= 1 and idle_timeout_s >= 1")
        if self.request_timeout_s < 1:
            raise ValueError("need request_timeout_s >= 1")
        if min(self.threads, self.max_connections, self.poller_failures_unhealthy) < 1:
            raise ValueError("threads, max_connections, poller_failures_unhealthy must be >= 1")


class Channel(HTTPChannel):
    """A waitress connection that notes when the request it is reading began."""

    reading_since: float | None
    """None between requests; else when the first byte (or the connection) came."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reading_since = self.creation_time

    def received(self, data: bytes) -> bool:
        if self.request is None and self.reading_since is None and data:
            self.reading_since = time.time()
        handled = bool(super().received(data))
        if self.request is None:  # nothing half-read: the requests so far are complete
            self.reading_since = None
        return handled


class DeadlineServer(TcpWSGIServer):
    """waitress's TCP server, whose maintenance also cuts requests read for too long."""

    channel_class = Channel
    request_timeout_s: float = 10.0
    cut = 0
    """Connections cut since the last log line (one line a minute at most)."""
    logged = 0.0

    def maintenance(self, now: float) -> None:
        super().maintenance(now)
        cutoff = now - self.request_timeout_s
        for channel in list(self.active_channels.values()):
            since = getattr(channel, "reading_since", None)
            if since is None or channel.requests or channel.will_close:
                continue  # not reading a request (idle, or being answered), or closing
            if since < cutoff:
                channel.will_close = True
                self.cut += 1
        if self.cut and now - self.logged >= 60:
            log.info("http: cut %d connection(s) whose request took over %g s",
                     self.cut, self.request_timeout_s)
            self.cut, self.logged = 0, now


class Server:
    """A waitress server on a thread of its own, stopped by ``stop``."""

    def __init__(self, app: WSGIApp, settings: Settings) -> None:
        self._map: dict[int, Any] = {}
        shortest = min(settings.idle_timeout_s, settings.request_timeout_s)
        adj = Adjustments(
            host=settings.host, port=settings.port, threads=settings.threads,
            connection_limit=settings.max_connections, channel_timeout=settings.idle_timeout_s,
            cleanup_interval=max(1, int(shortest // 2)),
            max_request_body_size=settings.max_body_bytes,
            max_request_header_size=settings.max_header_bytes,
            expose_tracebacks=False, ident="univac",
        )
        self._dispatcher = ThreadedTaskDispatcher()
        self._dispatcher.set_thread_count(adj.threads)
        self._servers = [self._listen(app, adj, sockinfo, settings) for sockinfo in adj.listen]
        self.port: int = int(self._servers[0].effective_port)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="http:server", daemon=True)

    def _listen(self, app: WSGIApp, adj: Adjustments, sockinfo: Any,
                settings: Settings) -> DeadlineServer:
        server = DeadlineServer(app, map=self._map, dispatcher=self._dispatcher, adj=adj,
                                sockinfo=sockinfo)
        server.request_timeout_s = settings.request_timeout_s
        return server

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._servers[0].pull_trigger()
        self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            wasyncore.loop(timeout=0.5, map=self._map, count=1)
        self._dispatcher.shutdown(timeout=2)
        wasyncore.close_all(self._map)


def setup(ctx: Context) -> Callable[[], None]:
    """Start serving and return what stops it; PluginError when the address cannot be bound.

    The address is logged, with the port chosen when ``port = 0``.
    """
    settings: Settings = ctx.config
    try:
        server = Server(App(ctx), settings)
    except OSError as error:
        raise PluginError(f"cannot listen on {settings.host}:{settings.port}: "
                          f"{error.strerror or error}") from None
    server.start()
    ctx.log.info("serving %s on http://%s:%d", ", ".join(settings.endpoints),
                 settings.host, server.port)
    return server.stop


class App:
    """The WSGI application: routes a request to health, metrics or a webhook."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.settings: Settings = ctx.config
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(BotCollector(ctx, self.settings))
        self.requests = Counter("univac_webhook_requests", "Webhook requests, by answer.",
                                ["path", "status"], registry=self.registry)
        self._routes: dict[str, WebhookRoute] | None = None
        self._below: list[WebhookRoute] = []
        self._counted: dict[tuple[str, int], Any] = {}
        self.deliveries = hooks.Deliveries(
            ctx.state, 2 * self.settings.remember_deliveries, legacy_key="deliveries")

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        try:
            response = self._route(environ)
        except Exception:  # the request boundary: log it, answer 500
            log.exception("http request %s failed", environ.get("PATH_INFO"))
            response = WebhookResponse(500, "internal error\n")
        body = response.payload()
        phrase = HTTPStatus(response.status).phrase
        own = ("content-type", "content-length", "cache-control")
        start_response(f"{response.status} {phrase}", [
            ("Content-Type", response.content_type), ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
            *((k, v) for k, v in response.headers.items() if k.lower() not in own),
        ])
        return [body]

    def _route(self, environ: dict[str, Any]) -> WebhookResponse:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        on = self.settings.endpoints
        if path in ("/healthz", "/metrics") and path[1:] in on and method not in ("GET", "HEAD"):
            return WebhookResponse(405, "use GET\n")
        if path == "/healthz" and "healthz" in on:
            return health(self.ctx, self.settings.poller_failures_unhealthy)
        if path == "/metrics" and "metrics" in on:
            return WebhookResponse(200, generate_latest(self.registry), CONTENT_TYPE_LATEST)
        prefix = self.settings.webhook_prefix
        if "webhooks" in on and path.startswith(prefix + "/"):
            asked = path[len(prefix):]
            route = self._route_of(asked)
            if route is None:
                return WebhookResponse(404, "no webhook here\n")
            response = self._webhook(environ, method, route, asked)
            self._count(route.path, response.status)
            return response
        return WebhookResponse(404, "not found\n")

    def _route_of(self, path: str) -> WebhookRoute | None:
        """The webhook of exactly ``path``, else the longest ``/*`` webhook above it."""
        if self._routes is None:  # the first request: every plugin is enabled by now
            routes = self.ctx.bot.webhooks()
            self._below = sorted((r for r in routes if r.path.endswith("/*")),
                                 key=lambda route: -len(route.path))
            self._routes = {r.path: r for r in routes if not r.path.endswith("/*")}
        exact = self._routes.get(path)
        return exact or next((r for r in self._below if r.matches(path)), None)

    def _count(self, path: str, status: int) -> None:
        child = self._counted.get((path, status))
        if child is None:
            child = self._counted[(path, status)] = self.requests.labels(path, str(status))
        child.inc()

    def _webhook(
        self, environ: dict[str, Any], method: str, route: WebhookRoute, path: str
    ) -> WebhookResponse:
        if method not in route.methods:
            return WebhookResponse(405, f"use {' or '.join(route.methods)}\n")
        settings = self.settings
        body = hooks.read_body(environ, settings.max_body_bytes)
        if body is None:
            return WebhookResponse(413, f"the body is over {settings.max_body_bytes} bytes\n")
        headers = hooks.headers_of(environ)
        refusal = None if route.own_auth else hooks.refusal(
            headers, body, settings.webhook_secret, settings.webhook_token,
            settings.allow_unsigned)
        if refusal is not None:
            log.warning("webhook %s refused from %s: %s", path, environ.get("REMOTE_ADDR"),
                        refusal[1])
            return WebhookResponse(refusal[0], refusal[1] + "\n")
        marks = [] if route.own_auth else hooks.marks(headers, body)
        if marks and not self.deliveries.claim(marks):
            return WebhookResponse(200, "this delivery was already handled\n")
        request = WebhookRequest(method, path, headers, body, environ.get("REMOTE_ADDR", ""),
                                 environ.get("QUERY_STRING", ""))
        try:
            response = route.call(request)
        except BaseException:
            self.deliveries.release(marks)
            raise
        settle = self.deliveries.done if response.status < 500 else self.deliveries.release
        settle(marks)
        return response


def problems(report: StatusReport, failures_unhealthy: int) -> list[str]:
    """Why the bot is not healthy; empty when it is."""
    found = [f"transport {name} is {t.state}"
             for name, t in report.transports.items() if t.state != "connected"]
    found += [f"poller {p.name} failed {p.failures} times in a row"
              for p in report.pollers if p.failures >= failures_unhealthy]
    lease = report.lease
    if lease is not None and lease.role != "leader":
        return [f"{lease.role}: {lease.detail}"]
    return found


def health(ctx: Context, failures_unhealthy: int) -> WebhookResponse:
    """The ``/healthz`` answer: JSON, 200 when healthy, 503 when not."""
    try:
        report = ctx.bot.status()
    except Exception:  # the bot is still starting: its parts are not all there yet
        log.debug("status() failed", exc_info=True)
        return WebhookResponse(503, json.dumps({"healthy": False, "problems": ["starting"]}), JSON)
    found = problems(report, failures_unhealthy)
    threads, running, queued = report.reactive
    lease = report.lease
    document = {
        "healthy": not found, "problems": found, "version": report.version,
        "role": lease.role if lease else "",
        "lease": {"role": lease.role, "epoch": lease.epoch, "since": lease.since,
                  "detail": lease.detail} if lease else None,
        "started": report.started,
        "transports": {name: {
            "state": t.state, "targets": list(t.targets), "last_inbound": t.last_inbound,
            "last_pong": t.last_pong,
            "reconnects": t.reconnects, "detail": t.detail,
        } for name, t in report.transports.items()},
        "pollers": {p.name: {
            "runs": p.runs, "skipped": p.skipped, "deferred": p.deferred,
            "last_ok": p.last_ok, "failures": p.failures,
            "failures_total": p.failures_total, "last_failure": p.last_failure,
            "last_error": p.last_error, "next_run": p.next_run, "schedule": p.schedule,
        } for p in report.pollers},
        "reactive": {"threads": threads, "running": running, "queued": queued},
        "plugins": dict(report.plugins),
        "plugin_errors": sorted(report.plugin_errors),
    }
    return WebhookResponse(503 if found else 200, json.dumps(document, indent=1) + "\n", JSON)


class BotCollector(Collector):
    """Reads the bot's counters and reports on each scrape (nothing is cached)."""

    def __init__(self, ctx: Context, settings: Settings) -> None:
        self._ctx = ctx
        self._settings = settings

    def collect(self) -> Iterator[Metric]:
        status, report = self._ctx.bot.status(), self._ctx.bot.metrics()
        yield from _bot_metrics(status, self._settings)
        yield from _transport_metrics(status, report.counters)
        yield from _command_metrics(report)
        yield from _load_metrics(status, report.counters)
        yield from _poller_metrics(status)
        yield from _plugin_metrics(report)


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=value)


def _bot_metrics(status: StatusReport, settings: Settings) -> Iterator[Metric]:
    info = GaugeMetricFamily("univac_info", "The running Univac version.", labels=["version"])
    info.add_metric([status.version], 1)
    yield info
    yield _gauge("univac_start_time_seconds", "When the bot started (Unix time).", status.started)
    healthy = not problems(status, settings.poller_failures_unhealthy)
    yield _gauge("univac_healthy", "1 when /healthz answers 200, else 0.", float(healthy))
    yield _gauge("univac_plugins_disabled", "Plugins disabled by an error.",
                 len(status.plugin_errors))
    if status.lease is not None:
        yield _gauge("univac_lease_leader", "1 while this instance leads ([ha]), else 0.",
                     float(status.lease.role == "leader"))
        yield _gauge("univac_lease_epoch", "The epoch this instance leads with (0: none).",
                     float(status.lease.epoch or 0))


def _transport_metrics(status: StatusReport, counters: Mapping[str, int]) -> Iterator[Metric]:
    by = ["transport"]
    received = CounterMetricFamily("univac_messages_received", "Messages received.", labels=by)
    sent = CounterMetricFamily("univac_messages_sent", "Messages sent.", labels=by)
    up = GaugeMetricFamily("univac_transport_connected", "1 while connected.", labels=by)
    reconnects = CounterMetricFamily("univac_transport_reconnects", "Reconnects.", labels=by)
    inbound = GaugeMetricFamily("univac_transport_last_inbound_timestamp_seconds",
                                "Last traffic received (Unix time).", labels=by)
    dropped = CounterMetricFamily("univac_transport_dropped_lines",
                                  "Outgoing lines a transport dropped, by reason.",
                                  labels=["transport", "reason"])  # fmt: skip
    for name, t in status.transports.items():
        received.add_metric([name], counters.get(f"in:{name}", 0))
        sent.add_metric([name], counters.get(f"out:{name}", 0))
        up.add_metric([name], float(t.state == "connected"))
        reconnects.add_metric([name], t.reconnects)
        if t.last_inbound is not None:
            inbound.add_metric([name], t.last_inbound)
        for reason, count in sorted(t.dropped.items()):
            dropped.add_metric([name, reason], count)
    yield from (received, sent, up, reconnects, inbound, dropped)


def _command_metrics(report: MetricsReport) -> Iterator[Metric]:
    commands = CounterMetricFamily("univac_commands", "Commands handled, by outcome.",
                                   labels=["plugin", "command", "result"])
    for (plugin, command, result), count in sorted(report.commands.items()):
        commands.add_metric([plugin, command, result], count)
    yield commands
    latency = HistogramMetricFamily("univac_handler_duration_seconds",
                                    "How long handlers ran.", labels=["plugin", "kind"])
    for (plugin, kind), snap in sorted(report.latency.items()):
        latency.add_metric([plugin, kind], _buckets(snap), snap.total)
    yield latency


def _plugin_metrics(report: MetricsReport) -> Iterator[Metric]:
    """The plugins' own counters, gauges and histograms, under the names they gave."""
    own = report.plugins
    if own is None:
        return
    kinds = {"counter": CounterMetricFamily, "gauge": GaugeMetricFamily,
             "histogram": HistogramMetricFamily}
    metrics = {name: kinds[family.kind](name, f"Counted by the {family.plugin} plugin.",
                                        labels=list(family.labels))
               for name, family in own.families.items()}
    for (name, values), value in sorted(own.values.items()):  # one pass, not one a family
        metrics[name].add_metric(list(values), value)
    for (name, values), snap in sorted(own.histograms.items()):
        metrics[name].add_metric(list(values), _buckets(snap), snap.total)
    yield from (metrics[name] for name in sorted(metrics))


def _buckets(snap: Any) -> list[tuple[str, float]]:
    """A histogram snapshot's cumulative buckets, as Prometheus names them."""
    bounds = [(repr(float(b)), c) for b, c in zip(snap.bounds, snap.cumulative, strict=True)]
    return [*bounds, ("+Inf", snap.count)]


def _load_metrics(status: StatusReport, counters: Mapping[str, int]) -> Iterator[Metric]:
    threads, running, queued = status.reactive
    yield _gauge("univac_reactive_threads", "Reactive threads alive.", threads)
    yield _gauge("univac_reactive_busy", "Reactive threads running a handler.", running)
    yield _gauge("univac_reactive_queue_depth", "Jobs waiting for a reactive thread.", queued)
    yield _counter("univac_shed_messages", "Messages shed: the queue was full.",
                   counters.get("shed", 0))
    yield _counter("univac_rate_limited", "Messages dropped by rate limits.",
                   counters.get("rate_limited", 0))
    yield _counter("univac_handler_errors", "Handlers that raised an unexpected error.",
                   counters.get("handler_errors", 0))


def _poller_metrics(status: StatusReport) -> Iterator[Metric]:
    by = ["poller"]
    runs = CounterMetricFamily("univac_poller_runs", "Poller runs.", labels=by)
    failing = GaugeMetricFamily("univac_poller_consecutive_failures",
                                "Failures since the last success.", labels=by)
    last_ok = GaugeMetricFamily("univac_poller_last_success_timestamp_seconds",
                                "Last successful run (Unix time).", labels=by)
    failures = CounterMetricFamily("univac_poller_failures", "Failed poller runs.", labels=by)
    for poller in status.pollers:
        runs.add_metric([poller.name], poller.runs)
        failing.add_metric([poller.name], poller.failures)
        failures.add_metric([poller.name], poller.failures_total)
        if poller.last_ok is not None:
            last_ok.add_metric([poller.name], poller.last_ok)
    yield from (runs, failing, last_ok, failures)

