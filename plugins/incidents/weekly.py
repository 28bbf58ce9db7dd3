"""Writing the weekly digest on schedule, and once after a missed run. Poller threads.

Two pollers of the plugin run ``run`` (``__init__.py``): ``weekly_digest`` on the
calendar ``digest_schedule`` (``mon 08:00 UTC``), and ``digest_catchup`` within seconds
of each start (and of each term of a leader, with ``[ha]``), then hourly, for a run
missed while the bot was down.

The due week is the last week that had ended when the schedule last fired: from
Monday 08:00 UTC of week 10 to the next Monday 08:00 it is week 9. A run that finds
the due week recorded in ``ctx.state`` (``digest``: ``{"week": "2026-W09"}``) returns
``Skip``; otherwise it writes the week's two files (``digest.py``), posts one line of
counts to each of ``digest_targets``, and records the week. The whole run holds the
state's lock (``with ctx.state``), so the two pollers never write or post one week
twice. A week's files are thus written once, on time or at the first start after the
bot missed it (then the line says so); a bot that was down longer writes the latest
due week only, not the weeks before it. A folder that cannot be written fails the run
(an error in the log naming it) before anything is posted or recorded, so the next run
tries again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from univac import Calendar, Context, Skip

from . import digest
from .digest import Week
from .service import Incidents
from .settings import Settings

KEY = "digest"
LATE = timedelta(minutes=10)
"""A digest written this long after its date is said to be late."""


def last_fired(schedule: str, now: datetime) -> datetime | None:
    """The schedule's last date at or before ``now`` (looking back eight days)."""
    calendar = Calendar.parse(schedule)
    moment, found = now - timedelta(days=8), None
    while (moment := calendar.next_after(moment)) <= now:
        found = moment
    return found


def due(schedule: str, now: datetime) -> tuple[Week, datetime] | None:
    """The week whose digest is due at ``now``, and when the schedule fired for it."""
    fired = last_fired(schedule, now)
    return (Week.of(fired).previous(), fired) if fired is not None else None


def run(ctx: Context[Settings], incidents: Incidents) -> Skip | None:
    """Write and post the due week's digest unless it was (see the module docstring)."""
    settings, now = ctx.config, ctx.now()
    found = due(settings.digest_schedule, now)
    if found is None:
        return Skip("the digest schedule has not fired yet")
    week, fired = found
    with ctx.state:
        if _recorded(ctx) >= week:
            return Skip(f"the digest of {week} is written")
        made = digest.build(incidents.store, week, settings.thresholds)
        folder = settings.digest_folder(ctx.data_dir)
        try:
            json_path, markdown_path = digest.write(folder, made)
        except OSError as error:  # the run fails, is retried, and nothing is posted
            ctx.log.error("incidents: cannot write the digest of %s in %s (reports_folder): "
                          "%s", week, folder, error.strerror or error)
            raise
        ctx.log.info("incidents: wrote the digest of %s: %s, %s", week, json_path,
                     markdown_path)
        line = made.summary(link(settings, week, str(markdown_path)))
        if now - fired > LATE:
            line += f" (late: the bot was not running at {fired:%a %Y-%m-%d %H:%M %Z})"
        for target in settings.digest_targets:
            ctx.say(target, line)  # each "transport:target", checked when the config is read
        ctx.state[KEY] = {"week": str(week)}
    return None


def link(settings: Settings, week: Week, path: str) -> str:
    """The digest's page under ``digest_link_base``, else the markdown file's path."""
    base = settings.digest_link_base.rstrip("/")
    return f"{base}/incidents/weekly/{week}" if base else path


def _recorded(ctx: Context[Settings]) -> Week:
    """The last week written (week 1 of year 1 when none, or unreadable)."""
    record = ctx.state.get(KEY)
    try:
        return Week.parse(str(record["week"]))
    except (TypeError, KeyError, ValueError):
        return Week(1, 1)
