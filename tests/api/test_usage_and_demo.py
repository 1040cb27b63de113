"""Who did what (usage counts), the demo story, and cleaning the photo store.

Issue 4, Deliver item 6 (per user, client, operation and day counts of successful calls),
item 7 (``flask --app wsgi demo``: bob, alice, PhotoPrint and generated photos; running it twice
changes nothing; ``--password-stdin``), and item 2's crash safety (``photos clean`` removes
files left without a row, never a real photo's file). docs/security.md F5 (0 files without a row)
and API-07 (file count back to before).
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

from click.testing import Result
from flask import Flask
from sqlalchemy import func, select

from app.extensions import db
from app.models import Client, Photo, User
from app.services import usage
from tests.api.conftest import PhotoApi, token_for
from tests.helpers import AuthActions
from tests.lanes import Clock
from tests.live import flask_cli
from tests.oauth.helpers import OAuthActions, RegisteredClient


# -- helpers -----------------------------------------------------------------------------------
def totals(app: Flask, user_id: int, client_id: str) -> dict[str, int]:
    with app.app_context():
        return usage.totals(user_id, client_id)


def run(app: Flask, *args: str, stdin: str | None = None) -> Result:
    """Invoke a command through ``app.test_cli_runner()``.

    An app context is pushed around the call so these tests see what the commands do even
    though ``demo`` itself does not push one (its own test below checks that it should).
    """
    with app.app_context():
        result = app.test_cli_runner().invoke(args=list(args), input=stdin)
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def stored_files(instance_path: Path) -> set[str]:
    root = instance_path / "photos"
    if not root.exists():
        return set()
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def snapshot(app: Flask, instance_path: Path) -> dict[str, Any]:
    """Users, clients and photos per owner, and the stored files, as they stand."""
    with app.app_context():
        owners = db.session.execute(
            select(User.username, func.count(Photo.id))
            .join(Photo, Photo.owner_id == User.id, isouter=True)
            .group_by(User.username)
        )
        return {
            "photos": {name: int(count) for name, count in owners},
            "clients": sorted(db.session.scalars(select(Client.client_name)).all()),
            "files": stored_files(instance_path),
        }


def user_id(app: Flask, username: str) -> int:
    with app.app_context():
        found = db.session.scalar(select(User.id).where(User.username == username))
        assert found is not None
        return int(found)


# -- usage counts ----------------------------------------------------------------------------------
def test_successful_calls_are_counted_per_operation_for_the_user_and_client(
    app: Flask, bob_api: PhotoApi, photoprint: RegisteredClient, bob: Any
) -> None:
    assert totals(app, bob.id, photoprint.client_id) == {}
    for _ in range(3):
        assert bob_api.get("/photos").status_code == 200
    assert bob_api.upload().status_code == 201
    assert totals(app, bob.id, photoprint.client_id) == {"listPhotos": 3, "uploadPhoto": 1}


def test_every_operation_has_its_own_counter(
    app: Flask, bob_api: PhotoApi, photoprint: RegisteredClient, bob: Any
) -> None:
    photo_id = bob_api.upload().get_json()["id"]
    assert bob_api.get(f"/photos/{photo_id}").status_code == 200
    assert bob_api.get(f"/photos/{photo_id}").status_code == 200
    assert bob_api.patch(photo_id, {"title": "t"}).status_code == 200
    assert bob_api.get(f"/photos/{photo_id}/content").status_code == 200
    assert bob_api.delete(photo_id).status_code == 204
    assert totals(app, bob.id, photoprint.client_id) == {
        "uploadPhoto": 1,
        "getPhoto": 2,
        "updatePhoto": 1,
        "getPhotoContent": 1,
        "deletePhoto": 1,
    }


def test_failed_calls_are_not_counted(
    app: Flask, bob_api: PhotoApi, photoprint: RegisteredClient, bob: Any
) -> None:
    oauth = OAuthActions(app.test_client(), app.config["OAUTH_ISSUER"])
    reader = PhotoApi(app.test_client(), token_for(oauth, photoprint, "bob", "openid photos.read"))
    photo_id = bob_api.upload().get_json()["id"]
    baseline = totals(app, bob.id, photoprint.client_id)
    assert baseline == {"uploadPhoto": 1}

    refused = [
        bob_api.get("/photos/nope"),  # 404
        bob_api.get("/photos/nope/content"),  # 404
        bob_api.delete("nope"),  # 404
        bob_api.patch("nope", {"title": "t"}),  # 404
        bob_api.get("/photos?limit=0"),  # 400
        bob_api.patch(photo_id, {"owner": 1}),  # 400
        bob_api.upload(b"<html></html>", filename="x.jpg"),  # 415
        reader.upload(),  # 403
        reader.delete(photo_id),  # 403
        reader.patch(photo_id, {"title": "t"}),  # 403
    ]
    assert [r.status_code for r in refused] == [404, 404, 404, 404, 400, 400, 415, 403, 403, 403]
    assert totals(app, bob.id, photoprint.client_id) == baseline


def test_calls_by_another_client_or_for_another_user_are_counted_apart(
    app: Flask,
    bob_api: PhotoApi,
    alice_api: PhotoApi,
    photoprint: RegisteredClient,
    pub: RegisteredClient,
    bob: Any,
) -> None:
    oauth = OAuthActions(app.test_client(), app.config["OAUTH_ISSUER"])
    desktop = PhotoApi(app.test_client(), token_for(oauth, pub, "bob", "openid photos.read"))
    assert desktop.get("/photos").status_code == 200
    assert alice_api.get("/photos").status_code == 200
    assert alice_api.get("/photos").status_code == 200
    assert bob_api.get("/photos").status_code == 200

    alice_id = user_id(app, "alice")
    assert totals(app, bob.id, photoprint.client_id) == {"listPhotos": 1}
    assert totals(app, bob.id, pub.client_id) == {"listPhotos": 1}
    assert totals(app, alice_id, photoprint.client_id) == {"listPhotos": 2}
    assert totals(app, alice_id, pub.client_id) == {}


# -- flask --app wsgi demo -------------------------------------------------------------------------
def test_demo_creates_bob_alice_photoprint_and_their_photos(
    app: Flask, instance_path: Path
) -> None:
    result = run(app, "demo")
    state = snapshot(app, instance_path)
    assert state["photos"] == {"bob": 3, "alice": 2}
    assert state["clients"] == ["Demo uploader", "PhotoPrint"]
    assert len(state["files"]) == 5
    with app.app_context():
        for photo in db.session.scalars(select(Photo)):
            assert f"{photo.id[:2]}/{photo.id}" in state["files"]
            assert photo.content_type in {"image/jpeg", "image/png", "image/webp", "image/gif"}
        client = db.session.scalar(select(Client).where(Client.client_name == "PhotoPrint"))
        assert client is not None
        assert client.token_endpoint_auth_method != "none"
        assert client.client_secret_hash
        for uri in client.redirect_uris:
            assert re.match(r"^http://(127\.0\.0\.1|\[::1\]|localhost)(:\d+)?/", uri), uri
    assert "created user bob" in result.output
    assert "created user alice" in result.output


def test_running_demo_twice_changes_nothing(app: Flask, instance_path: Path) -> None:
    run(app, "demo")
    before = snapshot(app, instance_path)
    second = run(app, "demo")
    assert "nothing changed" in second.output
    assert "password" not in second.output
    assert "client_secret" not in second.output
    assert snapshot(app, instance_path) == before


def test_demo_runs_through_the_test_cli_runner_without_a_pushed_app_context(
    app: Flask, instance_path: Path
) -> None:
    """Like every ``users``/``clients``/``photos`` command, ``demo`` brings its own context."""
    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, (result.output, result.exception)
    assert snapshot(app, instance_path)["photos"] == {"bob": 3, "alice": 2}


def test_flask_demo_in_a_real_process_takes_bobs_password_from_stdin(
    app: Flask, cli_env: dict[str, str], auth: AuthActions, instance_path: Path
) -> None:
    password = "typed into the real command"
    first = flask_cli(cli_env, "demo", "--password-stdin", stdin=password + "\n")
    assert first.returncode == 0, first.stderr[-2000:]
    assert password not in first.stdout
    assert auth.login("bob", password).status_code == 303
    second = flask_cli(cli_env, "demo")
    assert second.returncode == 0, second.stderr[-2000:]
    assert "nothing changed" in second.stdout
    assert snapshot(app, instance_path)["photos"] == {"bob": 3, "alice": 2}


def test_demo_prints_bob_a_password_that_signs_him_in(app: Flask, auth: AuthActions) -> None:
    result = run(app, "demo")
    match = re.search(r"created user bob, password: (\S+)", result.output)
    assert match, result.output
    assert auth.login("bob", match.group(1)).status_code == 303
    assert auth.login("bob", "not the password").status_code != 303


def test_demo_password_stdin_sets_bobs_password_and_never_prints_it(
    app: Flask, auth: AuthActions
) -> None:
    password = "a long demo passphrase 42"
    result = run(app, "demo", "--password-stdin", stdin=password + "\n")
    assert password not in result.output
    response = auth.login("bob", password)
    assert response.status_code == 303, response.get_data(as_text=True)[:300]


def test_the_demo_story_runs_end_to_end_through_the_api(app: Flask, instance_path: Path) -> None:
    """Bob signs in with his stdin password, approves PhotoPrint and lists his three photos."""
    password = "bobs own demo passphrase"
    result = run(app, "demo", "--password-stdin", stdin=password + "\n")
    secrets_json = re.search(r"\{.*?\n\}", result.output, re.DOTALL)  # PhotoPrint's, first
    assert secrets_json, result.output
    credentials = json.loads(secrets_json.group(0))
    with app.app_context():
        row = db.session.get(Client, credentials["client_id"])
        assert row is not None
        metadata = dict(row.client_metadata) | {
            "redirect_uris": row.redirect_uris,
            "token_endpoint_auth_method": row.token_endpoint_auth_method,
        }
    photoprint = RegisteredClient(credentials["client_id"], credentials["client_secret"], metadata)

    oauth = OAuthActions(app.test_client(), app.config["OAUTH_ISSUER"])
    oauth.sign_in("bob", password)
    token = token_for(oauth, photoprint, "bob", "openid photos.read")
    listed = PhotoApi(app.test_client(), token).get("/photos")
    assert listed.status_code == 200
    items = listed.get_json()["items"]
    assert len(items) == 3
    content = PhotoApi(app.test_client(), token).get(f"/photos/{items[0]['id']}/content")
    assert content.status_code == 200 and content.mimetype == items[0]["content_type"]


# -- flask --app wsgi photos clean -----------------------------------------------------------------
def orphan(instance_path: Path, name: str, age_seconds: float = 0) -> Path:
    path = instance_path / "photos" / "ab" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"left behind by a crash")
    if age_seconds:
        old = time.time() - age_seconds
        os.utime(path, (old, old))
    return path


def test_photos_clean_with_no_grace_removes_files_without_a_row_and_keeps_photos(
    app: Flask, bob_api: PhotoApi, instance_path: Path, clock: Clock
) -> None:
    ids = [bob_api.upload().get_json()["id"] for _ in range(2)]
    real = stored_files(instance_path)
    assert real == {f"{i[:2]}/{i}" for i in ids}
    stray = orphan(instance_path, "abOrphanWithoutARow00")
    temporary = orphan(instance_path, ".tmp-abHalfWritten0000")
    clock.advance(0.05)

    result = run(app, "photos", "clean", "--grace", "0")
    assert "removed 2 orphan files" in result.output
    assert not stray.exists() and not temporary.exists()
    assert stored_files(instance_path) == real
    for photo_id in ids:
        assert bob_api.get(f"/photos/{photo_id}/content").status_code == 200


def test_photos_clean_leaves_files_younger_than_the_grace(
    app: Flask, bob_api: PhotoApi, instance_path: Path
) -> None:
    """A file a running upload just renamed into place may not have its row committed yet."""
    assert bob_api.upload().status_code == 201
    fresh = orphan(instance_path, "abJustWrittenNoRowYet")
    old = orphan(instance_path, "abOldOrphanFromACrash", age_seconds=7200)

    result = run(app, "photos", "clean")
    assert "removed 1 orphan files" in result.output
    assert fresh.exists()
    assert not old.exists()

    result = run(app, "photos", "clean", "--grace", "600")
    assert "removed 0 orphan files" in result.output
    assert fresh.exists()


def test_photos_clean_on_an_empty_store_removes_nothing(app: Flask, instance_path: Path) -> None:
    result = run(app, "photos", "clean", "--grace", "0")
    assert "removed 0 orphan files" in result.output


def test_photos_clean_refuses_a_grace_that_is_not_a_number(
    app: Flask, bob_api: PhotoApi, instance_path: Path
) -> None:
    assert bob_api.upload().status_code == 201
    before = stored_files(instance_path)
    result = app.test_cli_runner().invoke(args=["photos", "clean", "--grace", "soon"])
    assert result.exit_code == 2
    assert stored_files(instance_path) == before
