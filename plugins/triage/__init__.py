"""The triage bot: a model of a GitHub repository's open issues, its labelling rules
enforced, stale work sent back to triage, and GitHub activity relayed to chat.

Flutter's issue-triage automation as a plugin (docs/triage.md: set-up as a GitHub App,
every setting, the rules in plain words, the endpoints). One module per concept:

- ``settings``: the ``[plugins.triage]`` table;
- ``auth``, ``github``: App authentication (a JWT for an installation token) or a
  token; the REST client with pages and the rate limit;
- ``model``: one record per open issue and the globals, in the plugin's store;
- ``events``: webhook events applied to the model; ``fanout``: and relayed to chat;
- ``cleanup``, ``tidy``: the rules; ``changes``: making their changes (or, in dry-run
  mode, only saying so);
- ``scan``: the background scan; ``debug``: the debug page and ``!triage``;
- ``metrics``: the counts; ``runtime``: what the plugin holds while it runs.

Handlers (this module): the webhook ``<webhook_prefix>/triage`` (GitHub deliveries,
signed; the ``http`` plugin checks the signature and refuses repeats), the debug
endpoints ``.../triage/debug``, ``force-update?<n>``, ``force-cleanup``, ``force-tidy``
(with the http plugin's bearer token), three pollers (scan, cleanup, tidy), the
``!triage`` command, and ``report``, the plugin's line in ``!status`` and ``/healthz``.
``setup`` keeps the runtime in ``ctx.shared``. GitHub being unreachable does not stop
the plugin: the pollers fail, ``!status`` and ``/healthz`` say so, and the core
retries them with its backoff.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import parse_qsl

from univac import (
    Context,
    RetryAfter,
    Skip,
    StoreError,
    UserError,
    WebhookRequest,
    WebhookResponse,
    command,
    every,
    webhook,
)

from . import cleanup, debug, fanout, scan, tidy
from .events import apply_event
from .github import RateLimited
from .runtime import Runtime, log, now_s, of, start, stop
from .settings import Settings

__all__ = ["Settings", "report", "setup"]


def setup(ctx: Context[Settings]) -> Callable[[], None]:
    """Load the model from the store; no call to GitHub (the pollers make those)."""
    runtime = start(ctx)
    mode = " in dry-run mode" if ctx.config.dry_run else ""
    log.info("triage of %s%s: %d open issues in the model, %d cleanups pending",
             ctx.config.repo, mode, runtime.model.tracked(), len(runtime.model.pending()))
    return lambda: stop(ctx)


def report(ctx: Context[Settings]) -> str:
    """The plugin's line in ``!status`` and ``/healthz``: issues tracked, the last scan,
    GitHub's rate limit left."""
    runtime = getattr(ctx.shared, "runtime", None)
    return debug.status_line(runtime) if runtime is not None else "not set up"


@webhook("/triage")
def deliveries(ctx: Context[Settings], request: WebhookRequest) -> WebhookResponse | str:
    """A GitHub delivery: applied to the model, then relayed to chat."""
    rt = of(ctx)
    refusal = _unfit(request)
    if refusal is not None:
        rt.counts.count("triage_deliveries", outcome="refused")
        return refusal
    event = request.header("X-GitHub-Event").strip()
    if event == "ping":
        rt.counts.count("triage_deliveries", outcome="ping")
        return "pong\n"
    try:
        payload = request.json()
    except UserError:
        payload = None
    if not isinstance(payload, dict):
        rt.counts.count("triage_deliveries", outcome="refused")
        raise UserError("the body is not a JSON object")
    try:
        outcome = apply_event(rt, event, payload, now_s(ctx))
        sent = fanout.relay(ctx, event, payload)
    except StoreError:
        rt.counts.count("triage_deliveries", outcome="failed")
        return WebhookResponse(503, "the model could not be saved; deliver again later\n")
    except (KeyError, TypeError, ValueError, AttributeError):
        rt.counts.count("triage_deliveries", outcome="refused")
        raise UserError(f"a malformed {event} payload") from None
    rt.counts.count("triage_deliveries", outcome="applied" if outcome == "applied" else "ignored")
    rt.counts.gauge("triage_issues_tracked", rt.model.tracked())
    return f"{outcome}; {sent} line(s) sent\n"


def _unfit(request: WebhookRequest) -> WebhookResponse | None:
    """Why a delivery is refused before it is read: unsigned, or metadata not single."""
    if not request.header("X-Hub-Signature-256"):
        return WebhookResponse(401, "unsigned: set the hook's secret (X-Hub-Signature-256)\n")
    for name in ("X-GitHub-Event", "X-GitHub-Delivery"):
        value = request.header(name).strip()
        if not value or "," in value:
            return WebhookResponse(400, f"need exactly one {name} header\n")
    return None


def _bearer_only(request: WebhookRequest) -> WebhookResponse | None:
    """The debug endpoints take the http plugin's bearer token, nothing else."""
    if request.header("X-Hub-Signature-256") or not request.header("Authorization"):
        return WebhookResponse(401, "send Authorization: Bearer <the http plugin's "
                                    "webhook_token>\n")
    return None


@webhook("/triage/debug", methods=("GET",))
def debug_page(ctx: Context[Settings], request: WebhookRequest) -> WebhookResponse:
    """The model, the scan and the counts, as plain text."""
    return _bearer_only(request) or WebhookResponse(200, debug.page(of(ctx)))


@webhook("/triage/force-update", methods=("POST",))
def force_update(ctx: Context[Settings], request: WebhookRequest) -> WebhookResponse | str:
    """Rebuild one issue from GitHub now: ``force-update?12345`` (the original's form),
    ``?number=12345``, or the number as the body."""
    text = _issue_number(request)

    def update(rt: Runtime, now: int) -> str:
        if not text.isdigit() or int(text) < 1:
            raise UserError("name the issue: force-update?12345, ?number=12345, or the "
                            "number as the body")
        return f"#{text}: {scan.update(rt, int(text), now, rt.settings.reserve)}\n"

    return _forced(ctx, request, update)


def _issue_number(request: WebhookRequest) -> str:
    """The issue number as given: the query string (``12345`` or ``number=12345``), or
    else the body; as typed (checked by the caller)."""
    fields = parse_qsl(request.query, keep_blank_values=True)
    if not fields:
        return request.body.decode("utf-8", "replace").strip().lstrip("#")
    if len(fields) > 1:
        return ""
    name, value = fields[0]
    return value.strip().lstrip("#") if name == "number" else "" if value else name.lstrip("#")


@webhook("/triage/force-cleanup", methods=("POST",))
def force_cleanup(ctx: Context[Settings], request: WebhookRequest) -> WebhookResponse | str:
    """Run the cleanup rules now on every queued issue, due or not."""
    def run(rt: Runtime, now: int) -> str:
        queued = rt.model.due()
        return f"cleaned up {len(queued)} issue(s), {cleanup.run(rt, queued, now)} changed\n"

    return _forced(ctx, request, run)


@webhook("/triage/force-tidy", methods=("POST",))
def force_tidy(ctx: Context[Settings], request: WebhookRequest) -> WebhookResponse | str:
    """Run the tidy rules now."""
    def run(rt: Runtime, now: int) -> str:
        changed = tidy.run(rt, now)
        return f"{changed} issue(s) changed by the tidy rules, {rt.model.tracked()} tracked\n"

    return _forced(ctx, request, run)


def _forced(ctx: Context[Settings], request: WebhookRequest,
            work: Callable[[Runtime, int], str]) -> WebhookResponse | str:
    """Run a debug endpoint's ``work`` for a caller with the bearer token."""
    refusal = _bearer_only(request)
    if refusal is not None:
        return refusal
    rt = of(ctx)
    return _github(rt, lambda: work(rt, now_s(ctx)))


def _github(rt: Runtime, work: Callable[[], object]) -> WebhookResponse | str:
    """Run ``work`` for a debug endpoint; GitHub's failures as a 503 with the reason."""
    try:
        return str(work())
    except UserError:
        raise
    except RateLimited as error:
        return WebhookResponse(503, f"{error}\n")
    except Exception as error:  # GitHub failed: say so to the operator, keep serving
        log.warning("debug endpoint: %s", error, exc_info=True)
        return WebhookResponse(503, f"GitHub call failed: {type(error).__name__}\n")


@every(setting="background_update_s")
def background_update(ctx: Context[Settings]) -> Skip | RetryAfter | None:
    """Rebuild the next issue of the background scan from its timeline."""
    rt = of(ctx)
    return _polled(rt, lambda: scan.step(rt, now_s(ctx)), "the repository has no issues")


@every(setting="cleanup_period_s")
def cleanup_due(ctx: Context[Settings]) -> Skip | RetryAfter | None:
    """Run the cleanup rules on the issues idle for cleanup_delay_s since their last event."""
    rt, now = of(ctx), now_s(ctx)
    due = rt.model.due(now)
    if not due:
        return Skip("no cleanup due")
    return _polled(rt, lambda: cleanup.run(rt, due, now))


@every(setting="tidy_period_s")
def tidy_all(ctx: Context[Settings]) -> Skip | RetryAfter | None:
    """Run the tidy rules on every tracked issue, and the self-test."""
    rt = of(ctx)
    return _polled(rt, lambda: tidy.run(rt, now_s(ctx)))


def _polled(rt: Runtime, work: Callable[[], object], skip_when: object = None
            ) -> Skip | RetryAfter | None:
    """Run a poller's work: a rate limit is a RetryAfter, a failure is raised (backoff)."""
    try:
        result = work()
    except RateLimited as error:
        rt.last_error = str(error)
        return RetryAfter(max(1.0, error.until - time.time()), str(error))
    except Exception as error:
        rt.last_error = f"{type(error).__name__}: {error}"
        raise
    rt.last_error = ""
    return Skip(str(result)) if skip_when is not None and result == skip_when else None


@command("triage")
def triage_command(ctx: Context[Settings], number: int = 0):
    """Show the triage model: triage [issue number]."""
    rt = of(ctx)
    if not number:
        yield from debug.summary(rt)
        yield "counts: " + (", ".join(rt.counts.lines()) or "none yet")
        if rt.settings.dry_run and rt.would:
            yield f"dry run, last change not made: {rt.would[-1]}"
        return
    issue = rt.model.get(number)
    yield debug.describe(number, issue) if issue else f"#{number} is not an open issue I track."
