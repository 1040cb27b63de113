"""/admin/clients: the registered clients, the "Register client" form, a client's page.

Every change goes through ``services.clients``, the same functions the CLI calls. A new or
rotated secret is rendered in the answer to the POST that made it and never stored anywhere
else (not in the session, not in a redirect), so it can be shown only this once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from app.admin.access import ADMIN_PAGES, admin_required
from app.admin.activity import client_charts
from app.admin.forms import ClientForm
from app.models import Client
from app.models.types import utcnow
from app.route_policy import declare
from app.services import clients, usage
from app.services.client_metadata import ClientMetadataError

bp = declare(Blueprint("admin_clients", __name__, url_prefix="/admin"), *ADMIN_PAGES)


@dataclass(frozen=True)
class ClientRow:
    """What the console shows about a client, beyond its stored metadata."""

    client: Client
    kind: str
    secret_age: str
    last_used: str = "—"

    @classmethod
    def of(cls, client: Client, now: datetime, last_used: date | None = None) -> ClientRow:
        """``last_used``: the last day the client called the photo API."""
        kind = "public" if client.is_public else "confidential"
        used = last_used.isoformat() if last_used else "—"
        return cls(client, kind, _secret_age(client, now), used)


def _secret_age(client: Client, now: datetime) -> str:
    """Whole days since the secret was issued; "—" for clients without one."""
    if client.client_secret_hash is None:
        return "—"
    days = (now - (client.secret_rotated_at or client.created_at)).days
    return "1 day" if days == 1 else f"{days} days"


def _client_or_404(client_id: str) -> Client:
    client = clients.find_client(client_id)
    if client is None:
        abort(404, "There is no client with that id.")
    return client


@bp.get("/clients")
@admin_required
def index() -> ResponseReturnValue:
    """Every registered client, oldest first."""
    now = utcnow()
    used = usage.last_used_by_client()
    rows = [
        ClientRow.of(client, now, used.get(client.client_id)) for client in clients.list_clients()
    ]
    return render_template("admin/clients.html", rows=rows)


@bp.route("/clients/new", methods=["GET", "POST"])
@admin_required
def new() -> ResponseReturnValue:
    """The "Register client" form; the result page shows the secret this once."""
    form = ClientForm()
    if not form.validate_on_submit():
        status = 400 if form.is_submitted() else 200
        return render_template("admin/client_form.html", form=form), status
    try:
        registration = clients.register_client(form.metadata(), actor_id=current_user.id)
    except ClientMetadataError as exc:
        form.attach_error(exc.description)
        return render_template("admin/client_form.html", form=form), 400
    page = render_template(
        "admin/client_secret.html",
        client=registration.client,
        secret=registration.client_secret,
        title="Client registered",
    )
    return page, 201, {"Location": url_for(".show", client_id=registration.client.client_id)}


@bp.get("/clients/<client_id>")
@admin_required
def show(client_id: str) -> ResponseReturnValue:
    """One client's registered metadata, with "Rotate secret" and "Delete"."""
    client = _client_or_404(client_id)
    row = ClientRow.of(client, utcnow(), usage.last_used_by_client().get(client.client_id))
    return render_template(
        "admin/client.html",
        row=row,
        client=row.client,
        grace_choices=GRACE_CHOICES,
        charts=client_charts(client.client_id),
    )


@bp.route("/clients/<client_id>/edit", methods=["GET", "POST"])
@admin_required
def edit(client_id: str) -> ResponseReturnValue:
    """Change a client's metadata under the registration rules (the auth method stays)."""
    client = _client_or_404(client_id)
    form = (
        ClientForm() if request.method == "POST" else ClientForm.for_client(client.client_metadata)
    )
    if request.method == "GET" or not form.validate_on_submit():
        status = 400 if form.is_submitted() else 200
        return render_template("admin/client_form.html", form=form, client=client), status
    try:
        clients.update_client(client.client_id, form.metadata(), actor_id=current_user.id)
    except ClientMetadataError as exc:
        form.attach_error(exc.description)
        return render_template("admin/client_form.html", form=form, client=client), 400
    flash(f"Saved {client.client_name}.")
    return redirect(url_for(".show", client_id=client.client_id), code=303)


GRACE_CHOICES = (
    (0, "No time: it stops now"),
    (3600, "1 hour"),
    (86400, "1 day"),
    (604800, "7 days"),
)


@bp.post("/clients/<client_id>/rotate-secret")
@admin_required
def rotate_secret(client_id: str) -> ResponseReturnValue:
    """A new secret, shown this once; the old one works for the chosen grace period."""
    client = _client_or_404(client_id)
    grace = request.form.get("grace", "0")
    if grace not in {str(seconds) for seconds, _ in GRACE_CHOICES}:
        abort(400, "Choose one of the offered grace periods.")
    secret = clients.rotate_secret(client.client_id, int(grace), actor_id=current_user.id)
    return render_template(
        "admin/client_secret.html", client=client, secret=secret, title="New client secret"
    )


@bp.post("/clients/<client_id>/delete")
@admin_required
def delete(client_id: str) -> ResponseReturnValue:
    """Delete a client; every token it holds stops working."""
    client = _client_or_404(client_id)
    name = client.client_name
    clients.delete_client(client.client_id, actor_id=current_user.id)
    flash(f"Deleted {name}; its tokens no longer work.")
    return redirect(url_for(".index"), code=303)
