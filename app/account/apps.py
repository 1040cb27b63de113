"""/account/apps: the apps the user allowed, what they did, and "Revoke"."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
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


def _confirm_revoke_page(client_id: str) -> ResponseReturnValue:
    allowed = consents.authorized_apps(current_user.id)
    found = next((app for app in allowed if app.client.client_id == client_id), None)
    if found is None:
        abort(404, "You have not authorized this app.")
    name = found.client.client_name or found.client.client_id
    return render_template(
        "account/confirm.html",
        question=f"Revoke {name}?",
        consequences=[
            f"{name} loses access to your account at once: its tokens stop working.",
            "It has to ask you again to use your account.",
        ],
        action=url_for("my_apps.revoke", client_id=client_id),
        verb="Revoke",
        cancel=url_for("my_apps.list_apps"),
    )


@bp.get("/apps/<client_id>/revoke")
@login_required  # type: ignore[untyped-decorator]
def confirm_revoke(client_id: str) -> ResponseReturnValue:
    """Ask before revoking: "Revoke <app>?" with a Revoke button (a POST form) and Cancel."""
    return _confirm_revoke_page(client_id)


@bp.post("/apps/<client_id>/revoke")
@login_required  # type: ignore[untyped-decorator]
def revoke(client_id: str) -> ResponseReturnValue:
    """Withdraw consent, once confirmed (``confirm=yes``, sent by the confirm page): the app's
    refresh and access tokens for this user stop at once. Without it, the confirm page."""
    if request.form.get("confirm") != "yes":
        return _confirm_revoke_page(client_id)
    if not consents.revoke_client_access(current_user.id, client_id):
        abort(404, "You have not authorized this app.")
    return redirect("/account/apps", code=303)
