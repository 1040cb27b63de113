"""The admin's activity charts in chromium: the server-drawn SVG shows, styled by the site
stylesheet, with no CSP violation and no script; a failed sign-in appears on today's bar."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.test_admin_console import sign_in_as_admin
from tests.live import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.live]

CHARTS = ("chart-refresh-tokens", "chart-api-calls", "chart-authorizations",
          "chart-sign-in-failures")  # fmt: skip


def test_activity_charts_render_under_the_csp(
    live_server: LiveServer, cli_env: dict[str, str], browser: Any
) -> None:
    context = browser.new_context(viewport={"width": 1000, "height": 900})
    # Before any page's own code: collect every CSP violation of every load.
    context.add_init_script(
        "window.__violations = [];"
        "document.addEventListener('securitypolicyviolation',"
        " e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI))"
    )
    page = context.new_page()
    messages: list[str] = []
    page.on("console", lambda message: messages.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: messages.append(f"pageerror: {error}"))
    page.goto(f"{live_server.url}/login")
    page.get_by_label("Username").fill("nobody")
    page.get_by_label("Password").fill("wrong password!")
    page.get_by_role("button", name="Sign in").click()
    sign_in_as_admin(page, live_server, cli_env)
    page.get_by_role("link", name="Admin").click()
    page.get_by_role("link", name="Activity").click()
    page.get_by_role("heading", name="Activity, last 30 days").wait_for()
    for chart_id in CHARTS:
        chart = page.locator(f"svg#{chart_id}")
        box = chart.bounding_box()
        assert box and box["width"] > 300 and box["height"] > 100, chart_id
        assert chart.locator("rect.chart-bar").count() == 30
        assert page.get_by_role("img", name=chart.get_attribute("aria-label")).count() == 1
    failures = page.locator("svg#chart-sign-in-failures rect.chart-bar").last
    assert failures.get_attribute("data-count") == "1"
    bar = failures.bounding_box()
    assert bar and bar["height"] > 50  # the only non-zero day reaches the top
    # The stylesheet's class colours the bars (the accent), not only the fallback attribute.
    accent = page.evaluate(
        "getComputedStyle(document.documentElement).getPropertyValue('--accent').trim()"
    )
    fill = failures.evaluate("e => getComputedStyle(e).fill")
    assert accent and fill == page.evaluate(
        "c => { const e = document.createElement('i'); e.style.color = c;"
        " document.body.append(e); const v = getComputedStyle(e).color; e.remove(); return v; }",
        accent,
    )
    violations = page.evaluate("window.__violations")
    page.set_viewport_size({"width": 360, "height": 740})
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    context.close()
    assert violations == []
    assert not [m for m in messages if "Content Security Policy" in m or "pageerror" in m]
