"""The Matrix transport (``type = "matrix"``) on matrix-nio. Layer: transport.

``transport`` holds the thread-safe API; the loader needs only ``Settings`` and
``create``, re-exported here. The rest: ``settings`` (checked settings), ``session``
(sync loop, reconnect, status), ``login`` (token or password, kept device), ``client``
(the nio client), ``rooms`` (joins, invites, encrypted rooms), ``inbound`` (what reaches
the core), ``outbound`` and ``sender`` (notices, in order), ``memory`` (device, access
token and sync token kept across restarts, in the state store), ``support``
(the reply cut). See docs/matrix.md.
"""

from .transport import MatrixTransport, Settings, create

__all__ = ["MatrixTransport", "Settings", "create"]
