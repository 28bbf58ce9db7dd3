"""The Slack transport (``type = "slack"``) on slack_sdk, in Socket Mode. Layer: transport.

``transport`` holds the thread-safe API; the loader needs only ``Settings`` and
``create``, re-exported here. The rest: ``settings`` (checked settings), ``session``
(the Socket Mode connection, acknowledgements, status), ``inbound`` (what reaches the
core), ``outbound`` (mrkdwn escaping, splitting, the sender with its rate-limit
handling). See docs/slack.md.
"""

from .transport import Settings, SlackTransport, create

__all__ = ["Settings", "SlackTransport", "create"]
