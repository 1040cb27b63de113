"""Markdown for bench/results/: one table per database, the flows, memory, and the targets."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bench.flows import FlowResult
from bench.scenarios import FLOWS_TARGET, FLOWS_TARGET_POSTGRES, P99_TARGET_MS, PSS_TARGET_MIB
from bench.wrk import Result


@dataclass
class Section:
    """Everything measured on one database."""

    database: str
    baseline: Result
    results: list[Result]
    flows: FlowResult | None = None
    pss_mib: list[float] = field(default_factory=list)
    load_average: float = field(default_factory=lambda: os.getloadavg()[0])


def verdict(met: bool) -> str:
    return "met" if met else "**missed**"


def ms(value: float | None) -> str:
    if value is None:
        return "–"
    return "–" if math.isnan(value) else f"{value:.2f}"


def scenario_target(result: Result, baseline: Result) -> tuple[str, bool | None]:
    """The scenario's target in words and whether it was met (None: no target)."""
    if result.target_ratio is None:
        return "", None
    ratio = result.requests_per_second / baseline.requests_per_second
    met = ratio >= result.target_ratio and result.p99_ms < P99_TARGET_MS and result.errors == 0
    return f"≥ {result.target_ratio:.0%} of bare, p99 < {P99_TARGET_MS:.0f} ms", met


def section_table(section: Section) -> list[str]:
    base = section.baseline
    lines = [
        f"## {section.database}",
        "",
        f"Load average (1 min) as this pass began: {section.load_average:.1f} on "
        f"{os.cpu_count()} cores; other work on the machine lowers every figure, the ratios "
        "least.",
        "",
        "| scenario | req/s | ratio to bare | p50 ms | p99 ms | errors | app CPU ms/req "
        "| db CPU ms/req | target | |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for result in [base, *section.results]:
        ratio = result.requests_per_second / base.requests_per_second
        target, met = scenario_target(result, base)
        lines.append(
            f"| {result.name} | {result.requests_per_second:,.0f} | {ratio:.0%} | "
            f"{ms(result.p50_ms)} | {ms(result.p99_ms)} | {result.errors} | "
            f"{ms(result.app_cpu_ms)} | {ms(result.db_cpu_ms)} | {target} | "
            f"{'' if met is None else verdict(met)} |"
        )
    notes = [f"{r.name}: {r.notes}" for r in section.results if r.notes]
    lines += [""] + [f"Note: {note}" for note in notes] + ([""] if notes else [])
    if section.flows is not None:
        lines += flows_table(section.flows)
    if section.pss_mib:
        sizes = ", ".join(f"{size:.1f}" for size in section.pss_mib)
        met = max(section.pss_mib) <= PSS_TARGET_MIB
        lines += [
            f"Worker memory after the load (PSS, /proc/PID/smaps_rollup): {sizes} MiB "
            f"(target ≤ {PSS_TARGET_MIB:.0f} MiB per worker: {verdict(met)}).",
            "",
        ]
    return lines


def flows_table(flows: FlowResult) -> list[str]:
    target = FLOWS_TARGET if flows.db_cpu_ms is None else FLOWS_TARGET_POSTGRES  # PG: db CPU
    met = flows.flows_per_second >= target and flows.errors == 0
    lines = [
        "Authorization code + PKCE flows (GET+POST /login with argon2, GET /authorize, "
        "POST consent, POST /token, GET /api/v1/photos):",
        "",
        "| flows/s | p50 ms/flow | p99 ms/flow | flows | errors | app CPU ms/flow "
        "| db CPU ms/flow | target | |",
        "|---:|---:|---:|---:|---:|---:|---:|---|---|",
        f"| {flows.flows_per_second:.1f} | {ms(flows.p50_ms)} | {ms(flows.p99_ms)} | "
        f"{flows.flows} | {flows.errors} | {ms(flows.app_cpu_ms)} | {ms(flows.db_cpu_ms)} | "
        f"≥ {target:.0f} flows/s | {verdict(met)} |",
        "",
        "p50 per step (ms, as the driver sees it): "
        + ", ".join(f"{step} {ms(value)}" for step, value in flows.step_p50_ms.items())
        + ".",
        "",
    ]
    lines += [f"Flow error: {sample}" for sample in flows.error_samples]
    return lines + ([""] if flows.error_samples else [])


def document(title: str, preamble: list[str], sections: list[Section], skipped: str) -> str:
    lines = [f"# {title} ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)", "", *preamble, ""]
    for section in sections:
        lines += section_table(section)
    if skipped:
        lines += [f"Not run: {skipped}.", ""]
    return "\n".join(lines).rstrip() + "\n"
