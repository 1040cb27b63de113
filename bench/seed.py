"""Seed a benchmark database: bob with N photos, a client, and an access token for bob.

Run inside the benchmark's environment (FLASK_* variables point at its database); prints
the access token on stdout.
"""

from __future__ import annotations

import io
import sys

from PIL import Image

from app import create_app
from app.models.grant import KIND_AUTHORIZATION_CODE
from app.models.types import utcnow
from app.services import clients, grants, photos, tokens, users


def main(photo_count: int) -> None:
    app = create_app()
    with app.app_context():
        bob = users.find_by_username("bob") or users.create_user(
            users.NewUser("bob", "bob@example.com", "bench password 1")
        )
        client = clients.register_client(
            {
                "client_name": "Bench",
                "redirect_uris": ["https://bench.test/cb"],
                "scope": "openid profile photos.read photos.write",
            }
        ).client
        for index in range(photo_count):
            out = io.BytesIO()
            Image.new("RGB", (64, 48), (index * 10 % 255, 80, 160)).save(out, format="JPEG")
            photos.store_upload(bob.id, out.getvalue(), f"Photo {index}")
        grant = grants.create_grant(
            KIND_AUTHORIZATION_CODE, client, bob, "openid photos.read", utcnow()
        )
        from app.extensions import db

        db.session.commit()
        print(tokens.issue_access_token(client, grant, bob, "openid photos.read"))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
