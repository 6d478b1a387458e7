"""Write docs/dashboard.svg: the layout of the dashboard that ``add_monitoring()`` synthesizes.

A CloudWatch dashboard cannot be screenshotted offline, so this draws the synthesized
``DashboardBody`` itself: each widget where CloudWatch places it (24 columns), its title, and
the legend of what it plots (the metrics' labels, right-axis ones marked). Run ``make docs``
after changing the monitoring; ``tests/test_docs.py`` fails while the file is stale.
"""

from __future__ import annotations

import json
import sys
from html import escape
from pathlib import Path
from typing import Any

from aws_cdk import App
from aws_cdk.assertions import Template

from idempotent_workflows.examples import IdempotentWorkflowStack

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "docs" / "dashboard.svg"
#: Pixels per dashboard column and per height unit.
COLUMN, ROW = 40, 36
MARGIN, LINE = 8, 16
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd")


def synthesized() -> tuple[dict[str, Any], list[str]]:
    """The dashboard body of the demo workflow with monitoring, and its alarms' ids in order.

    Tokens (ARNs of the alarms and the state machine) are written as ``TOKEN``.
    """
    app = App(context=json.loads((ROOT / "cdk.json").read_text())["context"])
    stack = IdempotentWorkflowStack(app, "Orders")
    monitoring = stack.workflow.add_monitoring()
    (dashboard,) = Template.from_stack(stack).find_resources("AWS::CloudWatch::Dashboard").values()
    parts = dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]
    body = json.loads("".join(part if isinstance(part, str) else "TOKEN" for part in parts))
    return body, list(monitoring.alarms)


def _legend(widget: dict[str, Any], alarms: list[str]) -> list[tuple[str, bool]]:
    """What a widget shows, line by line: (label, on the right axis)."""
    properties = widget["properties"]
    if widget["type"] == "alarm":
        return [(f"[ OK ]  {name}", False) for name in alarms]
    if widget["type"] == "text":
        return [(line.lstrip("# "), False) for line in properties["markdown"].splitlines()[1:]]
    lines = []
    for metric in properties.get("metrics", []):
        options = metric[-1] if isinstance(metric[-1], dict) else {}
        if options.get("visible") is False:
            continue
        label = options.get("label") or options.get("expression") or metric[1]
        lines.append((label, options.get("yAxis") == "right"))
    return lines


def render() -> str:
    """The SVG document."""
    body, alarms = synthesized()
    widgets = body["widgets"]
    width = 24 * COLUMN
    height = max(w["y"] + w["height"] for w in widgets) * ROW + 2 * LINE
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="#f4f4f4"/>',
        f'<text x="{MARGIN}" y="{height - LINE // 2}" fill="#555">Layout of the dashboard '
        "add_monitoring() synthesizes (docs/dashboard.py draws its DashboardBody; not a "
        "screenshot)</text>",
    ]
    for widget in widgets:
        x, y = widget["x"] * COLUMN + MARGIN // 2, widget["y"] * ROW + MARGIN // 2
        w, h = widget["width"] * COLUMN - MARGIN, widget["height"] * ROW - MARGIN
        title = widget["properties"].get("title") or (
            widget["properties"].get("markdown", "").splitlines()[0].lstrip("# ")
        )
        out.append(f'<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="white" stroke="#ccc"/>')
        out.append(
            f'<text x="{x + MARGIN}" y="{y + LINE + 2}" font-weight="bold">{escape(title)}</text>'
        )
        for n, (label, right) in enumerate(_legend(widget, alarms)):
            top = y + LINE * (n + 2) + 4
            color = COLORS[n % len(COLORS)] if widget["type"] == "metric" else "#2ca02c"
            if widget["type"] != "text":
                out.append(
                    f'<rect x="{x + MARGIN}" y="{top - 9}" width="10" height="10" fill="{color}"/>'
                )
            suffix = " (right axis)" if right else ""
            out.append(f'<text x="{x + MARGIN + 16}" y="{top}">{escape(label + suffix)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    TARGET.write_text(render())
    print(f"wrote {TARGET.relative_to(ROOT)}", file=sys.stderr)
