"""Each incident's working document: a markdown artifact written when it is created.

Teams that keep documents elsewhere set ``document_url`` (``https://docs.example/{id}``);
``show`` then links there. Otherwise ``show`` names the artifact: ``<id>/document.md``
in the JSON lines folder, or the row of ``incident_artifacts`` in PostgreSQL.
"""

from __future__ import annotations

from .model import Incident, short_id

NAME = "document.md"


def document(incident: Incident, opened_by: str) -> bytes:
    """The document's first version: the facts, and headings to fill in."""
    lines = [
        f"# {incident.title}", "",
        f"- Incident: {incident.id}",
        f"- Severity: {incident.severity}",
        f"- Service: {incident.service} ({incident.env})",
        f"- Started: {incident.started_at}",
        f"- Coordinator: {incident.coordinator or '(none yet)'}",
        f"- Opened by: {opened_by}", "",
        "## Summary", "", "## Impact", "", "## Timeline", "",
        f"- {incident.started_at} opened by {opened_by}", "",
        "## Follow-ups", "",
    ]
    return "\n".join(lines).encode()


def link(incident: Incident, url_template: str, store_kind: str) -> str:
    """Where the document is, as ``show`` says it."""
    if url_template:
        return url_template.format(id=incident.id, short=short_id(incident.id))
    where = "the JSON lines folder" if store_kind == "jsonl" else "the incident store"
    return f"{incident.id}/{NAME} in {where}"
