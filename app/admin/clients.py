"""/admin/clients: the registered clients, the "Register client" form, a client's page."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("admin_clients", __name__, url_prefix="/admin")
