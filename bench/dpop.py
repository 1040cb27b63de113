"""`make bench-dpop`: what a DPoP-bound call to the photo API costs next to a Bearer call.

In process (Flask's test client, no network): one database seeded with bob's 20 photos, one
Bearer token and one DPoP-bound token of the same grant. The proofs are signed beforehand,
so only the server's work is timed: Bearer and DPoP calls alternate in batches and the
median time per call of each is reported, with the used-proof cache in the database and,
when one answers (BENCH_REDIS_URL, default redis://127.0.0.1:6379/9), in Redis.

Environment: BENCH_DPOP_CALLS (per kind, default 3000).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import redis
from flask import Flask
from flask_migrate import upgrade
from joserfc import jws
from joserfc.jwk import ECKey
from PIL import Image

from app import create_app
from app.extensions import db
from app.models.authorization import KIND_AUTHORIZATION_CODE
from app.models.types import utcnow
from app.services import authorizations, clients, photos, tokens, usage, users

ISSUER = "http://127.0.0.1:5000"
PHOTOS = "/api/v1/photos"
SCOPE = "openid photos.read"
BATCH = 250


def proof(key: ECKey, access_token: str) -> str:
    digest = hashlib.sha256(access_token.encode()).digest()
    claims = {
        "jti": str(uuid.uuid4()), "htm": "GET", "htu": ISSUER + PHOTOS, "iat": int(time.time()),
        "ath": base64.urlsafe_b64encode(digest).rstrip(b"=").decode(),
    }  # fmt: skip
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.as_dict(private=False)}
    return jws.serialize_compact(header, json.dumps(claims).encode(), key, algorithms=["ES256"])


def seeded_app(folder: Path, replay_cache: str | None) -> tuple[Flask, str, str, ECKey]:
    """An app on a fresh SQLite database with bob, his photos, and two tokens of one grant."""
    os.environ["FLASK_INSTANCE_PATH"] = str(folder / "instance")
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/bench.sqlite",
        "SECRET_KEY": "bench-secret-key-" + "x" * 32, "OAUTH_ISSUER": ISSUER,
        "OAUTH_ACCESS_TOKEN_TTL": 3600, "REPLAY_CACHE_URI": replay_cache,
        "REQUEST_LOG": False,  # 12,000 lines on stdout around the table; same cost both sides
    })  # fmt: skip
    key = ECKey.generate_key("P-256", private=True)
    with app.app_context():
        upgrade()
        bob = users.create_user(users.NewUser("bob", "bob@example.com", "bench password 1"))
        for index in range(20):
            picture = io.BytesIO()
            Image.new("RGB", (64, 48), (index * 10, 80, 160)).save(picture, format="JPEG")
            photos.store_upload(bob.id, picture.getvalue(), f"Photo {index}")
        web = clients.register_client({
            "client_name": "PhotoPrint (bench)", "redirect_uris": ["https://print.bench/cb"],
            "scope": SCOPE,
        })  # fmt: skip
        grant = authorizations.create_authorization(
            KIND_AUTHORIZATION_CODE, web.client, bob, SCOPE, utcnow()
        )
        db.session.commit()
        bearer = tokens.issue_access_token(web.client, grant, bob, SCOPE)
        bound = tokens.issue_access_token(web.client, grant, bob, SCOPE, jkt=str(key.thumbprint()))
    return app, bearer, bound, key


def measure(app: Flask, bearer: str, bound: str, key: ECKey, calls: int) -> tuple[float, float]:
    """Median milliseconds per call: (Bearer, DPoP)."""
    proofs = [proof(key, bound) for _ in range(calls)]
    http = app.test_client()
    headers = {
        "bearer": lambda _: {"Authorization": f"Bearer {bearer}"},
        "dpop": lambda index: {"Authorization": f"DPoP {bound}", "DPoP": proofs[index]},
    }
    per_call: dict[str, list[float]] = {"bearer": [], "dpop": []}
    for start in range(0, calls, BATCH):
        for kind, make in headers.items():
            began = time.perf_counter()
            for index in range(start, min(start + BATCH, calls)):
                response = http.get(PHOTOS, headers=make(index))
                assert response.status_code == 200, response.get_data(as_text=True)
            per_call[kind].append((time.perf_counter() - began) / BATCH * 1000)
    return statistics.median(per_call["bearer"]), statistics.median(per_call["dpop"])


def redis_url() -> str | None:
    url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")
    try:
        redis.Redis.from_url(url, socket_timeout=1).ping()
    except redis.RedisError:
        return None
    return url


def main() -> None:
    calls = int(os.environ.get("BENCH_DPOP_CALLS", "3000"))
    print(f"GET {PHOTOS} (20 photos), {calls} calls of each kind, in process")
    print("| used-proof cache | Bearer ms/call | DPoP ms/call | DPoP / Bearer |")
    print("|---|---|---|---|")
    for name, cache in (("database (SQLite)", None), ("Redis", redis_url())):
        if name == "Redis" and cache is None:
            print("| Redis | - | - | no Redis answered |")
            continue
        with tempfile.TemporaryDirectory() as folder:
            app, bearer, bound, key = seeded_app(Path(folder), cache)
            plain, dpop = measure(app, bearer, bound, key, calls)
            with app.app_context():
                usage.flush()  # the counts the calls left pending, before the folder goes
                db.engine.dispose()
        print(f"| {name} | {plain:.2f} | {dpop:.2f} | {dpop / plain:.2f} |")


if __name__ == "__main__":
    main()
