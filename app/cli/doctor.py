"""``flask --app wsgi doctor``: check this deployment against the documented rules."""

from __future__ import annotations

import json
from dataclasses import asdict

import click
from flask.cli import with_appcontext

from app.services import doctor


@click.command("doctor")
@with_appcontext
@click.option(
    "--workers",
    type=click.IntRange(1, 10_000),
    envvar="WEB_CONCURRENCY",
    default=1,
    show_default=True,
    help="gunicorn workers per host (default: $WEB_CONCURRENCY, else 1).",
)
@click.option(
    "--hosts",
    type=click.IntRange(1, 10_000),
    default=1,
    show_default=True,
    help="Hosts serving this configuration.",
)
@click.option("--json", "as_json", is_flag=True, help="A JSON list of {check, status, message}.")
def doctor_command(workers: int, hosts: int, as_json: bool) -> None:
    """One line per check: ok, warn or error. Exits 1 if any check is an error."""
    findings = doctor.run(doctor.Deployment(workers=workers, hosts=hosts))
    if as_json:
        click.echo(json.dumps([asdict(finding) for finding in findings], indent=2))
    else:
        width = max(len(finding.check) for finding in findings)
        for finding in findings:
            click.echo(f"{finding.status:<5}  {finding.check:<{width}}  {finding.message}")
    if any(finding.status == doctor.ERROR for finding in findings):
        raise SystemExit(1)
