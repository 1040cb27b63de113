"""/account/apps: the apps the user allowed, what they did, and "Revoke"."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("my_apps", __name__, url_prefix="/account")
