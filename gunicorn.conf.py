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
from typing import Any

timeout = 30
logger_class = "app.gunicorn_logging.Logger"


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
    from app.settings import settings

    log.info("Tessera's issuer: %s", settings(app).oauth_issuer)
