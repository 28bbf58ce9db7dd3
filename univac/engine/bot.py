"""The running bot: builds every part from a Config and runs it. Layer: core.

The main thread calls ``run``: the supervisor loop, then an orderly shutdown (stop
pollers, refuse new messages, let running handlers finish within a timeout, say
goodbye on each transport, join the threads, tear plugins down). The test harness
builds a Bot with fake transports and drives its dispatcher and pollers directly.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import partial
from pathlib import Path

from univac.botview import CommandInfo
from univac.config import Config, PluginEntry
from univac.context import Context, Services, utc_now
from univac.engine.access import Access
from univac.engine.approvals import Approvals
from univac.engine.catalog import Catalog, Plugin, inspect_plugin
from univac.engine.commits import CommitQueue
from univac.engine.dispatch import Dispatcher, Parts
from univac.engine.events import Events
from univac.engine.ha import HighAvailability
from univac.engine.handlers import Boundary
from univac.engine.jsonstate import clean_temporaries, import_file
from univac.engine.maker import TransportMaker
from univac.engine.poller import Poller
from univac.engine.ratelimit import RateLimiter
from univac.engine.reactive import ReactivePool
from univac.engine.router import Router
from univac.engine.state import State
from univac.engine.store import Fence, Store, open_store
from univac.engine.supervisor import Supervisor
from univac.errors import PluginError, UnivacError
from univac.host import HostInfo
from univac.logs import Masker, mask_everywhere
from univac.message import Message
from univac.ops.audit import AuditLog
from univac.ops.metrics import MetricsReport
from univac.ops.plugin_metrics import PluginMetrics
from univac.ops.reports import StatusReport
from univac.ops.sdnotify import Heartbeat, Notifier, summary
from univac.ops.stats import Stats
from univac.statefolder import state_folder_of
from univac.transport import Transport
from univac.version import __version__
from univac.webhooks import WebhookRoute

log = logging.getLogger("univac.bot")


class Bot:
    """Every part of one running bot, wired together."""

    def __init__(
        self,
        config: Config,
        transports: Mapping[str, Transport] | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        settings = config.bot
        self.config = config
        self.prefix = settings.prefix
        self.started = time.time()
        self.stats = Stats()
        self.stop_event = threading.Event()
        self.contexts: dict[str, Context] = {}
        self.ha = HighAvailability(config, self.stop_event, self.contexts)
        self.fence = self.ha.fence
        self._state_dir = state_dir(config)
        self.store = CommitQueue(open_store(config.store, self._state_dir))
        self.masker = Masker(config.secrets)
        maker = TransportMaker(self.store, self.fence, self.mask)
        self.transports = self.ha.transports(self._made(transports, maker), maker)
        self.router = Router(self.transports, self.stats, self.masker)
        self.pool = ReactivePool(settings.max_reactive, settings.queue_size)
        self.catalog = Catalog()
        self.plugin_errors = {issue.key: issue.reason for issue in config.plugin_issues}
        self._teardowns: list[tuple[str, Callable[[], object]]] = []
        self._routes: list[WebhookRoute] | None = None
        clean_temporaries(self._state_dir)
        self.access = Access(config.roles, config.access)
        self.audit = AuditLog(self._state_dir / settings.audit_file, settings.audit_max_bytes,
                              settings.audit_keep, _audit_sink(self.store, self.fence)
                              if config.store.audit else None)
        approvals = Approvals(self.access, self.audit, self.pool.lend)
        self.boundary = Boundary(self.stats, self.audit, self.prefix)
        self.plugin_metrics = PluginMetrics()
        events = Events(self.catalog, self.contexts, self.boundary)
        self._services = Services(self.router, self, HOST, approvals, self.audit, self.access,
                                  self.plugin_metrics, clock, self.mask, self._state_dir,
                                  events.emit)
        for entry in config.plugins:
            self._enable(entry)
        for problem in self.access.problems(self.catalog.unique_commands(), self.catalog.plugins):
            log.error("access rules: %s", problem)
        self.dispatcher = Dispatcher(Parts(
            self.catalog, self.contexts, self.pool, self.router, self.stats, self.access,
            approvals, self.audit,
            RateLimiter(settings.user_rate, settings.user_burst, settings.rate_exempt),
            RateLimiter(settings.channel_rate, settings.channel_burst, reserve=CHANNEL_RESERVE),
            self.prefix,
            self.boundary,
        ))
        self.pollers = [Poller(h, self.contexts[h.plugin], self.boundary, self.ha.quiet)
                        for h in self.catalog.pollers]
        self.supervisor = Supervisor(self.stop_event, settings.max_crashes, settings.crash_window_s)

    def _made(self, given: Mapping[str, Transport] | None,
              maker: TransportMaker) -> dict[str, Transport]:
        if given is not None:
            return dict(given)
        try:
            return maker.make_all(self.config.transports, self.config.file)
        except BaseException:
            self.store.close()
            raise

    def mask(self, secret: str) -> None:
        """Mask ``secret`` from now on in every log line and chat line (thread-safe)."""
        self.masker.add([secret])
        mask_everywhere([secret])

    def _enable(self, entry: PluginEntry) -> None:
        try:
            plugin = inspect_plugin(entry.name, entry.module, entry.settings)
            import_file(self.store, entry.name, self._state_dir, self.fence.epoch)
            state = State(self.store, entry.name, self.fence)
            ctx = Context(entry.name, config=entry.settings, state=state, services=self._services)
            teardowns = _teardowns(plugin, plugin.setup(ctx) if plugin.setup else None)
            try:
                self.catalog.add(plugin)
            except PluginError:
                _run_teardowns(entry.name, teardowns)
                raise
            self.contexts[entry.name] = ctx
            self._teardowns += [(entry.name, teardown) for teardown in teardowns]
        except Exception as error:  # plugin code (import, settings, setup): disable the plugin
            self.plugin_errors[f"plugins.{entry.name}"] = f"{type(error).__name__}: {error}"
            log.error("plugin %s disabled: %s", entry.name, error,
                      exc_info=not isinstance(error, UnivacError))

    def commands(self, message: Message | None = None) -> list[CommandInfo]:
        """Every enabled command, or those the sender of ``message`` may run here."""
        handlers = self.catalog.unique_commands()
        if message is not None:
            handlers = [h for h in handlers if not self.access.refusal(h, message)]
        return sorted((h.info() for h in handlers), key=lambda info: info.name)

    def status(self) -> StatusReport:
        return StatusReport(
            version=__version__,
            started=self.started,
            transports={name: t.status() for name, t in self.transports.items()},
            pollers=tuple(p.report() for p in self.pollers),
            plugin_errors=dict(self.plugin_errors),
            counters=self.stats.snapshot() | {"shed_total": self.pool.shed},
            reactive=self.pool.load(),
            lease=self.ha.report(),
            plugins=self._reports(),
        )

    def _reports(self) -> dict[str, str]:
        """Each plugin's own line (its ``report(ctx)`` hook), for ``!status``/``/healthz``."""
        lines = {}
        for name, plugin in self.catalog.plugins.items():
            if plugin.report is not None:
                try:
                    lines[name] = str(plugin.report(self.contexts[name].derive()))
                except Exception:  # plugin code, asked from any thread: never break status
                    log.exception("plugin %s: report() failed", name)
                    lines[name] = "report failed (details are in the log)"
        return lines

    def metrics(self) -> MetricsReport:
        return dataclasses.replace(self.stats.report(), plugins=self.plugin_metrics.report())

    def webhooks(self) -> list[WebhookRoute]:
        """Every enabled webhook, bound to its plugin's context (made once: the plugins
        are fixed once the bot is built, and the http plugin asks on every request)."""
        if self._routes is None:
            self._routes = [
                WebhookRoute(path, h.spec.methods, h.plugin, h.label,
                             partial(self.boundary.webhook, h, self.contexts[h.plugin],
                                     active=self.ha.active), h.spec.own_auth)
                for path, h in self.catalog.webhooks.items()
            ]
        return list(self._routes)

    def run(self, notifier: Notifier | None = None) -> int:
        """Supervise until stopped, shut down in order, return the exit code.

        With a ``notifier`` the loop speaks sd_notify (see ``univac/ops/sdnotify.py``).
        """
        notifier = notifier or Notifier(None, None)
        heartbeat = Heartbeat(notifier, self.supervisor.down, self._summary)
        for name, transport in self.transports.items():
            deliver = self.dispatcher.deliver
            self.supervisor.add(f"transport:{name}", self.ha.gate(partial(transport.run, deliver)),
                                True)
        for poller in self.pollers:
            self.supervisor.add(f"poll:{poller.name}", self.ha.gate(poller.run, counted=False))
        for name, target in self.ha.children():
            self.supervisor.add(name, target)
        self.supervisor.on_tick(self._report_slow)
        self.supervisor.on_tick(heartbeat.tick)
        for issue, reason in self.plugin_errors.items():
            log.error("%s: %s (plugin disabled)", issue, reason)
        log.info("univac %s started: %s", __version__, ", ".join(self.transports))
        code = self.supervisor.run(tick_s=max(0.05, min(1.0, notifier.interval or 1.0)))
        heartbeat.stopping()
        self.shutdown()
        notifier.close()
        return code

    def request_stop(self) -> None:
        """Begin a clean shutdown (thread-safe)."""
        self.supervisor.request_stop()

    def shutdown(self) -> None:
        """Stop pollers, drain handlers, say goodbye, join threads, tear plugins down."""
        timeout = self.config.bot.shutdown_timeout_s
        self.stop_event.set()
        self.ha.close()
        self.dispatcher.close()
        if not self.pool.close(timeout):
            log.warning("handlers still running after %.1f s; leaving them", timeout)
        for transport in self.transports.values():
            transport.stop(self.config.bot.goodbye)
        stuck = self.supervisor.join(timeout)
        if stuck:
            log.warning("threads still running at exit: %s", ", ".join(stuck))
        for name, teardown in self._teardowns:
            _run_teardowns(name, [teardown])
        self._teardowns.clear()
        self.audit.close()
        self.store.close()
        log.info("univac stopped")

    def _summary(self) -> str:
        states = {name: transport_state(t) for name, t in self.transports.items()}
        return summary(states, self.supervisor.down(), len(self.pollers), self.ha.role())

    def _report_slow(self) -> None:
        for job in self.pool.newly_slow(self.config.bot.slow_handler_s):
            running = time.monotonic() - job.started
            log.warning("handler %s has run for %.0f s and is still running", job.label, running)


HOST = HostInfo()
CHANNEL_RESERVE = 2
"""Channel tokens kept for people who have been quiet (ratelimit.py): flooders in a
channel never keep a second person's command from being answered."""


def state_dir(config: Config) -> Path:
    """The state folder: the configured one, systemd's, XDG's, or ~/.local/state."""
    return state_folder_of(config.bot.state_dir, config.base_dir)


def transport_state(transport: Transport) -> str:
    """The transport's own word for its state; ``unknown`` when it cannot say."""
    try:
        return str(getattr(transport.status(), "state", "unknown"))
    except Exception:  # transport code, reached from the main loop: keep the loop alive
        log.debug("status() of transport %s failed", transport.name, exc_info=True)
        return "unknown"


def _audit_sink(store: Store, fence: Fence) -> Callable[[str], None]:
    return lambda record: store.append_audit(record, fence.epoch)


def _teardowns(plugin: Plugin, returned: object) -> list[Callable[[], object]]:
    """The plugin's teardowns: what its ``setup`` returned, then a module ``teardown()``."""
    if returned is not None and not callable(returned):
        raise PluginError(f"setup() of '{plugin.name}' returned {type(returned).__name__}: "
                          "return None, or the function that tears the plugin down")
    found = [returned] if callable(returned) else []
    return found + ([plugin.teardown] if plugin.teardown is not None else [])


def _run_teardowns(name: str, teardowns: list[Callable[[], object]]) -> None:
    for teardown in teardowns:
        try:
            teardown()
        except Exception:  # plugin code at shutdown: log it, tear the others down
            log.exception("plugin %s teardown failed", name)
