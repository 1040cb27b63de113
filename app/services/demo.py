"""The demo story: bob and alice with a few photos each, and the PhotoPrint client.

Idempotent: whatever already exists is left alone, so running it twice changes nothing.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from PIL import Image, ImageDraw
from sqlalchemy import func, select

from app.extensions import db
from app.models import Client, Photo
from app.security import new_token
from app.services import clients, photos, users

PHOTOPRINT = {
    "client_name": "PhotoPrint",
    "redirect_uris": ["http://127.0.0.1:8080/callback"],
    "grant_types": ["authorization_code", "refresh_token"],
    "scope": "openid profile offline_access photos.read",
    "client_uri": "https://photoprint.example",
}
PALETTES = {
    "bob": [((31, 119, 180), "Harbour"), ((44, 160, 44), "Meadow"), ((214, 39, 40), "Sunset")],
    "alice": [((148, 103, 189), "Lavender"), ((255, 127, 14), "Autumn")],
}


@dataclass
class DemoResult:
    """What was created this run, with the secrets to show this once."""

    passwords: dict[str, str] = field(default_factory=dict)
    client: dict[str, str] | None = None
    photos: dict[str, int] = field(default_factory=dict)


def seed(bob_password: str | None = None) -> DemoResult:
    result = DemoResult()
    for username in ("bob", "alice"):
        if users.find_by_username(username) is None:
            password = bob_password if username == "bob" and bob_password else new_token(12)
            users.create_user(users.NewUser(username, f"{username}@example.com", password))
            result.passwords[username] = password
        result.photos[username] = _seed_photos(username)
    if db.session.scalar(select(Client).where(Client.client_name == "PhotoPrint")) is None:
        info = clients.register_client(PHOTOPRINT).information_response()
        result.client = {"client_id": info["client_id"], "client_secret": info["client_secret"]}
    return result


def _seed_photos(username: str) -> int:
    user = users.get_user(username)
    if db.session.scalar(select(func.count()).where(Photo.owner_id == user.id)):
        return 0
    for color, title in PALETTES[username]:
        photos.store_upload(user.id, _picture(color, title), title, f"{username}'s {title.lower()}")
    return len(PALETTES[username])


def _picture(color: tuple[int, int, int], title: str) -> bytes:
    """A small generated JPEG: a gradient in ``color`` with its title."""
    image = Image.new("RGB", (640, 426), color)
    draw = ImageDraw.Draw(image)
    for y in range(0, 426, 6):
        shade = tuple(min(255, c + y // 4) for c in color)
        draw.rectangle([(0, y), (640, y + 6)], fill=shade)
    draw.text((24, 24), title, fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return out.getvalue()
