"""/admin/activity: per-day charts of the last 30 days, drawn as SVG on the server."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue
from markupsafe import Markup

from app.admin.access import ADMIN_PAGES, admin_required
from app.admin.charts import bar_chart
from app.route_policy import declare
from app.services import stats

bp = declare(Blueprint("admin_activity", __name__, url_prefix="/admin"), *ADMIN_PAGES)


def client_charts(client_id: str) -> list[Markup]:
    """The charts of one client's page: refresh tokens issued and API calls."""
    return [
        bar_chart(stats.refresh_tokens_issued(client_id), "chart-refresh-tokens"),
        bar_chart(stats.api_calls(client_id), "chart-api-calls"),
    ]


@bp.get("/activity")
@admin_required
def index() -> ResponseReturnValue:
    """Every client together, per day, and each client's 30-day totals."""
    charts = [
        bar_chart(stats.refresh_tokens_issued(), "chart-refresh-tokens"),
        bar_chart(stats.api_calls(), "chart-api-calls"),
        bar_chart(stats.authorizations_granted(), "chart-authorizations"),
        bar_chart(stats.sign_in_failures(), "chart-sign-in-failures"),
    ]
    return render_template(
        "admin/activity.html",
        charts=charts,
        clients=stats.per_client_totals(),
        days=stats.DAYS,
        section="activity",
    )
