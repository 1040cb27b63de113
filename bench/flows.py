"""The whole authorization code + PKCE flow over HTTP, as a browser and a client app do it.

One flow: GET /login, POST /login (argon2 sign-in, CSRF token from the form), GET /authorize
(the consent page: ``prompt=consent`` and a different seeded user each time), POST the
consent form ("Allow"), read the code from the 303 to the redirect URI (nothing listens
there), POST /token (client_secret_basic + code_verifier), and one GET /api/v1/photos.

N worker processes, each with its own requests.Session per flow, run flows back to back for
a fixed time; flows/s, p50/p99 per flow and errors come back to the parent.
"""

from __future__ import annotations

import base64
import hashlib
import html
import math
import multiprocessing
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from bench.databases import Database, db_cpu_seconds
from bench.servers import Server

TIMEOUT = 15
MAX_FLOWS_PER_WORKER = 100_000  # a bound on the loop besides the clock
CSRF = re.compile(r'name="csrf_token"[^>]*?value="([^"]+)"')
TICKET = re.compile(r'name="consent_ticket" value="([^"]+)"')
GRANTED = re.compile(r'name="granted_scope" value="([^"]+)"')
ACTION = re.compile(r'<form method="post" action="(/authorize[^"]*)"')


class FlowError(Exception):
    """A step answered something a browser or client would not go on from."""


@dataclass(frozen=True)
class Plan:
    base_url: str
    client_id: str
    client_secret: str
    redirect_uri: str
    scope: str
    password: str
    users: tuple[str, ...]
    duration: float


@dataclass(frozen=True)
class FlowResult:
    flows_per_second: float
    p50_ms: float
    p99_ms: float
    flows: int
    errors: int
    app_cpu_ms: float  # per flow
    db_cpu_ms: float | None
    error_samples: tuple[str, ...]
    step_p50_ms: dict[str, float]


STEPS = ("GET /login", "POST /login", "GET /authorize", "POST consent", "POST /token",
         "GET /api/v1/photos")  # fmt: skip


class Timed:
    """Sends a flow's requests, times each step, and stops at the first unexpected status."""

    def __init__(self) -> None:
        self.ms: dict[str, float] = {}

    def call(
        self, step: str, status: int, send: Callable[..., requests.Response], *args: Any,
        **kwargs: Any,
    ) -> requests.Response:  # fmt: skip
        started = time.perf_counter()
        response = send(*args, allow_redirects=False, timeout=TIMEOUT, **kwargs)
        self.ms[step] = (time.perf_counter() - started) * 1000
        if response.status_code != status:
            raise FlowError(f"{step}: {response.status_code} (expected {status})")
        return response


def _find(pattern: re.Pattern[str], text: str, what: str) -> str:
    match = pattern.search(text)
    if match is None:
        raise FlowError(f"no {what} in the page")
    return html.unescape(match.group(1))


def one_flow(plan: Plan, username: str) -> dict[str, float]:
    """Run one flow for ``username``; return ms per step; raise FlowError at the first
    unexpected answer."""
    base, timed = plan.base_url, Timed()
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    state = secrets.token_urlsafe(12)
    authorize = "/authorize?" + urlencode({
        "response_type": "code", "client_id": plan.client_id, "redirect_uri": plan.redirect_uri,
        "scope": plan.scope, "state": state, "nonce": secrets.token_urlsafe(12),
        "code_challenge": challenge.rstrip(b"=").decode(), "code_challenge_method": "S256",
        "prompt": "consent",
    })  # fmt: skip
    with requests.Session() as browser:
        login = base + "/login?" + urlencode({"next": authorize})
        page = timed.call("GET /login", 200, browser.get, login).text
        form = {"username": username, "password": plan.password,
                "csrf_token": _find(CSRF, page, "CSRF token")}  # fmt: skip
        location = timed.call("POST /login", 303, browser.post, login, data=form).headers[
            "Location"
        ]
        page = timed.call("GET /authorize", 200, browser.get, base + location).text
        consent = {
            "csrf_token": _find(CSRF, page, "CSRF token"),
            "consent_ticket": _find(TICKET, page, "consent ticket"),
            "granted_scope": GRANTED.findall(page),
            "decision": "allow",
        }
        action = base + _find(ACTION, page, "consent form (action /authorize)")
        back = timed.call("POST consent", 303, browser.post, action, data=consent).headers[
            "Location"
        ]
    if not back.startswith(plan.redirect_uri + "?"):
        raise FlowError(f"consent redirected to {back[:80]!r}")
    answer = parse_qs(urlsplit(back).query)
    if answer.get("state") != [state] or "code" not in answer or "iss" not in answer:
        raise FlowError(f"authorization response without code, state or iss: {back[:120]!r}")
    token = timed.call(
        "POST /token", 200, requests.post, base + "/token",
        data={"grant_type": "authorization_code", "code": answer["code"][0],
              "redirect_uri": plan.redirect_uri, "code_verifier": verifier},
        auth=(plan.client_id, plan.client_secret),
    )  # fmt: skip
    bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
    timed.call("GET /api/v1/photos", 200, requests.get, base + "/api/v1/photos", headers=bearer)
    return timed.ms


@dataclass
class Outcome:
    """What one driver process saw."""

    latencies: list[float] = field(default_factory=list)  # ms per completed flow
    steps: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STEPS})
    errors: int = 0
    samples: list[str] = field(default_factory=list)


def _worker(plan: Plan) -> Outcome:
    """Flows back to back until plan.duration has passed."""
    deadline = time.monotonic() + plan.duration
    outcome = Outcome()
    for count in range(MAX_FLOWS_PER_WORKER):
        if time.monotonic() >= deadline:
            break
        started = time.perf_counter()
        try:
            steps = one_flow(plan, plan.users[count % len(plan.users)])
        except (FlowError, requests.RequestException, KeyError, ValueError) as exc:
            outcome.errors += 1
            if len(outcome.samples) < 3:
                outcome.samples.append(f"{type(exc).__name__}: {exc}"[:200])
            continue
        outcome.latencies.append((time.perf_counter() - started) * 1000)
        for step, ms in steps.items():
            outcome.steps[step].append(ms)
    return outcome


def run(
    server: Server,
    fixtures: dict[str, Any],
    duration: float,
    processes: int,
    database: Database | None = None,
) -> FlowResult:
    """Drive flows from ``processes`` workers, each with its own slice of the seeded users."""
    users: list[str] = fixtures["flow_users"]
    web = fixtures["web"]
    plans = [
        Plan(server.url, web["client_id"], web["client_secret"], web["redirect_uri"],
             web["scope"], fixtures["password"], tuple(users[index::processes]), duration)
        for index in range(processes)
    ]  # fmt: skip
    app_before, db_before = server.cpu_seconds(), database.backend_cpu() if database else {}
    started = time.monotonic()
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        outcomes = pool.map(_worker, plans)
    elapsed = time.monotonic() - started
    app_cpu = server.cpu_seconds() - app_before
    db_cpu = db_cpu_seconds(db_before, database.backend_cpu()) if database else 0.0
    latencies = sorted(ms for outcome in outcomes for ms in outcome.latencies)
    flows = len(latencies)
    per_flow = 1000 / flows if flows else math.nan
    return FlowResult(
        flows_per_second=flows / elapsed,
        p50_ms=_percentile(latencies, 0.50),
        p99_ms=_percentile(latencies, 0.99),
        flows=flows,
        errors=sum(outcome.errors for outcome in outcomes),
        app_cpu_ms=app_cpu * per_flow,
        db_cpu_ms=db_cpu * per_flow if database and database.is_postgres else None,
        error_samples=tuple(sample for outcome in outcomes for sample in outcome.samples)[:5],
        step_p50_ms={
            step: _percentile(sorted(ms for o in outcomes for ms in o.steps[step]), 0.50)
            for step in STEPS
        },
    )


def _percentile(sorted_values: list[float], share: float) -> float:
    if not sorted_values:
        return float("nan")
    rank = math.ceil(share * len(sorted_values))  # nearest-rank percentile
    return sorted_values[max(rank, 1) - 1]
