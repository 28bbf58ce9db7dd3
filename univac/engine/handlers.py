"""Calling plugin code at its boundaries. Layer: core (engine).

Plugin code runs behind a boundary that never lets an exception escape: ``UserError``
becomes a reply the user sees, anything else a fixed text for the user and the
traceback in the log. This module holds the webhook boundary, run on the HTTP server's
worker thread. With ``[ha]`` on, a webhook reaching an instance that does not lead is
refused there with 503 before any plugin code runs (a load balancer that checks
``/healthz`` sends webhooks to the leader only).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from univac.context import Context
from univac.errors import UserError
from univac.ops.stats import Stats
from univac.webhooks import WebhookRequest, WebhookResponse, reply_of

log = logging.getLogger("univac.webhooks")
STANDBY = WebhookResponse(503, "standby: this instance does not lead; send this to the leader\n")


def serve(
    func: Callable[..., object], label: str, ctx: Context, stats: Stats, request: WebhookRequest,
    *, active: Callable[[], bool] = lambda: True,
) -> WebhookResponse:
    """Call one webhook handler; never raises (the handler boundary). 503 unless
    ``active()``: only the leader handles webhooks."""
    if not active():
        return STANDBY
    started = time.perf_counter()
    try:
        response = reply_of(func(ctx.derive(), request))
    except UserError as error:
        response = WebhookResponse(400, str(error))
    except Exception:
        stats.incr("handler_errors")
        log.exception("webhook %s failed", label)
        response = WebhookResponse(500, "the handler failed; details are in the bot's log")
    stats.observe(ctx.plugin, "webhook", time.perf_counter() - started)
    return response
