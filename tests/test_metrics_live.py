"""/metrics under gunicorn with two preloaded workers: a scrape sums every worker's counts
(prometheus_client's multiprocess mode, set up by gunicorn.conf.py before the app loads)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families

from tests.live import LiveServer, live_settings
from tests.oauth.helpers import ClientFactory, RegisteredClient
from tests.test_metrics import SCRAPE, TOKEN

pytestmark = [pytest.mark.live, pytest.mark.limits(METRICS_TOKEN=TOKEN)]

REQUESTS = 20


def samples(server: LiveServer) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = requests.get(server.url + "/metrics", headers=SCRAPE, timeout=10)
    assert response.status_code == 200, response.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def tokens_in(path: Path) -> float:
    """Tokens issued as counted in one process's file."""
    return sum(
        value
        for key, value, _, _ in MmapedDict.read_all_values_from_file(str(path))
        if json.loads(key)[1] == "tessera_tokens_issued_total"
    )


def counts_directory(server: LiveServer) -> Path | None:
    """The directory the workers' count files are mapped from (/proc/PID/maps)."""
    assert server.process is not None
    pid = server.process.pid
    workers = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    for worker in workers:
        for line in Path(f"/proc/{worker}/maps").read_text().splitlines():
            if line.endswith(".db") and "/counter_" in line:
                return Path(line.split()[-1]).parent
    return None


def issue_tokens(server: LiveServer, client: RegisteredClient) -> None:
    def token(_: int) -> int:
        response = requests.post(
            server.url + "/token", data={"grant_type": "client_credentials"},
            auth=(client.client_id, client.client_secret or ""), timeout=10,
        )  # fmt: skip
        return response.status_code

    with ThreadPoolExecutor(4) as pool:  # concurrent: both sync workers take some
        assert list(pool.map(token, range(REQUESTS))) == [200] * REQUESTS


@pytest.mark.parametrize("operator_directory", [False, True], ids=["own", "operator's"])
def test_a_scrape_sums_the_counts_of_both_workers(
    app: Flask, app_config: dict[str, Any], instance_path: Path, tmp_path: Path,
    operator_directory: bool,
) -> None:  # fmt: skip
    settings = live_settings(app_config, instance_path)
    if operator_directory:
        given = tmp_path / "metrics"
        given.mkdir()
        (given / "counter_1.db").write_bytes(b"a previous run's counts")  # wiped at start
        settings |= {"PROMETHEUS_MULTIPROC_DIR": str(given)}
    server = LiveServer(settings, tmp_path / "gunicorn.log", workers=2)
    batch = ClientFactory(app).create(
        client_name="Batch job", grant_types=["client_credentials"], scope="photos.read"
    )
    server.start()
    try:
        issue_tokens(server, batch)
        scrapes = [samples(server) for _ in range(4)]  # whichever worker answers each
        directory = counts_directory(server)
        files = directory.glob("counter_*.db") if directory else ()
        per_file = {path.name: tokens_in(path) for path in files}
    finally:
        server.stop()
    issued = (
        "tessera_tokens_issued_total",
        frozenset({("grant_type", "client_credentials"), ("client_id", batch.client_id)}),
    )
    assert [found[issued] for found in scrapes] == [REQUESTS] * 4
    latency = ("tessera_request_duration_seconds_count", frozenset({("endpoint", "oauth.token")}))
    assert [found[latency] for found in scrapes] == [REQUESTS] * 4
    assert directory is not None, "no worker maps a counter file"
    assert len([n for n in per_file.values() if n]) == 2, per_file  # each worker issued some
    assert sum(per_file.values()) == REQUESTS
    assert "counter_1.db" not in per_file  # an operator's stale file went at start
    # gunicorn.conf.py removes the directory it made, and leaves an operator's
    assert directory.exists() == operator_directory
