"""RFC 9449 §10: ``dpop_jkt`` on the authorization request binds the code to a DPoP key, so
a stolen code cannot be redeemed by someone without the private key (also through PAR)."""

from __future__ import annotations

from typing import Any

from werkzeug.test import TestResponse

from tests.oauth.dpop_support import DPoPClient, claims_of, post_token
from tests.oauth.helpers import FlowResult, OAuthActions, RegisteredClient
from tests.oauth.par_helpers import flow_result, follow, push

TOKEN_URL = "http://127.0.0.1:5000/token"


def redeem(
    oauth: OAuthActions, client: RegisteredClient, flow: FlowResult, key: DPoPClient | None
) -> TestResponse:
    proof = key.proof("POST", TOKEN_URL) if key else None
    return post_token(
        oauth, client, proof, grant_type="authorization_code", code=flow.code,
        redirect_uri=client.redirect_uri, code_verifier=flow.verifier,
    )  # fmt: skip


def error_of(response: TestResponse) -> str:
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.json is not None
    return str(response.json["error"])


def test_a_code_bound_to_a_key_needs_a_proof_of_that_key(
    oauth: OAuthActions, pub: RegisteredClient, bob: Any
) -> None:
    key, thief = DPoPClient(), DPoPClient()
    flow = oauth.approve(pub, dpop_jkt=key.jkt)
    assert error_of(redeem(oauth, pub, flow, None)) == "invalid_dpop_proof"
    assert error_of(redeem(oauth, pub, flow, thief)) == "invalid_grant"
    redeemed = redeem(oauth, pub, flow, key)  # the refusals did not spend the code
    assert redeemed.status_code == 200, redeemed.json
    body: dict[str, Any] = redeemed.json  # type: ignore[assignment]
    assert body["token_type"] == "DPoP"
    assert claims_of(body["access_token"])["cnf"] == {"jkt": key.jkt}


def test_a_code_without_dpop_jkt_is_redeemed_with_or_without_a_proof(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    assert redeem(oauth, conf, oauth.approve(conf), None).status_code == 200
    assert redeem(oauth, conf, oauth.approve(conf), DPoPClient()).status_code == 200


def test_a_malformed_dpop_jkt_goes_back_to_the_client_as_invalid_request(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    oauth.sign_in()
    for value in ("not-a-thumbprint", "x" * 44, "a+b/" * 11):
        response, _ = oauth.authorize(conf, dpop_jkt=value, state="st-jkt")
        assert response.status_code == 302, response.get_data(as_text=True)[:300]
        location = response.headers["Location"]
        assert location.startswith(conf.redirect_uri)
        assert "error=invalid_request" in location and "state=st-jkt" in location


def test_dpop_jkt_travels_through_a_pushed_request(
    oauth: OAuthActions, conf: RegisteredClient, bob: Any
) -> None:
    key = DPoPClient()
    pushed = push(oauth, conf, dpop_jkt=key.jkt)
    flow = flow_result(follow(oauth, conf, pushed), pushed)
    assert error_of(redeem(oauth, conf, flow, DPoPClient())) == "invalid_grant"
    assert redeem(oauth, conf, flow, key).status_code == 200
