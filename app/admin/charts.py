"""Bar charts as inline SVG, drawn on the server: no JavaScript, nothing from another origin.

The page's CSP (``default-src 'self'``) blocks ``style=`` attributes and ``<style>`` elements,
so colours come from the site stylesheet's ``.chart*`` classes, with SVG presentation
attributes (``fill``, ``stroke``) as the fallback. Each day is one ``<rect class="chart-bar">``
with a ``<title>`` (the tooltip) and ``data-day`` / ``data-count``; the whole chart is
``role="img"`` with an ``aria-label`` that states the total and the busiest day.
"""

from __future__ import annotations

from markupsafe import Markup, escape

from app.services.stats import Series

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 28, 34
LABEL_EVERY = 7


def _plural(unit: str, count: int) -> str:
    return unit if count == 1 else f"{unit}s"


def summary(series: Series) -> str:
    """One sentence for screen readers: period, total and the busiest day."""
    first, last = series.days[0], series.days[-1]
    text = (
        f"{series.title}, {first.isoformat()} to {last.isoformat()} (UTC): "
        f"{series.total} {_plural(series.unit, series.total)} in all"
    )
    if series.total:
        peak = max(series.counts)
        day = series.days[series.counts.index(peak)]
        text += f", most on {day.isoformat()} ({peak})"
    return text + "."


def bar_chart(series: Series, chart_id: str) -> Markup:
    """The SVG for ``series``; ``chart_id`` makes its element ids unique on the page."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    n = len(series.counts)
    step = plot_w / n
    bar_w = max(step * 0.75, 1.0)
    top = max(series.counts, default=0) or 1
    base = TOP + plot_h
    cid = escape(chart_id)
    out = [
        f'<svg class="chart" id="{cid}" role="img" aria-label="{escape(summary(series))}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(series.title)}</title>",
        f'<text class="chart-title" x="{LEFT}" y="18" font-size="14" font-weight="600" '
        f'fill="currentColor">{escape(series.title)}</text>',
        # The y axis: zero and the largest count.
        f'<line class="chart-axis" x1="{LEFT}" y1="{base}" x2="{WIDTH - RIGHT}" y2="{base}" '
        f'stroke="#808890" stroke-width="1"/>',
        f'<line class="chart-grid" x1="{LEFT}" y1="{TOP}" x2="{WIDTH - RIGHT}" y2="{TOP}" '
        f'stroke="#808890" stroke-width="0.5" stroke-dasharray="3 3"/>',
        f'<text class="chart-label" x="{LEFT - 6}" y="{base + 4}" text-anchor="end" '
        f'font-size="11" fill="currentColor">0</text>',
        f'<text class="chart-label chart-max" x="{LEFT - 6}" y="{TOP + 4}" text-anchor="end" '
        f'font-size="11" fill="currentColor">{top}</text>',
    ]
    for i, (day, count) in enumerate(zip(series.days, series.counts, strict=True)):
        height = plot_h * count / top
        x = LEFT + i * step + (step - bar_w) / 2
        tip = f"{day.isoformat()}: {count} {_plural(series.unit, count)}"
        out.append(
            f'<rect class="chart-bar" x="{x:.1f}" y="{base - height:.1f}" width="{bar_w:.1f}" '
            f'height="{height:.1f}" fill="#1a56b0" data-day="{day.isoformat()}" '
            f'data-count="{count}"><title>{escape(tip)}</title></rect>'
        )
        if (n - 1 - i) % LABEL_EVERY == 0:  # today, and every week back from it
            out.append(
                f'<text class="chart-label" x="{LEFT + i * step + step / 2:.1f}" '
                f'y="{base + 16}" text-anchor="middle" font-size="11" '
                f'fill="currentColor">{day.strftime("%m-%d")}</text>'
            )
    out.append("</svg>")
    # Every interpolated text went through escape(); the rest is numbers and fixed markup.
    return Markup("".join(out))  # noqa: S704
