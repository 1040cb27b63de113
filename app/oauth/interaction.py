"""The authorization endpoint as people meet it: sign-in, consent, and the way back.

GET /authorize validates the request with authlib, then signs the user in, asks consent or
answers at once (``prompt.next_step``); POST /authorize is the consent decision.
Errors found before the client and redirect URI are known are shown here and never
redirected (RFC 6749 §4.1.2.1); later ones go back to the client with ``state`` and ``iss``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from authlib.oauth2.rfc6749 import OAuth2Error
from flask import Blueprint, Response, redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from app.account.principal import SignedInUser, sign_out
from app.errors import ValidationError
from app.extensions import csrf
from app.oauth import consent, logout, par, resource_indicators
from app.oauth.prompt import Step, next_step
from app.oauth.server import TesseraAuthorizationServer, authorization_server
from app.route_policy import csrf_exempt, csrf_protected, declare, html_errors, no_rate_limit
from app.scopes import describe
from app.services import consents

bp = declare(
    Blueprint("interaction", __name__),
    html_errors,
    csrf_protected,
    no_rate_limit("nothing to guess: client_ids are public, request_uris and tickets random"),
)


@bp.route("/authorize", methods=["GET", "POST"])
def authorize() -> ResponseReturnValue:
    """RFC 6749 §4.1.1 authorization request; POST carries the consent decision."""
    server = authorization_server()
    signed_in: SignedInUser | None = current_user if current_user.is_authenticated else None
    try:
        grant = server.get_consent_grant(end_user=signed_in)
        if request.method == "POST":
            return _decide(server, grant, signed_in)
        par.forget_prompts_satisfied(grant, signed_in.authenticated_at if signed_in else None)
        step = next_step(
            grant,
            signed_in.id if signed_in else None,
            signed_in.authenticated_at if signed_in else None,
        )
    except OAuth2Error as error:
        return _error(server, error)
    if step is Step.SIGN_IN or signed_in is None:
        return redirect("/login?" + urlencode({"next": _authorize_path_after_sign_in()}))
    if step is Step.CONSENT:
        return _consent_page(grant, signed_in)
    return _respond(server, grant, consent.Approval(signed_in, grant.request.scope))


@bp.route("/end-session", methods=["GET", "POST"])
@csrf_exempt("RP-Initiated Logout §2: relying parties may POST; the view checks our own form")
def end_session() -> ResponseReturnValue:
    """OIDC RP-Initiated Logout (GET or a form POST, §2): sign out at once when the
    id_token_hint names the signed-in user, else ask on a CSRF-protected form; then return
    to the hint's client's registered post-logout URI, if one was given."""
    confirmed = request.method == "POST" and "csrf_token" in request.form
    if confirmed:
        csrf.protect()  # our own confirmation form; an RP's POST carries no token of ours
    server = authorization_server()
    try:
        validated = server.validate_endpoint_request("end_session")
    except OAuth2Error as error:
        return _error_page(error)
    signed_in_sub = str(current_user.id) if current_user.is_authenticated else None
    if not confirmed and logout.needs_confirmation(validated, signed_in_sub):
        return _confirm_sign_out(validated)
    sign_out()
    response: Response | None = server.create_endpoint_response("end_session", validated)
    if response is None:
        return render_template("oauth/signed_out.html")
    if request.method == "POST":
        response.status_code = 303
    return response


def _decide(
    server: TesseraAuthorizationServer, grant: Any, signed_in: SignedInUser | None
) -> ResponseReturnValue:
    ticket = request.form.get("consent_ticket")
    if signed_in is None or not consent.ticket_is_valid(ticket, signed_in.id, request.args):
        raise ValidationError("This consent form has expired. Start again from the application.")
    if not par.consume():  # before remembering anything: a racing tab already answered
        return _request_uri_used()
    scope = consent.granted_scope(grant.request.scope, request.form.getlist("granted_scope"))
    if request.form.get("decision") != "allow" or (grant.request.scope and not scope):
        return _respond(server, grant, None)  # access_denied; allowing nothing is denying
    consents.remember_consent(signed_in.id, grant.request.client.client_id, scope)
    return _respond(server, grant, consent.Approval(signed_in, scope))


def _respond(
    server: TesseraAuthorizationServer, grant: Any, approval: consent.Approval | None
) -> Response:
    """Issue the code (or access_denied) by redirect; 303 after a POST (RFC 9700 §4.12)."""
    if not par.consume():
        return _request_uri_used()
    response: Response = server.create_authorization_response(grant=grant, grant_user=approval)
    if request.method == "POST" and response.status_code == 302:
        response.status_code = 303
    return response


def _consent_page(grant: Any, signed_in: SignedInUser) -> str:
    # No client logo: its logo_uri is another site, which the CSP (img-src 'self') blocks and
    # which would learn who is signing in; the metadata is kept, not displayed.
    return render_template(
        "oauth/consent.html",
        client=grant.request.client,
        redirect_host=consent.display_host(grant.redirect_uri),
        scopes=describe(grant.request.scope),
        resources=resource_indicators.named_on_consent(grant.request),
        ticket=consent.issue_ticket(signed_in.id, request.args),
        action=request.full_path,
    )


def _confirm_sign_out(validated: Any) -> str:
    """The §6 confirmation: the request's parameters travel in the form body, never the URL;
    a post-logout URI only if it is registered for the hint's client (§3)."""
    fields = {
        name: request.values[name]
        for name in logout.CARRIED_PARAMETERS
        if isinstance(request.values.get(name), str)
    }
    if validated.redirect_uri is None:
        fields.pop("post_logout_redirect_uri", None)
    return render_template(
        "oauth/end_session.html",
        fields=fields,
        client=validated.client,
        username=current_user.username,
    )


def _error_page(error: OAuth2Error) -> Response:
    """An error shown to the person, never redirected (the client is not trusted yet)."""
    html = render_template(
        "oauth/error.html", error=error.error, description=error.get_error_description()
    )
    return Response(html, status=400, mimetype="text/html")


def _request_uri_used() -> Response:
    """RFC 9126 §4: a pushed request answers once; a second answer is never redirected."""
    return _error_page(par.InvalidRequestUriError("The request_uri was already used."))


def _error(server: TesseraAuthorizationServer, error: OAuth2Error) -> Response:
    if error.redirect_uri:
        if error.state is None:  # raised by our own checks, after authlib's
            error.state = par.authorization_parameters().get("state")
        if not par.consume():
            return _request_uri_used()
        return server.authorization_error(None, error)
    return _error_page(error)


def _authorize_path_after_sign_in() -> str:
    """This request's URL for ``next``, minus what the sign-in it leads to satisfies:
    ``prompt=login`` and ``max_age`` (kept, they would send the user back to sign in forever).
    """
    args = MultiDict(request.args)
    prompts = [p for p in args.get("prompt", "").split() if p != "login"]
    args.poplist("prompt")
    args.poplist("max_age")
    if prompts:
        args["prompt"] = " ".join(prompts)
    return "/authorize?" + urlencode(list(args.items(multi=True)))
