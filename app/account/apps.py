"""/account/apps: the apps the user allowed, what they did, and "Revoke"."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from app.api import operations as ops
from app.route_policy import csrf_protected, declare, html_errors, no_rate_limit
from app.scopes import describe
from app.services import consents

bp = declare(
    Blueprint("my_apps", __name__, url_prefix="/account"),
    html_errors,
    csrf_protected,
    no_rate_limit("a signed-in user's own apps"),
)


def activity_sentence(activity: dict[str, int], days: int = 30) -> str:
    """'read 12 photos, uploaded 0, renamed 0, deleted 0 in the last 30 days'."""
    read = sum(activity.get(op.name, 0) for op in ops.READS)
    uploaded, renamed, deleted = (
        activity.get(op.name, 0) for op in (ops.UPLOAD, ops.UPDATE, ops.DELETE)
    )
    return (
        f"read {read} photos, uploaded {uploaded}, renamed {renamed}, deleted {deleted} "
        f"in the last {days} days"
    )


@bp.get("/apps")
@login_required  # type: ignore[untyped-decorator]
def list_apps() -> ResponseReturnValue:
    """Every app the user authorized, with its scopes and recent activity."""
    apps = consents.authorized_apps(current_user.id)
    return render_template(
        "account/apps.html",
        apps=apps,
        describe=describe,
        activity_sentence=activity_sentence,
    )


@bp.post("/apps/<client_id>/revoke")
@login_required  # type: ignore[untyped-decorator]
def revoke(client_id: str) -> ResponseReturnValue:
    """Withdraw consent: the app's refresh and access tokens for this user stop at once."""
    if not consents.revoke_client_access(current_user.id, client_id):
        abort(404, "You have not authorized this app.")
    return redirect("/account/apps", code=303)
