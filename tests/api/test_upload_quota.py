"""Storage quota and upload rate of the photo API and the "My photos" page (docs/security.md
API-05, pen-test case 7): a refused upload answers with the numbers and stores nothing."""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from app.services import quotas
from tests.account.test_my_photos import upload as page_upload
from tests.api.conftest import PhotoApi, image_bytes, token_for
from tests.helpers import AuthActions, reconfigure, skip_or_fail
from tests.oauth.helpers import ClientFactory, OAuthActions
from tests.oauth_fixtures import ALL_SCOPES

PICTURE = image_bytes("PNG", (64, 48))


def stored_size(api: PhotoApi) -> int:
    response = api.upload(PICTURE)
    assert response.status_code == 201, response.get_data(as_text=True)
    return int(response.json["bytes"])


def stored_files(instance_path: Path) -> list[Path]:
    return [path for path in (instance_path / "photos").glob("*/*")]


def set_quota(app: Flask, username: str, quota: int | None) -> None:
    value = "default" if quota is None else str(quota)
    code, out = invoke(app, "users", "set-quota", username, value)
    assert code == 0, out


def invoke(app: Flask, *args: str) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=list(args))
    return result.exit_code, result.output


def test_an_upload_past_the_quota_is_413_with_the_numbers_and_stores_nothing(
    app: Flask, bob_api: PhotoApi, instance_path: Path
) -> None:
    size = stored_size(bob_api)
    set_quota(app, "bob", size + size // 2)
    refused = bob_api.upload(PICTURE)
    assert refused.status_code == 413, refused.get_data(as_text=True)
    body = refused.json
    assert body["error"] == "quota_exceeded"
    assert (body["used_bytes"], body["quota_bytes"], body["upload_bytes"]) == (
        size, size + size // 2, size,
    )  # fmt: skip
    assert str(size) in body["error_description"]
    assert len(bob_api.get("/photos").json["items"]) == 1
    assert len(stored_files(instance_path)) == 1


def test_the_default_quota_is_a_setting_and_an_admin_override_wins(
    app: Flask, bob_api: PhotoApi
) -> None:
    reconfigure(app, PHOTO_STORAGE_QUOTA=10)
    assert bob_api.upload(PICTURE).status_code == 413
    set_quota(app, "bob", 10_000_000)
    assert bob_api.upload(PICTURE).status_code == 201
    set_quota(app, "bob", None)
    assert bob_api.upload(PICTURE).status_code == 413


def test_deleting_a_photo_frees_its_bytes(app: Flask, bob_api: PhotoApi) -> None:
    size = stored_size(bob_api)
    set_quota(app, "bob", size)
    assert bob_api.upload(PICTURE).status_code == 413
    photo_id = bob_api.get("/photos").json["items"][0]["id"]
    assert bob_api.delete(photo_id).status_code == 204
    assert bob_api.upload(PICTURE).status_code == 201


def test_set_quota_refuses_nonsense(app: Flask, bob: Any) -> None:
    for value in ("-1", "lots", "1e3"):
        code, out = invoke(app, "users", "set-quota", "bob", value)
        assert code != 0 and "Error" in out
    code, out = invoke(app, "users", "set-quota", "nobody", "10")
    assert code != 0 and "Error" in out


def test_two_parallel_uploads_do_not_both_pass_when_only_one_fits(
    app: Flask, bob_api: PhotoApi, instance_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both uploads are held just before usage is summed: without the row lock both would
    read the same usage and pass. With it, the second waits for the first to commit."""
    size = stored_size(bob_api)
    set_quota(app, "bob", size * 2)
    meeting = threading.Barrier(2)
    summed = quotas.used_bytes

    def held(owner_id: int) -> int:
        with contextlib.suppress(threading.BrokenBarrierError):
            meeting.wait(timeout=1)
        return summed(owner_id)

    monkeypatch.setattr(quotas, "used_bytes", held)
    answers: list[int] = []

    def one_upload() -> None:
        api = PhotoApi(app.test_client(), bob_api.token)
        answers.append(api.upload(PICTURE).status_code)

    threads = [threading.Thread(target=one_upload) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(answers) == [201, 413]
    assert len(stored_files(instance_path)) == 2


@pytest.mark.limits(PHOTO_UPLOAD_LIMIT_PER_CLIENT="2 per hour")
def test_uploads_are_rate_limited_per_client(
    app: Flask, bob_api: PhotoApi, clients: ClientFactory, instance_path: Path
) -> None:
    assert bob_api.upload(PICTURE).status_code == 201
    assert bob_api.upload(PICTURE).status_code == 201
    throttled = bob_api.upload(PICTURE)
    assert throttled.status_code == 429
    assert throttled.json["error"] == "too_many_requests"
    assert 0 < int(throttled.headers["Retry-After"]) <= 3600
    assert len(stored_files(instance_path)) == 2
    other = clients.create(
        client_name="Other", redirect_uris=["https://other.test/cb"],
        grant_types=["authorization_code"], scope=ALL_SCOPES,
    )  # fmt: skip
    oauth = OAuthActions(app.test_client(), app.config["OAUTH_ISSUER"])
    token = token_for(oauth, other, "bob", "openid photos.write")
    assert PhotoApi(app.test_client(), token).upload(PICTURE).status_code == 201


def test_the_upload_error_is_in_the_openapi_document(client: FlaskClient) -> None:
    document = client.get("/api/v1/openapi.json").json
    upload = document["paths"]["/photos"]["post"]["responses"]
    assert "quota" in upload["413"]["description"]
    assert "429" in upload
    error = document["components"]["schemas"]["Error"]["properties"]
    assert {"used_bytes", "quota_bytes", "upload_bytes"} <= set(error)


# -- the "My photos" page ----------------------------------------------------------------


def test_my_photos_shows_usage_and_refuses_past_the_quota(
    app: Flask, client: FlaskClient, auth: AuthActions, bob: Any, instance_path: Path
) -> None:
    auth.login()
    html = client.get("/account/photos").get_data(as_text=True)
    assert "Using 0 bytes of 1 GiB" in html
    assert page_upload(client, PICTURE).status_code == 303
    set_quota(app, "bob", 1_000_000)
    html = client.get("/account/photos").get_data(as_text=True)
    with app.app_context():
        used = quotas.used_bytes(bob.id)
    assert f"Using {quotas.format_bytes(used)} of 1.0 MB" in html
    set_quota(app, "bob", used + 1)
    refused = page_upload(client, PICTURE)
    assert refused.status_code == 413
    page = refused.get_data(as_text=True)
    assert f"{used:,} of {used + 1:,} bytes are used" in page
    assert len(stored_files(instance_path)) == 1


@pytest.mark.limits(PHOTO_UPLOAD_LIMIT_PER_USER="1 per hour")
def test_my_photos_uploads_are_rate_limited_per_user(
    client: FlaskClient, auth: AuthActions, bob: Any
) -> None:
    auth.login()
    assert page_upload(client, PICTURE).status_code == 303
    refused = page_upload(client, PICTURE)
    assert refused.status_code == 429
    assert "Too many uploads" in refused.get_data(as_text=True)


def test_format_bytes() -> None:
    assert quotas.format_bytes(1 << 30) == "1 GiB"
    assert quotas.format_bytes(12_300_000) == "12.3 MB"
    assert quotas.format_bytes(0) == "0 bytes"


@pytest.mark.redis
class TestUploadRateInRedis:
    """With RATELIMIT_STORAGE_URI on Redis, every worker and host spends one budget."""

    @pytest.fixture
    def app_config(self, app_config: dict[str, Any]) -> dict[str, Any]:
        redis_url = os.environ.get("TEST_REDIS_URL")
        if not redis_url:
            skip_or_fail("Redis rate-limit tests need TEST_REDIS_URL")
        redis.Redis.from_url(redis_url).flushdb()
        return app_config | {
            "RATELIMIT_STORAGE_URI": redis_url,
            "PHOTO_UPLOAD_LIMIT_PER_CLIENT": "1 per hour",
        }

    def test_the_upload_count_lives_in_redis(
        self, app_config: dict[str, Any], bob_api: PhotoApi
    ) -> None:
        assert bob_api.upload(PICTURE).status_code == 201
        assert bob_api.upload(PICTURE).status_code == 429
        keys = redis.Redis.from_url(app_config["RATELIMIT_STORAGE_URI"]).keys("*photo-upload*")
        assert keys, "the count is not in Redis"
        prefix = app_config.get("RATELIMIT_KEY_PREFIX", "tessera").encode()
        assert all(prefix in key for key in keys), keys  # deployments sharing Redis stay apart
