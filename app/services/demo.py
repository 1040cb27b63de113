"""The demo story: bob and alice with a few photos each, the PhotoPrint client, and an
uploader client with photos.write for the API's upload example (docs/api.md).

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
UPLOADER = {
    "client_name": "Demo uploader",
    "redirect_uris": ["http://127.0.0.1:8080/callback"],
    "grant_types": ["authorization_code", "refresh_token"],
    "scope": "openid profile offline_access photos.read photos.write",
}
DEMO_CLIENTS = (PHOTOPRINT, UPLOADER)
PALETTES = {
    "bob": [((31, 119, 180), "Harbour"), ((44, 160, 44), "Meadow"), ((214, 39, 40), "Sunset")],
    "alice": [((148, 103, 189), "Lavender"), ((255, 127, 14), "Autumn")],
}


@dataclass
class DemoResult:
    """What was created this run, with the secrets to show this once."""

    passwords: dict[str, str] = field(default_factory=dict)
    #: client_name -> client_id, client_secret, token_endpoint_auth_method, redirect_uri, scope
    clients: dict[str, dict[str, str]] = field(default_factory=dict)
    photos: dict[str, int] = field(default_factory=dict)

    @property
    def client(self) -> dict[str, str] | None:
        """PhotoPrint's, if it was registered this run."""
        return self.clients.get(str(PHOTOPRINT["client_name"]))


def seed(bob_password: str | None = None) -> DemoResult:
    result = DemoResult()
    for username in ("bob", "alice"):
        if users.find_by_username(username) is None:
            password = bob_password if username == "bob" and bob_password else new_token(12)
            users.create_user(users.NewUser(username, f"{username}@example.com", password))
            result.passwords[username] = password
        result.photos[username] = _seed_photos(username)
    for metadata in DEMO_CLIENTS:
        name = str(metadata["client_name"])
        if db.session.scalar(select(Client).where(Client.client_name == name)) is None:
            info = clients.register_client(dict(metadata)).information_response()
            result.clients[name] = {
                "client_id": info["client_id"],
                "client_secret": info["client_secret"],
                "token_endpoint_auth_method": info["token_endpoint_auth_method"],
                "redirect_uri": info["redirect_uris"][0],
                "scope": info["scope"],
            }
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
