"""DPoP against Tessera under gunicorn (2 workers): a real client with requests + joserfc,
and proof replay refused by the database replay cache whichever worker answers."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.live import LiveServer
from tests.oauth.dpop_support import DPoPClient, challenges
from tests.oauth.helpers import OAuthActions, RegisteredClient

pytestmark = pytest.mark.live

TIMEOUT = 30
PARALLEL = 8  # concurrent requests: both sync workers take some of them


def test_a_public_client_uses_dpop_end_to_end(
    live_server: LiveServer, oauth: OAuthActions, pub: RegisteredClient, bob: Any
) -> None:
    """Code exchange, API call, refresh: each with a fresh proof of one key; the bound
    access token is refused as a Bearer token."""
    key = DPoPClient()
    flow = oauth.approve(pub, scope="openid offline_access photos.read")
    token_url, photos_url = f"{live_server.url}/token", f"{live_server.url}/api/v1/photos"
    with requests.Session() as http:
        response = http.post(
            token_url,
            data={"grant_type": "authorization_code", "code": flow.code,
                  "redirect_uri": pub.redirect_uri, "code_verifier": flow.verifier,
                  "client_id": pub.client_id},
            headers={"DPoP": key.proof("POST", token_url)},
            timeout=TIMEOUT,
        )  # fmt: skip
        assert response.status_code == 200, response.text
        tokens = response.json()
        assert tokens["token_type"] == "DPoP"
        access = tokens["access_token"]

        proof = key.proof("GET", photos_url, access_token=access)
        listed = http.get(
            photos_url, headers={"Authorization": f"DPoP {access}", "DPoP": proof}, timeout=TIMEOUT
        )
        assert listed.status_code == 200, listed.text

        stolen = http.get(
            photos_url, headers={"Authorization": f"Bearer {access}"}, timeout=TIMEOUT
        )
        assert stolen.status_code == 401
        assert stolen.json()["error"] == "invalid_token"
        assert stolen.headers["WWW-Authenticate"].startswith('Bearer realm="tessera", error=')
        assert ', DPoP realm="tessera", algs="ES256 ' in stolen.headers["WWW-Authenticate"]

        refreshed = http.post(
            token_url,
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
                  "client_id": pub.client_id},
            headers={"DPoP": key.proof("POST", token_url)},
            timeout=TIMEOUT,
        )  # fmt: skip
        assert refreshed.status_code == 200, refreshed.text
        assert refreshed.json()["token_type"] == "DPoP"


def replay_in_parallel(send: Any) -> Counter[int]:
    with ThreadPoolExecutor(PARALLEL) as pool:
        return Counter(response.status_code for response in pool.map(send, range(PARALLEL)))


def test_a_proof_is_used_once_across_the_workers(
    live_server: LiveServer, oauth: OAuthActions, cc: RegisteredClient
) -> None:
    """One proof sent 8 times at once to /token: one token, seven invalid_dpop_proof."""
    key = DPoPClient()
    token_url = f"{live_server.url}/token"
    proof = key.proof("POST", token_url)

    def send(_: int) -> requests.Response:
        return requests.post(
            token_url,
            data={"grant_type": "client_credentials"},
            auth=(cc.client_id, cc.client_secret or ""),
            headers={"DPoP": proof},
            timeout=TIMEOUT,
        )

    assert replay_in_parallel(send) == Counter({200: 1, 400: PARALLEL - 1})
    again = send(0)
    assert again.json()["error"] == "invalid_dpop_proof"


def test_an_api_proof_is_used_once_across_the_workers(
    live_server: LiveServer, oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    key = DPoPClient()
    flow = oauth.approve(conf, scope="openid photos.read")
    token_url, photos_url = f"{live_server.url}/token", f"{live_server.url}/api/v1/photos"
    response = requests.post(
        token_url,
        data={"grant_type": "authorization_code", "code": flow.code,
              "redirect_uri": conf.redirect_uri, "code_verifier": flow.verifier},
        auth=(conf.client_id, conf.client_secret or ""),
        headers={"DPoP": key.proof("POST", token_url)},
        timeout=TIMEOUT,
    )  # fmt: skip
    assert response.status_code == 200, response.text
    access = response.json()["access_token"]
    headers = {
        "Authorization": f"DPoP {access}",
        "DPoP": key.proof("GET", photos_url, access_token=access),
    }

    def send(_: int) -> requests.Response:
        return requests.get(photos_url, headers=headers, timeout=TIMEOUT)

    assert replay_in_parallel(send) == Counter({200: 1, 401: PARALLEL - 1})
    refused = send(0)
    values = [v.strip() for v in refused.headers["WWW-Authenticate"].split(", DPoP ")]
    assert challenges(["DPoP " + values[1]])["DPoP"]["error"] == "invalid_dpop_proof"
