"""/admin/users: list, create, make admin, disable.

The rules (valid usernames, passwords, nobody demoting or disabling themselves) live in
``services.users``; a refused action re-renders the page with the reason and status 400.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from app.admin.access import ADMIN_PAGES, admin_required
from app.admin.forms import UserForm
from app.errors import ValidationError
from app.route_policy import declare
from app.services import quotas, users

bp = declare(Blueprint("admin_users", __name__, url_prefix="/admin"), *ADMIN_PAGES)


def _page(
    form: UserForm | None = None, error: str | None = None, status: int = 200
) -> ResponseReturnValue:
    """The users page: the list and the "Create user" form."""
    html = render_template(
        "admin/users.html",
        users=users.list_users(),
        form=form or UserForm(),
        error=error,
        default_quota=quotas.default_quota(),
    )
    return html, status


def _done(message: str) -> ResponseReturnValue:
    flash(message)
    return redirect(url_for(".index"), code=303)


@bp.get("/users")
@admin_required
def index() -> ResponseReturnValue:
    """Every user, by username."""
    return _page()


@bp.post("/users")
@admin_required
def create() -> ResponseReturnValue:
    """Create a user through ``services.users.create_user``."""
    form = UserForm()
    if not form.validate_on_submit():
        return _page(form, status=400)
    try:
        user = users.create_user(form.new_user(), actor_id=current_user.id)
    except ValidationError as exc:
        form.attach_error(exc.description)
        return _page(form, status=400)
    return _done(f"Created {user.username}.")


@bp.post("/users/<username>/admin")
@admin_required
def set_admin(username: str) -> ResponseReturnValue:
    """Make a user an admin (``admin=1``) or withdraw it (``admin=0``)."""
    make_admin = request.form.get("admin") == "1"
    try:
        user = users.set_admin(username, make_admin, actor_id=current_user.id)
    except ValidationError as exc:
        return _page(error=exc.description, status=400)
    return _done(f"{user.username} is {'now' if make_admin else 'no longer'} an admin.")


@bp.post("/users/<username>/disable")
@admin_required
def disable(username: str) -> ResponseReturnValue:
    """Disable a user: their sign-ins end and every token they granted stops working."""
    try:
        user = users.disable_user(username, actor_id=current_user.id)
    except ValidationError as exc:
        return _page(error=exc.description, status=400)
    return _done(f"Disabled {user.username}; their sign-ins and tokens have ended.")


@bp.post("/users/<username>/quota")
@admin_required
def set_quota(username: str) -> ResponseReturnValue:
    """Set a user's photo storage quota in bytes; blank follows PHOTO_STORAGE_QUOTA."""
    try:
        user = users.get_user(username)
        quota = quotas.parse_quota(request.form.get("storage_quota_bytes", ""))
        quotas.set_quota(user, quota, actor_id=current_user.id)
    except ValidationError as exc:
        return _page(error=exc.description, status=400)
    shown = quotas.format_bytes(quotas.quota_of(user))
    return _done(f"{user.username} may now store {shown} of photos.")
