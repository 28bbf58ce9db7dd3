"""Approvals and confirmations: a handler waits for people to agree. Layer: core.

``ctx.approve(action)`` posts a request with a number; holders of the approver role
answer ``!approve N`` or ``!deny N`` (the ``approvals`` plugin); the handler's reactive
thread waits until enough approvals arrive, one denial, or the time-to-live runs out,
and gets ``"approved"``, ``"denied"`` or ``"expired"``: an ``Approval``, a ``str`` that
also tells the request's number and who approved (or denied). Requesters cannot
approve their own request unless the action allows it. ``ctx.confirm(question)`` is
the light variant: the requester alone answers yes or no within a timeout. Every
outcome is written to the audit log. While a handler waits for people, the reactive pool lends
one more thread, so waiting handlers can never starve ``!approve`` itself; at most
MAX_WAITING handlers wait at once.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field

from univac.engine.access import Access
from univac.errors import UserError
from univac.message import Message
from univac.ops.audit import AuditLog

MAX_WAITING = 32
YES = frozenset({"yes", "y"})
NO = frozenset({"no", "n"})
Send = Callable[[str], None]


class Approval(str):
    """The outcome of ``ctx.approve``: ``"approved"``, ``"denied"`` or ``"expired"`` (so
    ``outcome == "approved"`` holds as it always did), with who answered."""

    request: int
    """The request's number (what ``!approve N`` named)."""
    approvers: tuple[str, ...]
    """The identities that approved, in the order they did (on a denial or an expiry,
    those who had approved until then)."""
    denied_by: str
    """The identity that denied; empty unless the outcome is ``"denied"``."""

    def __new__(cls, outcome: str, request: int = 0, approvers: Iterable[str] = (),
                denied_by: str = "") -> Approval:
        made = super().__new__(cls, outcome)
        made.request, made.approvers, made.denied_by = request, tuple(approvers), denied_by
        return made


@dataclass
class Request:
    """One pending approval."""

    number: int
    action: str
    message: Message
    needed: int
    role: str
    self_approve: bool
    approvers: list[str] = field(default_factory=list)
    """Identities, each once, in the order they approved."""
    outcome: str = ""
    denied_by: str = ""
    done: threading.Event = field(default_factory=threading.Event)

    def result(self) -> Approval:
        return Approval(self.outcome, self.number, self.approvers, self.denied_by)


@dataclass
class Question:
    """One pending yes/no confirmation."""

    answer: bool | None = None
    done: threading.Event = field(default_factory=threading.Event)


class Approvals:
    """Pending approval requests and confirmations, shared by every transport."""

    def __init__(self, access: Access, audit: AuditLog,
                 lend: Callable[[], AbstractContextManager[None]]) -> None:
        self._access = access
        self._audit = audit
        self._lend = lend
        self._waiting = 0
        self._lock = threading.Lock()
        self._numbers = itertools.count(1)
        self._requests: dict[int, Request] = {}
        self._questions: dict[tuple[str, str, str], Question] = {}

    def ask(self, message: Message, action: str, send: Send, needed: int, ttl_s: float,
            role: str, self_approve: bool) -> Approval:
        """Post a request and wait for its outcome (on the handler's own thread)."""
        request = Request(next(self._numbers), action, message, needed, role, self_approve)
        with self._lock:
            self._requests[request.number] = request
        self._audit.record("approval", "requested", message, request=request.number, what=action)
        send(f"Approval needed ({needed} from role '{role}'): {action}. Requested by "
             f"{message.sender}. Answer with approve {request.number} or deny "
             f"{request.number} within {ttl_s:.0f} s.")
        with self._wait():
            finished = request.done.wait(ttl_s)
        if not finished:
            self._finish(request, "expired")
        if request.outcome == "expired":
            self._audit.record("approval", "expired", message, request=request.number)
            send(f"Request {request.number} expired: {action}")
        with self._lock:
            return request.result()

    def decide(self, number: int, message: Message, approve: bool) -> str:
        """Record an approver's answer; return the reply for them."""
        with self._lock:
            request = self._requests.get(number)
        if request is None:
            return f"There is no pending request {number}."
        if not self._access.has_role(request.role, message):
            self._audit.record("approval", "refused", message, request=number)
            return f"You need the '{request.role}' role to answer request {number}."
        if message.identity == request.message.identity and not request.self_approve:
            self._audit.record("approval", "refused", message, request=number, reason="self")
            return f"You cannot answer your own request {number}."
        if not approve:
            self._finish(request, "denied", message.identity)
            self._audit.record("approval", "denied", message, request=number)
            return f"Request {number} denied by {message.sender}."
        return self._approve(request, message)

    def _approve(self, request: Request, message: Message) -> str:
        with self._lock:
            if message.identity not in request.approvers:
                request.approvers.append(message.identity)
            count = len(request.approvers)
        self._audit.record("approval", "approved", message, request=request.number, count=count)
        if count < request.needed:
            return f"Approval {count} of {request.needed} recorded for request {request.number}."
        self._finish(request, "approved")
        return f"Request {request.number} approved: {request.action}"

    def _finish(self, request: Request, outcome: str, by: str = "") -> None:
        with self._lock:
            if not request.outcome:
                request.outcome = outcome
                request.denied_by = by if outcome == "denied" else ""
            self._requests.pop(request.number, None)
        request.done.set()

    def confirm(self, message: Message, question: str, send: Send, timeout_s: float) -> bool | None:
        """Ask the sender a yes/no question; their answer, or None after the timeout."""
        key = (message.transport, message.target, message.identity)
        pending = Question()
        with self._lock:
            self._questions[key] = pending
        send(f"{message.sender}: {question} (yes/no)")
        with self._wait():
            pending.done.wait(timeout_s)
        with self._lock:
            self._questions.pop(key, None)
        outcome = {True: "confirmed", False: "declined", None: "expired"}[pending.answer]
        self._audit.record("confirmation", outcome, message, what=question)
        return pending.answer

    @contextmanager
    def _wait(self) -> Iterator[None]:
        """Wait without holding a reactive thread's place; refuse past MAX_WAITING."""
        with self._lock:
            if self._waiting >= MAX_WAITING:
                raise UserError("Too many requests are waiting for answers; try again later.")
            self._waiting += 1
        try:
            with self._lend():
                yield
        finally:
            with self._lock:
                self._waiting -= 1

    def offer(self, message: Message) -> bool:
        """Take a message that answers a pending confirmation; True when it did."""
        if not self._questions:
            return False
        word = message.text.strip().lower()
        if word not in YES | NO:
            return False
        with self._lock:
            pending = self._questions.get((message.transport, message.target, message.identity))
            if pending is None or pending.done.is_set():
                return False
            pending.answer = word in YES
        pending.done.set()
        return True
