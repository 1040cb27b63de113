"""Seed a benchmark database with the app's own services; write what the load needs as JSON.

    python -m bench.seed OUT.json [--photos 20] [--refresh-tokens 40000] [--flow-users 200]

Run in the benchmark's environment (FLASK_* variables name its database, instance folder
and the server's issuer, which the access tokens carry). OUT.json holds the clients' ids
and secrets, bob's access token and the flow users; the refresh tokens go one a line to
``refresh_tokens.txt`` beside it.
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any

from PIL import Image

from app import create_app
from app.extensions import db
from app.models import User
from app.models.authorization import KIND_AUTHORIZATION_CODE
from app.models.types import utcnow
from app.services import authorizations, clients, photos, tokens, users

PASSWORD = "bench password 1"  # noqa: S105 - a benchmark's throwaway users
REDIRECT_URI = "https://photoprint.bench/cb"
WEB_SCOPE = "openid profile offline_access photos.read"
ACCESS_SCOPE = "openid profile photos.read"
REFRESH_SCOPE = "openid offline_access photos.read"
REFRESH_TOKENS_PER_GRANT = 100
COMMIT_EVERY = 5000


def seed(photo_count: int, refresh_count: int, flow_users: int, out: Path) -> dict[str, Any]:
    bob = users.create_user(users.NewUser("bob", "bob@example.com", PASSWORD))
    for index in range(photo_count):
        picture = io.BytesIO()
        Image.new("RGB", (64, 48), (index * 10 % 255, 80, 160)).save(picture, format="JPEG")
        photos.store_upload(bob.id, picture.getvalue(), f"Photo {index}")
    web = clients.register_client(
        {
            "client_name": "PhotoPrint (bench)",
            "redirect_uris": [REDIRECT_URI],
            "grant_types": ["authorization_code", "refresh_token"],
            "scope": WEB_SCOPE,
        }
    )
    api = clients.register_client(
        {"client_name": "Photo API (bench)", "grant_types": ["client_credentials"],
         "scope": "photos.read"},
        resource_server=True,
    )  # fmt: skip
    export = clients.register_client(
        {"client_name": "Nightly export (bench)", "grant_types": ["client_credentials"],
         "scope": "photos.read"}
    )  # fmt: skip
    grant = authorizations.create_authorization(
        KIND_AUTHORIZATION_CODE, web.client, bob, ACCESS_SCOPE, utcnow()
    )
    db.session.commit()
    access_token = tokens.issue_access_token(web.client, grant, bob, ACCESS_SCOPE)
    refresh_file = out.with_name("refresh_tokens.txt")
    refresh_file.write_text(_refresh_tokens(web.client, bob, refresh_count))
    return {
        "user_id": bob.id,
        "access_token": access_token,
        "web": _credentials(web) | {"redirect_uri": REDIRECT_URI, "scope": WEB_SCOPE},
        "resource_server": _credentials(api),
        "client_credentials": _credentials(export),
        "refresh_tokens_file": str(refresh_file),
        "refresh_tokens": refresh_count,
        "flow_users": _flow_users(flow_users),
        "password": PASSWORD,
    }


def _credentials(registration: clients.Registration) -> dict[str, Any]:
    return {
        "client_id": registration.client.client_id,
        "client_secret": registration.client_secret,
    }


def _refresh_tokens(client: Any, user: User, count: int) -> str:
    """``count`` live refresh tokens, REFRESH_TOKENS_PER_GRANT to a grant, one a line."""
    issued: list[str] = []
    grant = None
    for index in range(count):
        if index % REFRESH_TOKENS_PER_GRANT == 0:
            grant = authorizations.create_authorization(
                KIND_AUTHORIZATION_CODE, client, user, REFRESH_SCOPE, utcnow()
            )
            db.session.flush()
        assert grant is not None
        issued.append(tokens.issue_refresh_token(grant, REFRESH_SCOPE))
        if len(issued) % COMMIT_EVERY == 0:
            db.session.commit()
    db.session.commit()
    return "".join(token + "\n" for token in issued)


def _flow_users(count: int) -> list[str]:
    """Users who sign in during the flow benchmark, all with PASSWORD.

    The first comes through ``users.create_user``; the rest reuse its argon2 hash, so seeding
    200 users does not cost 200 hashes (verifying a sign-in costs the same either way).
    """
    if count == 0:
        return []
    first = users.create_user(users.NewUser("flow0000", "flow0000@example.com", PASSWORD))
    names = [first.username]
    for index in range(1, count):
        name = f"flow{index:04d}"
        db.session.add(
            User(username=name, email=f"{name}@example.com", password_hash=first.password_hash)
        )
        names.append(name)
    db.session.commit()
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--photos", type=int, default=20)
    parser.add_argument("--refresh-tokens", type=int, default=40_000)
    parser.add_argument("--flow-users", type=int, default=200)
    args = parser.parse_args()
    app = create_app()
    with app.app_context():
        fixtures = seed(args.photos, args.refresh_tokens, args.flow_users, args.out)
    args.out.write_text(json.dumps(fixtures, indent=2))


if __name__ == "__main__":
    main()
