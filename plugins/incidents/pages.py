"""Incident pages over HTTP: sign-in, privacy, and HTML from Jinja2 templates.

The http plugin's worker threads call it, through the plugin's ``@webhook(...,
own_auth=True)`` routes (``__init__.py``); the pages themselves are in ``views.py``,
their templates in ``templates/`` (shipped with the package). ``serve`` does what every
page needs before and after it is built:

1. neither way in configured (``signin.enabled``): 404, as if there were no page;
2. who asks (``signin.visitor``): nobody signed in is asked to (401); someone without
   the readers' (or writers') role is refused (403, written to the audit trail);
3. the page is built from a ``Visit`` (the request, the operations, the visitor's
   rights, now): ``NotFound`` is a 404 page, another ``UserError`` a 400 page, a
   ``StoreError`` a 503 page, each with its text; anything else a 500 page with a fixed
   text (the details in the log). Never a traceback;
4. the template is rendered with autoescaping on, and the answer carries a Content
   Security Policy that allows no script, no frame and no other origin.

The privacy rules are chat's (``privacy.rights``): a page is seen by its visitor alone,
as a private message is, so a viewer sees the details; a reader who is no viewer sees
only that incidents exist (how many, their ids), as chat tells them.

Adding a page is a template that extends ``base.html`` and one route::

    @webhook("/incidents/weekly/*", methods=("GET",), own_auth=True)
    def weekly_page(ctx, request):
        return pages.serve(ctx, request, lambda visit: Page("weekly.html", {...}))
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jinja2

from univac import Context, Message, StoreError, UserError, WebhookRequest, WebhookResponse

from .privacy import Access, refusal, rights
from .service import Incidents
from .settings import Settings
from .signin import IDENTITY_PREFIX, Unknown, Visitor, enabled, visitor

log = logging.getLogger("univac.plugin.incidents")
TEMPLATES = Path(__file__).parent / "templates"
HTML = "text/html; charset=utf-8"
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
ROOT = "/incidents"


class NotFound(UserError):
    """What a page names does not exist (a 404 page with this text)."""


@dataclass(frozen=True)
class Page:
    """What a page builder returns: its template, the values it shows, its status."""

    template: str
    data: Mapping[str, Any] = field(default_factory=dict)
    status: int = 200


@dataclass(frozen=True)
class Visit:
    """One signed-in request, as a page builder gets it."""

    request: WebhookRequest
    incidents: Incidents
    settings: Settings
    visitor: Visitor
    access: Access
    now: datetime

    @property
    def details(self) -> bool:
        """Whether the visitor may see details (a viewer; a page is private)."""
        return self.access.details

    def query(self, name: str) -> str:
        """The first value of ``name`` in the query string; empty when not given."""
        values = parse_qs(self.request.query).get(name)
        return values[0].strip() if values else ""

    @property
    def home(self) -> str:
        """The relative link to ``/incidents`` from this page (see ``home_of``)."""
        return home_of(self.request.path)

    @property
    def parts(self) -> list[str]:
        """The path below ``/incidents``: ``["inc_1"]`` for ``/incidents/inc_1``."""
        below = self.request.path.removeprefix(ROOT).strip("/")
        return below.split("/") if below else []


def serve(ctx: Context[Settings], request: WebhookRequest,
          build: Callable[[Visit], Page]) -> WebhookResponse:
    """Answer one page request (see the module docstring)."""
    settings = ctx.config
    if not enabled(settings):
        return WebhookResponse(404, "no webhook here\n")  # what the server says of no page
    home = home_of(request.path)
    incidents = getattr(ctx.shared, "incidents", None)
    if incidents is None:
        return message(home, 503, "Not ready", "The incident store is not open yet.")
    who = visitor(request, settings, lambda user: sender(ctx, user).has_role)
    if isinstance(who, Unknown):
        ctx.count("incident_page_refusals", reason=who.reason)
        log.debug("incident page %s: nobody signed in (%s) from %s", request.path,
                  who.reason, request.remote)
        challenge = {"WWW-Authenticate": 'Bearer realm="incidents"'} \
            if settings.page_token else {}
        return message(home, 401, "Sign in", "Sign in to see incidents.", challenge)
    access = rights(settings, who.holds, here=True)
    if not access.reader:
        reason = refusal(settings, False, "read incidents")
        ctx.count("incident_page_refusals", reason="role")
        audited = sender(ctx, who.user) if who.user else ctx
        audited.audit("incident.page", "refused", reason=reason, path=request.path[:200],
                      **({} if who.user else {"identity": who.identity}))
        return message(home, 403, "Not allowed", reason, who=who)
    visit = Visit(request, incidents, settings, who, access, ctx.now())
    try:
        page = build(visit)
    except NotFound as error:
        return message(home, 404, "Not found", str(error), who=who)
    except StoreError as error:
        return message(home, 503, "Store unavailable", str(error), who=who)
    except UserError as error:
        return message(home, 400, "Bad request", str(error), who=who)
    except Exception:  # the page boundary: a page, never a traceback
        log.exception("incident page %s failed", request.path)
        return message(home, 500, "Something went wrong",
                       "The page could not be made; the details are in the bot's log.", who=who)
    return render(page, home, who)


def sender(ctx: Context[Settings], user: str) -> Context[Settings]:
    """A context whose sender is the proxy's ``user`` (identity ``http:<user>``): its
    ``has_role`` asks the bot's roles, its ``audit`` records who."""
    return ctx.derive(Message("http", user, user, "", private=True,
                              identity=IDENTITY_PREFIX + user))


def home_of(path: str) -> str:
    """The relative link to ``/incidents`` from ``path`` (pages may be served under
    any prefix, behind any proxy): ``incidents``, ``../incidents``..."""
    return "../" * max(0, path.count("/") - 1) + ROOT.lstrip("/")


def message(home: str, status: int, title: str, text: str,
            headers: Mapping[str, str] | None = None, who: Visitor | None = None
            ) -> WebhookResponse:
    """A page that says one thing (sign in, not allowed, not found...)."""
    page = Page("message.html", {"title": title, "text": text}, status)
    return render(page, home, who, headers or {})


def render(page: Page, home: str, who: Visitor | None,
           headers: Mapping[str, str] | None = None) -> WebhookResponse:
    signed = (who.user or "token") if who else ""
    html = environment().get_template(page.template).render(
        {"home": home, "signed_in": signed, **page.data})
    return WebhookResponse(page.status, html, HTML, {**HEADERS, **(headers or {})})


@cache
def environment() -> jinja2.Environment:
    """The templates' environment: autoescaping on, an unknown name is an error."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
