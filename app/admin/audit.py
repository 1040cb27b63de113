"""/admin/audit: the security events, filterable by kind, user and client."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue

from app.admin.access import ADMIN_PAGES, admin_required
from app.route_policy import declare
from app.services import audit

bp = declare(Blueprint("admin_audit", __name__, url_prefix="/admin"), *ADMIN_PAGES)
LIMIT = 200


@bp.get("/audit")
@admin_required
def index() -> ResponseReturnValue:
    """The newest events first (at most 200), filtered by the query string."""
    kind = request.args.get("kind") or None
    if kind not in (None, *audit.KINDS):
        kind = None
    username = (request.args.get("user") or "")[:64] or None
    client_id = (request.args.get("client") or "")[:64] or None
    events = audit.search(kind, username, client_id, LIMIT)
    return render_template(
        "admin/audit.html",
        events=events,
        kinds=audit.KINDS,
        kind=kind or "",
        username=username or "",
        client_id=client_id or "",
        limit=LIMIT,
        section="audit",
    )
