"""Liveness probe for load balancers: ``/healthz`` answers 200 when the database answers."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import text

from app.extensions import db
from app.route_policy import declare, json_errors, no_rate_limit

bp = declare(Blueprint("health", __name__), json_errors)


@bp.get("/healthz")
@no_rate_limit("the load balancers' probe: one SELECT 1")
def healthz() -> ResponseReturnValue:
    """200 ``{"status": "ok"}`` when the database answers; 503 JSON otherwise."""
    db.session.execute(text("SELECT 1"))
    return jsonify(status="ok")
