"""``flask --app wsgi clients ...``: register and manage OAuth clients (RFC 7591 metadata)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from flask.cli import AppGroup

from app.errors import ValidationError
from app.models import Client
from app.models.client import AUTH_METHODS, CLIENT_SECRET_BASIC
from app.services import clients, registration_tokens

clients_cli = AppGroup("clients", help="Register and manage OAuth clients.")


def _fail(exc: ValidationError) -> click.ClickException:
    return click.ClickException(f"{exc.error}: {exc.description}")


def _split(value: str | None) -> list[str] | None:
    return [part.strip() for part in value.split(",") if part.strip()] if value else None


def _load_jwks(path: str | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"invalid_client_metadata: cannot read --jwks: {exc}") from exc
    if not isinstance(data, dict):
        raise click.ClickException("invalid_client_metadata: --jwks must hold a JWK Set object")
    return data


@clients_cli.command("create")
@click.option("--name", "client_name", required=True, help="client_name shown on consent.")
@click.option("--redirect-uri", "redirect_uris", multiple=True, help="Repeat for each URI.")
@click.option("--grant-types", help="Comma-separated RFC 7591 names (default authorization_code).")
@click.option("--response-types", help="Comma-separated; only 'code'.")
@click.option("--scope", help="Space-separated scopes the client may ask for.")
@click.option(
    "--token-endpoint-auth-method",
    type=click.Choice(AUTH_METHODS),
    help=f"Default {CLIENT_SECRET_BASIC}.",
)
@click.option("--jwks", "jwks_file", type=click.Path(dir_okay=False), help="File with a JWK Set.")
@click.option("--jwks-uri", help="URL of the client's JWK Set.")
@click.option("--post-logout-redirect-uri", "post_logout_redirect_uris", multiple=True)
@click.option("--logo-uri")
@click.option("--client-uri")
@click.option(
    "--resource-server", is_flag=True, help="May introspect access tokens for its audiences."
)
@click.option(
    "--audience",
    "audiences",
    multiple=True,
    help="With --resource-server: an audience it serves (repeatable; default the photo API).",
)
@click.option("--require-par", is_flag=True, help="Must use pushed authorization requests.")
@click.option(
    "--dpop-bound-access-tokens",
    "dpop_bound",
    is_flag=True,
    help="Must send a DPoP proof with every token request (RFC 9449 section 5.2).",
)
@click.option("--json", "as_json", is_flag=True, help="Accepted for symmetry; output is JSON.")
def create_command(
    as_json: bool,
    resource_server: bool,
    audiences: tuple[str, ...],
    require_par: bool,
    dpop_bound: bool,
    jwks_file: str | None,
    **options: Any,
) -> None:
    """Register a client and print the RFC 7591 client information response (JSON).

    The client secret is printed this once; only its SHA-256 digest is stored.
    """
    metadata: dict[str, Any] = {
        "client_name": options["client_name"],
        "redirect_uris": list(options["redirect_uris"]),
        "post_logout_redirect_uris": list(options["post_logout_redirect_uris"]),
    }
    for key in ("grant_types", "response_types"):
        if options[key] is not None:
            metadata[key] = _split(options[key]) or []
    for key in ("scope", "token_endpoint_auth_method", "jwks_uri", "logo_uri", "client_uri"):
        if options[key] is not None:
            metadata[key] = options[key]
    if require_par:
        metadata["require_pushed_authorization_requests"] = True
    if dpop_bound:
        metadata["dpop_bound_access_tokens"] = True
    jwks = _load_jwks(jwks_file)
    if jwks is not None:
        metadata["jwks"] = jwks
    try:
        registration = clients.register_client(
            metadata, resource_server=resource_server, resource_audiences=audiences
        )
    except ValidationError as exc:
        raise _fail(exc) from exc
    click.echo(json.dumps(registration.information_response(), indent=2))


def _summary(client: Client) -> dict[str, Any]:
    return {
        "client_id": client.client_id,
        "client_name": client.client_name,
        "type": "public" if client.is_public else "confidential",
        "token_endpoint_auth_method": client.token_endpoint_auth_method,
        "grant_types": client.grant_types,
        "created_at": client.created_at.isoformat(),
    }


@clients_cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def list_command(as_json: bool) -> None:
    """List clients (never their secrets)."""
    everyone = [_summary(c) for c in clients.list_clients()]
    if as_json:
        click.echo(json.dumps(everyone, indent=2))
        return
    for c in everyone:
        grants = ",".join(c["grant_types"])
        click.echo(f"{c['client_id']}\t{c['client_name']}\t{c['type']}\t{grants}")


@clients_cli.command("show")
@click.argument("client_id")
def show_command(client_id: str) -> None:
    """Print a client's registered metadata (JSON, without secret)."""
    try:
        client = clients.get_client(client_id)
    except ValidationError as exc:
        raise _fail(exc) from exc
    click.echo(json.dumps(clients.client_information(client), indent=2))


@clients_cli.command("delete")
@click.argument("client_id")
def delete_command(client_id: str) -> None:
    """Delete a client; every token it holds stops working."""
    try:
        clients.delete_client(client_id)
    except ValidationError as exc:
        raise _fail(exc) from exc
    click.echo(f"deleted client {client_id}")


@clients_cli.command("rotate-secret")
@click.argument("client_id")
@click.option("--grace", default=0, show_default=True,
              help="Seconds the old secret keeps working (0: it stops at once).")  # fmt: skip
def rotate_secret_command(client_id: str, grace: int) -> None:
    """Issue a new client secret (printed once)."""
    try:
        secret = clients.rotate_secret(client_id, grace)
    except ValidationError as exc:
        raise _fail(exc) from exc
    click.echo(json.dumps({"client_id": client_id, "client_secret": secret}, indent=2))


@clients_cli.command("issue-registration-token")
@click.option("--expires-in", default=86400, show_default=True,
              help="Seconds the token can be used.")  # fmt: skip
@click.option("--max-uses", default=1, show_default=True,
              help="How many clients it may register.")  # fmt: skip
def issue_registration_token_command(expires_in: int, max_uses: int) -> None:
    """Issue an RFC 7591 initial access token for POST /register (printed once).

    Only its SHA-256 digest is stored; each registration spends one use.
    """
    try:
        token, expires_at = registration_tokens.issue(expires_in, max_uses)
    except ValidationError as exc:
        raise _fail(exc) from exc
    info = {
        "initial_access_token": token,
        "expires_at": int(expires_at.timestamp()),
        "max_uses": max_uses,
    }
    click.echo(json.dumps(info, indent=2))
