"""The IRC transport's reconnect delays: one ``univac.Backoff`` for every drop, reset by
a link registered for ``healthy_after_s``; no wait for the first retry after a server's
RECONNECT or ERROR; a second ``Backoff`` after an authentication failure."""

from __future__ import annotations

from univac import Backoff
from univac.transports.irc.state import Closed
from univac.transports.irc.transport import IrcTransport

delay = IrcTransport._delay


def backoffs(now: list[float]) -> tuple[Backoff, Backoff]:
    """The transport's two backoffs, at their ceilings (no jitter), on a test clock."""
    normal = Backoff(2.0, 300.0, healthy_after_s=60.0, rng=lambda: 0.0, clock=lambda: now[0])
    auth = Backoff(900.0, 900.0, jitter=0.1, rng=lambda: 1.0)
    return normal, auth


def test_drops_double_the_delay_until_a_link_stays_up_for_healthy_after_s() -> None:
    now = [0.0]
    normal, auth = backoffs(now)
    assert [delay(Closed("lost"), normal, auth) for _ in range(4)] == [2.0, 4.0, 8.0, 16.0]
    normal.started(now[0])
    now[0] += 30  # registered, but not for long
    assert delay(Closed("lost"), normal, auth) == 32.0
    normal.started(now[0])
    now[0] += 61
    assert delay(Closed("lost"), normal, auth) == 2.0


def test_a_server_asking_to_reconnect_is_redialled_at_once_only_the_first_time() -> None:
    now = [0.0]
    normal, auth = backoffs(now)
    assert delay(Closed("RECONNECT", "now"), normal, auth) == 0.0
    assert delay(Closed("RECONNECT", "now"), normal, auth) == 4.0
    normal.started(now[0])
    now[0] += 61
    assert delay(Closed("ERROR", "now"), normal, auth) == 0.0


def test_an_auth_failure_waits_the_long_backoff_and_still_counts_as_a_drop() -> None:
    now = [0.0]
    normal, auth = backoffs(now)
    assert delay(Closed("464", "auth"), normal, auth) == 810.0  # 900 s, jitter 10 % down
    assert delay(Closed("lost"), normal, auth) == 4.0
