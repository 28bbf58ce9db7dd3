"""The checks settings dataclasses share (univac.checks)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from univac import check_seconds, check_service_url


@dataclass(frozen=True)
class Timeouts:
    connect_s: float = 1.0
    retries: int = -1
    """Not a duration: not checked."""


def test_a_negative_duration_is_refused_by_name():
    check_seconds(Timeouts())
    with pytest.raises(ValueError, match=r"^connect_s: must be 0 or more seconds$"):
        check_seconds(Timeouts(connect_s=-0.5))


@pytest.mark.parametrize("url", ["https://chat.example.org", "http://127.0.0.1:8008",
                                 "http://localhost/api/", "http://[::1]:80"])
def test_https_anywhere_and_http_to_loopback_are_fine(url):
    check_service_url("homeserver", url, "https://matrix.example.org")


@pytest.mark.parametrize(("url", "reason"), [
    ("http://chat.example.org", "homeserver: plain http is allowed on loopback only"),
    ("http://10.0.0.1", "homeserver: plain http is allowed on loopback only"),
    ("ftp://chat.example.org", "homeserver: 'ftp://chat.example.org' is not a URL like "
                               "https://matrix.example.org"),
    ("chat.example.org", "homeserver: 'chat.example.org' is not a URL like"),
])
def test_other_urls_are_refused_naming_the_setting(url, reason):
    with pytest.raises(ValueError) as refused:
        check_service_url("homeserver", url, "https://matrix.example.org")
    assert str(refused.value).startswith(reason)
