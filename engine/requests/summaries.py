"""A request's summary row as pages and notices show it: the departments and the requester named."""

from __future__ import annotations

from engine.db.models import RequestSummary
from engine.org.directory import Directory


def summary_view(row: RequestSummary, org: Directory) -> dict:
    """The summary of a request with the names of its requester and departments (`org` now)."""
    def dept(dept_id: str | None) -> str | None:
        return (org.departments.get(dept_id or "") or {}).get("name")

    return {"request_no": row.request_no, "title": row.title, "request_type": row.request_type,
            "urgency": row.urgency, "priority": row.priority, "requester": row.requester,
            "requester_name": (org.users.get(row.requester) or {}).get("name") or row.requester,
            "requester_dept": row.requester_dept, "requester_dept_name": dept(row.requester_dept),
            "lead_dept": row.lead_dept, "lead_dept_name": dept(row.lead_dept),
            "involved_depts": [d for d in row.involved_depts.split(",") if d],
            "submitted_at": row.submitted_at.isoformat()}
