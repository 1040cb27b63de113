"""/account/photos: the user's photos in a browser, through the same services as the API."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("my_photos", __name__, url_prefix="/account")
