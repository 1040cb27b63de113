"""The hot paths through Flask's test client, in this process: CPU per call, without wrk.

On a machine whose cores are shared with other work, wrk's req/s moves with the neighbours'
load; the CPU time this process spends per call (``time.process_time``) moves much less. The
app is built afresh for each round from a server's environment (its FLASK_* settings), so each
round runs exactly the settings that server would.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.wrk import Scenario

FORM = "application/x-www-form-urlencoded"
WARM_UP_CALLS = 50


@contextmanager
def environment(env: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def multiprocess_counts(directory: Path) -> None:
    """Count as under gunicorn: prometheus_client writes to files in ``directory``
    (gunicorn.conf.py sets this before the app is imported; so must this process)."""
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(directory))


def cpu_per_call(env: dict[str, str], paths: list[Scenario], calls: int) -> dict[str, float]:
    """Microseconds of this process's CPU per call of each path, after a warm-up."""
    from app import create_app
    from app.extensions import db
    from app.services import usage

    with environment(env):
        app = create_app(migrations=False)
    client = app.test_client()
    found = {}
    try:
        for scenario in paths:
            body = scenario.script_args[0] if scenario.script == "post.lua" else None
            headers = scenario.headers | ({"Content-Type": FORM} if body is not None else {})
            method = "POST" if body is not None else "GET"
            for _ in range(WARM_UP_CALLS):
                client.open(scenario.path, method=method, data=body, headers=headers)
            started = time.process_time()
            for _ in range(calls):
                response = client.open(scenario.path, method=method, data=body, headers=headers)
            found[scenario.name] = (time.process_time() - started) / calls * 1e6
            if response.status_code != 200:
                raise RuntimeError(f"{scenario.name}: {response.status_code} {response.text}")
    finally:
        with app.app_context():
            usage.flush()  # now, while the database is there (not at exit)
            db.engine.dispose()
    return found
