"""gunicorn settings shared by `make run`, the live tests (tests/live.py) and `make bench`.

A worker that runs past ``timeout`` is killed and the client gets gunicorn's own HTML 500,
without Tessera's JSON errors or security headers, so no request is allowed to come near it:
the longest wait Tessera itself allows is SQLite's busy timeout (SQLITE_BUSY_TIMEOUT_MS, 15 s)
and every outbound fetch ends within 2 s (app/services/outbound.py). 30 s is twice that
budget: a kill means a bug or a stuck database, not a slow client's server.

``logger_class`` redacts tokens, codes and secrets from the access and error logs (LG-01); it
is set here so that any gunicorn started with this file logs safely, with or without the flag.
``make run`` leaves the access log off: Tessera's request log (app/request_log.py) writes one
line per request with more in it, and two lines per request would only add noise. The error
log, which may quote a URL, still passes through this logger, as does an access log turned on.

The issuer is logged once at start (``when_ready``, in the arbiter with ``--preload``; by each
worker without it), so a wrong one (``OAUTH_ISSUER``, ``BIND``) shows before a client finds it.
"""

import gc
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

timeout = 30
logger_class = "app.gunicorn_logging.Logger"

# Prometheus multiprocess mode (app/metrics.py): every worker writes its counts to files in
# PROMETHEUS_MULTIPROC_DIR and /metrics sums them. prometheus_client reads the variable once,
# when it is imported, and ``--preload`` imports the app in the arbiter before any server
# hook (``on_starting``) runs, so it is set here, at the top of the config file, which gunicorn
# runs first. An operator's directory is emptied of the last run's counts; without one, a
# private temporary directory is made, and removed at exit.
_METRICS_DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"
_OWN_METRICS_DIRECTORY = "TESSERA_OWN_METRICS_DIR"  # set when this file made the directory


def _fresh_metrics_directory() -> None:
    given = os.environ.get(_METRICS_DIRECTORY)
    if given is None:
        made = tempfile.mkdtemp(prefix="tessera-metrics-")
        os.environ[_METRICS_DIRECTORY] = os.environ[_OWN_METRICS_DIRECTORY] = made
        return
    for stale in Path(given).glob("*.db"):
        stale.unlink()


_fresh_metrics_directory()


def child_exit(server: Any, worker: Any) -> None:
    """A worker's counts stay (its files are summed); only its live gauges go."""
    if "prometheus_client" in sys.modules:  # counting is on (METRICS_TOKEN)
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def on_exit(server: Any) -> None:
    own = os.environ.get(_OWN_METRICS_DIRECTORY)
    if own and own == os.environ.get(_METRICS_DIRECTORY):
        shutil.rmtree(own, ignore_errors=True)


def pre_fork(server: object, worker: object) -> None:
    """Keep the app the arbiter built (``--preload``) out of the workers' garbage collections.

    A collection writes to the header of every object it visits, so the first full one in a
    worker copied most of the arbiter's heap into it. Frozen objects are never visited; they
    live as long as the app does anyway.
    """
    gc.collect()
    gc.freeze()


def when_ready(server: Any) -> None:
    """Log the issuer once, from the app the arbiter preloaded."""
    if server.cfg.preload_app:
        _log_issuer(server.log, server.app.wsgi())


def post_worker_init(worker: Any) -> None:
    """Without ``--preload`` only the workers build the app: each logs the issuer."""
    if not worker.cfg.preload_app:
        _log_issuer(worker.log, worker.wsgi)


def _log_issuer(log: Any, app: Any) -> None:
    """Only for Tessera: `make bench` serves its bare Flask yardstick with this file too."""
    from app.settings import EXTENSION_KEY, settings

    if EXTENSION_KEY in getattr(app, "extensions", {}):
        log.info("Tessera's issuer: %s", settings(app).oauth_issuer)
