"""``!incident correlate <id> [--append]``: the incidents related to one, scored by
rules, not a model. The scoring is pure (any thread); the subcommand runs on reactive
threads.

Each other incident scores (the most is 9):

- 3 for the same alert signature (``meta["signature"]``, both having one);
- 2 for the same service (any case);
- up to 2 for time: ``2 * (1 - apart / correlate_window_s)`` by the start times, 0 at
  the window or beyond, so the closer the higher;
- up to 2 for the title's words: ``2 * shared / all`` of the two titles' words (lower
  case, letters and digits, two characters or more, stop words left out).

Only incidents scoring 1 or more are listed, the highest first (then the closest in
time, then by id), at most ``correlate_top``, each with why: ``same signature, same
service, 2 h apart, words: database, latency``. The score is the same both ways
(``score(a, b) == score(b, a)``). ``--append`` (writers only) writes the answer to the
incident's timeline as a ``correlation`` event; reading follows the plugin's read
role and privacy rules, as ``show`` does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from univac import StoreError, UserError
from univac.kit.text import one_line

from . import render
from .model import Incident, find, ordered, parse_time
from .privacy import refusal, viewers_only, where_to_look

if TYPE_CHECKING:
    from .commands import Call

CORRELATION = "correlation"
"""The timeline event type ``--append`` writes."""
USAGE = "correlate <id> [--append]"
SUMMARY = "related incidents, scored by signature, service, time and title words"
SIGNATURE, SERVICE, TIME, WORDS = 3.0, 2.0, 2.0, 2.0
MIN_SCORE = 1.0
WORD = re.compile(r"[^\W_]{2,}")
STOP_WORDS = frozenset((
    "after", "again", "all", "an", "and", "any", "are", "as", "at", "be", "before", "being",
    "below", "between", "both", "but", "by", "down", "during", "each", "few", "for", "from",
    "has", "have", "in", "into", "is", "it", "its", "more", "most", "no", "not", "of",
    "off", "on", "once", "only", "or", "other", "our", "out", "over", "same", "so", "some",
    "such", "than", "that", "the", "their", "then", "there", "these", "this", "to", "too",
    "under", "until", "up", "very", "was", "we", "were", "when", "where", "which", "while",
    "who", "will", "with", "without",
))
"""Words too common to relate two titles (words of one character never count)."""


@dataclass(frozen=True)
class Related:
    """Another incident, how related it is, and why."""

    incident: Incident
    score: float
    apart: timedelta
    reasons: tuple[str, ...]

    def why(self) -> str:
        return ", ".join(self.reasons)


def words(title: str) -> frozenset[str]:
    """The title's words that count: lower case, no stop words."""
    return frozenset(w for w in WORD.findall(title.casefold()) if w not in STOP_WORDS)


def score(one: Incident, other: Incident, window_s: float) -> Related:
    """How related ``other`` is to ``one`` (see the module docstring)."""
    total, reasons = 0.0, []
    mark = one.meta.get("signature")
    if mark and mark == other.meta.get("signature"):
        total += SIGNATURE
        reasons.append("same signature")
    if one.service.casefold() == other.service.casefold():
        total += SERVICE
        reasons.append("same service")
    apart = abs(parse_time(one.started_at) - parse_time(other.started_at))
    if apart.total_seconds() < window_s:
        total += TIME * (1 - apart.total_seconds() / window_s)
        reasons.append(f"{distance(apart)} apart")
    mine, theirs = words(one.title), words(other.title)
    shared = mine & theirs
    if shared:
        total += WORDS * len(shared) / len(mine | theirs)
        reasons.append(f"words: {', '.join(sorted(shared))}")
    return Related(other, round(total, 6), apart, tuple(reasons))


def related(one: Incident, incidents: list[Incident], window_s: float,
            top: int) -> list[Related]:
    """The ``top`` incidents most related to ``one`` that score ``MIN_SCORE`` or more."""
    scored = [score(one, other, window_s) for other in ordered(incidents) if other.id != one.id]
    kept = [r for r in scored if r.score >= MIN_SCORE]
    kept.sort(key=lambda r: (-r.score, r.apart, r.incident.id))
    return kept[:top]


def distance(apart: timedelta) -> str:
    """``40 s``, ``12 min``, ``2 h``, ``3 d`` (rounded down)."""
    seconds = int(apart.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"


def subcommand(call: Call, rest: str) -> str:
    """``correlate <id> [--append]``: the related incidents; ``--append`` writes them to
    the timeline (writers only)."""
    words_given = rest.split()
    append = "--append" in words_given
    refs = [w for w in words_given if w != "--append"]
    if len(refs) != 1:
        problem = "missing id" if not refs else f"unexpected {refs[1]!r}"
        raise UserError(f"{problem}. Usage: {call.ctx.bot.prefix}incident {USAGE}")
    if append and not call.access.writer:
        reason = refusal(call.settings, True, "append to incidents")
        call.ctx.audit("incident.correlate", "refused", reason=reason, arguments=rest[:200])
        return reason
    every = call.incidents.store.incidents()  # read once: to find the one, and to score
    _, incident = find(refs[0], every)
    found = related(incident, every, call.settings.correlate_window_s,
                    call.settings.correlate_top)
    appended = _append(call, incident, found) if append else ""
    if not call.access.details:
        ask = viewers_only(call.settings) if not call.access.viewer else \
            f"for details {where_to_look(call.settings)}"
        what = f"{len(found)} related incident(s) of {incident.id}" if append else \
            f"{incident.id} is an incident"
        return f"{what}{appended}; {ask}."
    if not found:
        return f"No incident is related to {incident.id}{appended}."
    lines = [f"Related to {incident.id}{appended}:"]
    lines += [one_line(f"{r.incident.id} {r.incident.severity} {r.incident.service} "
                       f"{r.incident.status}, score {r.score:.2f}: {r.why()}; "
                       f"{r.incident.title}", 400) for r in found]
    return render.bounded(lines, call.settings.max_lines, f"see {incident.id}")


def _append(call: Call, incident: Incident, found: list[Related]) -> str:
    """Write the answer to the timeline (and the audit trail); `` (appended to the
    timeline)`` for the reply."""
    text = "; ".join(f"{r.incident.id} ({r.score:.2f}: {r.why()})" for r in found)
    meta = {"related": [{"id": r.incident.id, "score": r.score, "why": r.why()}
                        for r in found]}
    try:
        done = call.done(call.incidents.add_event(
            incident.id, CORRELATION, one_line(f"related: {text or 'none'}", 1000),
            call.actor, call.now, meta))
    except StoreError as error:
        call.ctx.audit("incident.correlate", "failed", incident=incident.id,
                       reason=str(error))
        raise
    call.ctx.audit("incident.correlate", "done", incident=incident.id, related=len(found))
    return f" (appended to the timeline; {done.lag})" if done.lag else \
        " (appended to the timeline)"
