"""Registration: how PhotoPrint gets its client, once, from Tessera's operator CLI.

``python -m photoprint.register --tessera DIR --redirect-uri URL`` runs ``flask --app wsgi
clients create`` in Tessera's checkout (what an operator would type; the admin console's
"Register client" form does the same) and writes the client's id and secret to
``instance/client.json`` (mode 0600, git-ignored). An existing file is kept while Tessera
still knows its client and its redirect URI is the one asked for.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

NAME = "PhotoPrint"
SCOPE = "openid profile offline_access photos.read"
DEFAULT_FILE = Path(__file__).resolve().parent.parent / "instance" / "client.json"


def tessera_cli(
    flask: Sequence[str], tessera: Path, env: Mapping[str, str], *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """``flask --app wsgi ARGS`` in Tessera's checkout, as its operator would run it."""
    return subprocess.run(  # noqa: S603 - our own argument list, no shell
        [*flask, "--app", "wsgi", *args],
        cwd=tessera,
        env={**os.environ, **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def register(
    flask: Sequence[str], tessera: Path, env: Mapping[str, str], redirect_uri: str
) -> dict[str, Any]:
    """A confidential client that must push its requests and bind its tokens with DPoP."""
    created = tessera_cli(
        flask, tessera, env, "clients", "create", "--name", NAME,
        "--redirect-uri", redirect_uri, "--scope", SCOPE,
        "--grant-types", "authorization_code,refresh_token",
        "--token-endpoint-auth-method", "client_secret_basic",
        "--require-par", "--dpop-bound-access-tokens", "--json",
    )  # fmt: skip
    if created.returncode != 0:
        raise SystemExit(f"clients create failed: {created.stderr.strip()}")
    info: dict[str, Any] = json.loads(created.stdout)
    return {
        "client_id": info["client_id"],
        "client_secret": info["client_secret"],
        "redirect_uri": redirect_uri,
        "scope": info["scope"],
    }


def ensure_client_file(
    path: Path, flask: Sequence[str], tessera: Path, env: Mapping[str, str], redirect_uri: str
) -> bool:
    """Register unless ``path`` holds a client Tessera knows for ``redirect_uri``; True when
    it registered."""
    if path.exists():
        kept = json.loads(path.read_text())
        known = tessera_cli(flask, tessera, env, "clients", "show", kept["client_id"])
        if known.returncode == 0 and kept.get("redirect_uri") == redirect_uri:
            return False
    client = register(flask, tessera, env, redirect_uri)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(client, out, indent=2)
    path.chmod(0o600)  # also when the file existed with looser bits
    return True


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tessera", type=Path, required=True, help="Tessera's checkout")
    parser.add_argument("--flask", default=str(Path(sys.executable).parent / "flask"))
    parser.add_argument("--redirect-uri", default="http://127.0.0.1:8080/callback")
    parser.add_argument("--client-file", type=Path, default=DEFAULT_FILE)
    args = parser.parse_args(argv)
    made = ensure_client_file(args.client_file, [args.flask], args.tessera, {}, args.redirect_uri)
    print(f"{'registered' if made else 'kept'} PhotoPrint's client in {args.client_file}")


if __name__ == "__main__":
    main()
