"""Instructions per request, counted by valgrind's callgrind: a switch's cost without noise.

wrk's req/s and even CPU time move with the neighbours' load on a shared machine by more than
the few percent a switch costs. An instruction count does not. This runs the hot paths through
Flask's test client in one process under callgrind, with three apps side by side: everything
off, METRICS_TOKEN set (counting, in prometheus_client's multiprocess mode as under gunicorn)
and REQUEST_LOG on; batches of K requests alternate between them and each batch's count is
read from a callgrind dump. The figures exclude gunicorn's HTTP parsing and socket work, which
a served request also pays: a switch's share of a served request is smaller than here.

    python -m bench.instructions [K]        (needs valgrind; about 3 minutes for K=100)
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SIDES = ("off", "metrics", "request_log")
PATHS = ("photos", "client_credentials", "userinfo")
_CHILD = "TESSERA_BENCH_INSTRUCTIONS_CHILD"


def main() -> None:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    if os.environ.get(_CHILD):
        measure(calls)
        return
    out = Path(tempfile.mkdtemp(prefix="tessera-callgrind-"))
    subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}/callgrind.out.%p",
         sys.executable, "-m", "bench.instructions", str(calls)],
        cwd=ROOT, env=os.environ | {_CHILD: "1"}, check=True, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    print(report(out, calls))


def measure(calls: int) -> None:
    """In valgrind: the three apps, warmed up, then 2 rounds of K calls per path and side."""
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp()  # as gunicorn.conf.py does
    os.environ["FLASK_INSTANCE_PATH"] = instance = tempfile.mkdtemp()
    from flask_migrate import upgrade

    from app import create_app, metrics
    from tests.factories import UserFactory
    from tests.oauth.helpers import ClientFactory, OAuthActions

    base: dict[str, Any] = {
        "SECRET_KEY": "x" * 40, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance}/t.sqlite",
        "REQUEST_LOG": False, "OAUTH_LIMIT_PER_CLIENT": "1000000 per minute",
        "OAUTH_LIMIT_PER_IP": "1000000 per minute",
    }  # fmt: skip
    first = create_app(base)
    with first.app_context():
        upgrade(directory=str(ROOT / "migrations"))
    sys.stdout = open(os.devnull, "w")  # the request log's lines  # noqa: SIM115
    UserFactory(first).create("bob")
    web = ClientFactory(first).create(
        client_name="bench", redirect_uris=["https://a.test/cb"], scope="openid photos.read",
        grant_types=["authorization_code", "refresh_token", "client_credentials"],
    )  # fmt: skip
    issuer = first.config["OAUTH_ISSUER"]
    token = OAuthActions(first.test_client(), issuer).tokens_for(web, scope="openid photos.read")
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    basic = base64.b64encode(f"{web.client_id}:{web.client_secret}".encode()).decode()
    form = {"grant_type": "client_credentials", "scope": "photos.read"}
    requests = {
        "photos": lambda c: c.get("/api/v1/photos", headers=bearer),
        "client_credentials": lambda c: c.post(
            "/token", data=form, headers={"Authorization": f"Basic {basic}"}
        ),
        "userinfo": lambda c: c.get("/userinfo", headers=bearer),
    }
    apps = {"off": create_app(base)}
    apps["metrics"] = create_app(base | {"METRICS_TOKEN": "m" * 40})
    counting = metrics._instruments  # process-wide: given to the metrics app's batches only
    apps["request_log"] = create_app(base | {"REQUEST_LOG": True})
    for path, call in requests.items():
        for measured in (False, True, True):  # a warm-up round, then two measured rounds
            for side, app in apps.items():
                metrics._instruments = counting if side == "metrics" else None
                client = app.test_client()
                _dump("skip")
                for _ in range(calls if measured else 30):
                    assert call(client).status_code == 200
                _dump(f"{path}:{side}" if measured else "skip")


def _dump(label: str) -> None:
    subprocess.run(
        ["callgrind_control", f"--dump={label}", str(os.getpid())], check=True,
        capture_output=True,
    )  # fmt: skip


def report(out: Path, calls: int) -> str:
    found: dict[tuple[str, str], list[float]] = defaultdict(list)
    for dump in out.glob("callgrind.out.*.*"):
        text = dump.read_text(errors="replace")
        trigger = re.search(r"^desc: Trigger: (?:Client Request: )?dump (\S+)", text, re.M)
        total = re.search(r"^(?:summary|totals): (\d+)", text, re.M)
        if trigger and total and trigger.group(1) != "skip":
            path, side = trigger.group(1).split(":")
            found[(path, side)].append(int(total.group(1)) / calls)
    lines = ["| path | off | metrics (METRICS_TOKEN set) | request log (REQUEST_LOG on) |",
             "|---|---:|---:|---:|"]  # fmt: skip
    for path in PATHS:
        off = min(found[(path, "off")])
        cells = [f"{off / 1e6:.2f} M"]
        for side in SIDES[1:]:
            on = min(found[(path, side)])
            cells.append(f"{on / 1e6:.2f} M ({(on - off) / off * 100:+.1f} %, {on - off:+,.0f})")
        lines.append(f"| {path} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
