"""Adoption reports from the central registry: matrix, counts by catalog group, timeline, ledger status.

`build` collects the data in plain Python (what runs now follows `ledger.current_state`: the last successful
deploy or upgrade per region, app and host that no successful removal followed); `render_html` draws one
self-contained, printable HTML file (inline CSS and SVG, no scripts, fonts or URLs; everything escaped by
Jinja2's autoescaping); `render_csv` writes the matrix and `render_json` everything.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from regionkit import __version__
from regionkit.audit import ledger as ledger_mod
from regionkit.audit import registry
from regionkit.clock import utc_now

if TYPE_CHECKING:
    from regionkit.catalog.model import Catalog

UNKNOWN_GROUP = "(not in the catalog)"


def build(conn: sqlite3.Connection, catalog: Catalog | None = None,
          generated_at: str | None = None) -> dict[str, Any]:
    """The report's data. `catalog` gives app names and groups."""
    stored = list(registry.entries(conn))
    ledgers = registry.ledgers(conn)
    running = ledger_mod.current_state(stored)

    regions: dict[str, str] = {}
    for row in ledgers:
        regions.setdefault(row["region_code"], row["region_name"])
    first: dict[tuple[str, str], str] = {}
    seen_apps: set[str] = set()
    for e in stored:
        regions.setdefault(e.region_code, e.region_name)
        seen_apps.add(e.app)
        if e.result == "succeeded" and e.action != "removal":
            key = (e.region_code, e.app)
            if key not in first or e.finished < first[key]:
                first[key] = e.finished

    def app_info(app_id: str) -> dict[str, str]:
        item = catalog.apps.get(app_id) if catalog is not None else None
        if catalog is None or item is None:
            return {"id": app_id, "name": app_id, "group": "", "group_name": UNKNOWN_GROUP}
        return {"id": app_id, "name": item.name, "group": item.group, "group_name": catalog.group_name(item.group)}

    group_order = {g.id: i for i, g in enumerate(catalog.groups)} if catalog is not None else {}
    apps = sorted((app_info(a) for a in seen_apps),
                  key=lambda a: (group_order.get(a["group"], len(group_order)), a["id"]))

    versions: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in running.values():
        versions[(r.region_code, r.app)].add(r.version)
    matrix = []
    for code in sorted(regions):
        cells = {a["id"]: ", ".join(sorted(versions[(code, a["id"])])) for a in apps
                 if (code, a["id"]) in versions}
        matrix.append({"region_code": code, "region_name": regions[code], "running": len(cells), "apps": cells})

    regions_per_app = defaultdict(set)
    for (code, app_id) in versions:
        regions_per_app[app_id].add(code)
    app_rows: list[dict[str, Any]] = [{**a, "regions": len(regions_per_app[a["id"]]),
                 "ever_adopted": sum(1 for (_, app_id) in first if app_id == a["id"])} for a in apps]

    groups: dict[str, dict[str, Any]] = {}
    if catalog is not None:
        for g in catalog.groups:
            groups[g.id] = {"group": g.id, "name": g.name, "catalog_apps": 0, "apps_adopted": 0, "adoptions": 0}
        for catalog_app in catalog.apps.values():
            groups[catalog_app.group]["catalog_apps"] += 1
    for a in app_rows:
        group_id = a["group"] or UNKNOWN_GROUP
        group = groups.setdefault(group_id, {"group": a["group"], "name": a["group_name"], "catalog_apps": 0,
                                        "apps_adopted": 0, "adoptions": 0})
        if a["regions"]:
            group["apps_adopted"] += 1
            group["adoptions"] += a["regions"]

    timeline = [{"region_code": code, "region_name": regions[code], "app": app_id, "first_deployed": when}
                for (code, app_id), when in sorted(first.items(), key=lambda kv: (kv[1], kv[0]))]
    per_month: dict[str, int] = defaultdict(int)
    for item in timeline:
        per_month[item["first_deployed"][:7]] += 1
    months, total = [], 0
    for month in _month_range(min(per_month), max(per_month)) if per_month else []:
        total += per_month.get(month, 0)
        months.append({"month": month, "adoptions": per_month.get(month, 0), "cumulative": total})

    return {
        "generated_at": generated_at or utc_now(),
        "summary": {"ledgers": len(ledgers), "regions": len(regions), "entries": len(stored),
                    "apps_adopted": sum(1 for a in app_rows if a["regions"]),
                    "adoptions": len(versions), "first_deployments": len(first)},
        "apps": app_rows,
        "matrix": matrix,
        "groups": list(groups.values()),
        "timeline": timeline,
        "timeline_by_month": months,
        "ledgers": [{k: v for k, v in row.items() if k != "id"} for row in ledgers],
    }


def _month_range(start: str, end: str) -> list[str]:
    year, month = int(start[:4]), int(start[5:7])
    months = []
    while f"{year:04d}-{month:02d}" <= end:
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def render_json(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def render_csv(data: dict[str, Any]) -> str:
    """The adoption matrix: one row per region, one column per app (the version running, else empty)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["region_code", "region_name", *[a["id"] for a in data["apps"]]])
    for row in data["matrix"]:
        writer.writerow([row["region_code"], row["region_name"], *[row["apps"].get(a["id"], "")
                                                                    for a in data["apps"]]])
    return out.getvalue()


def timeline_svg(months: list[dict[str, Any]], width: int = 960, height: int = 280) -> dict[str, Any]:
    """Geometry of the timeline chart: bars of new adoptions per month and a line of the running total."""
    left, right, top, bottom = 56, 56, 16, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    chart: dict[str, Any] = {"width": width, "height": height, "left": left, "top": top, "plot_w": plot_w,
                             "plot_h": plot_h, "bottom_y": top + plot_h, "bars": [], "labels": [], "ticks": [],
                             "points": ""}
    if not months:
        return chart
    peak = max(m["adoptions"] for m in months) or 1
    total = months[-1]["cumulative"] or 1
    step = plot_w / len(months)
    every = max(1, round(len(months) / 12))
    points = []
    for i, m in enumerate(months):
        h = plot_h * m["adoptions"] / peak
        x = left + i * step
        chart["bars"].append({"x": round(x + step * 0.15, 1), "y": round(top + plot_h - h, 1),
                              "w": round(max(step * 0.7, 1), 1), "h": round(h, 1),
                              "title": f"{m['month']}: {m['adoptions']} new, {m['cumulative']} in all"})
        points.append(f"{x + step / 2:.1f},{top + plot_h - plot_h * m['cumulative'] / total:.1f}")
        if i % every == 0:
            chart["labels"].append({"x": round(x + step / 2, 1), "text": m["month"]})
    chart["points"] = " ".join(points)
    for fraction in (0, 0.5, 1):
        y = round(top + plot_h - plot_h * fraction, 1)
        chart["ticks"].append({"y": y, "left": _tick(peak * fraction), "right": _tick(total * fraction)})
    return chart


def _tick(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.1f}"


_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{ title }}</title>
<style>
  @page { size: A4 landscape; margin: 12mm; }
  body { font-family: "Helvetica Neue", Arial, sans-serif; color: #111; margin: 24px; font-size: 13px; }
  h1 { font-size: 22px; margin: 0 0 4px; }
  h2 { font-size: 16px; margin: 28px 0 8px; border-bottom: 2px solid #333; padding-bottom: 3px; }
  .meta { color: #444; margin: 0 0 14px; }
  .summary { display: flex; flex-wrap: wrap; gap: 10px; margin: 12px 0; }
  .summary div { border: 1px solid #999; padding: 6px 12px; min-width: 110px; }
  .summary b { display: block; font-size: 20px; }
  table { border-collapse: collapse; margin: 6px 0 12px; }
  th, td { border: 1px solid #999; padding: 3px 6px; text-align: left; vertical-align: middle; }
  th { background: #e8e8e8; }
  td.num, th.num { text-align: right; }
  .mono { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 11px; }
  table.matrix { font-size: 10px; }
  table.matrix th.app { writing-mode: vertical-rl; transform: rotate(180deg); white-space: nowrap;
                        padding: 4px 2px; font-weight: normal; }
  table.matrix td.cell { text-align: center; white-space: nowrap; }
  table.matrix td.run { background: #dff0d8; }
  .ok { color: #1a6b1a; font-weight: bold; }
  .bad { color: #a00; font-weight: bold; }
  svg text { font-family: Arial, sans-serif; font-size: 11px; fill: #222; }
  .note { color: #444; font-size: 12px; }
  @media print {
    body { margin: 0; font-size: 10pt; }
    h2 { break-after: avoid; page-break-after: avoid; }
    thead { display: table-header-group; }
    tr, .summary, svg { break-inside: avoid; page-break-inside: avoid; }
    th { background: #e8e8e8 !important; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
    table.matrix td.run { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
    section.matrix { break-before: page; page-break-before: always; }
  }
</style>
</head>
<body>
<h1>{{ title }}</h1>
<p class="meta">Generated {{ d.generated_at }} (UTC) from {{ source }} by regionkit {{ kit_version }}.
Current state: per region, app and host, the last successful deploy or upgrade that no successful removal
followed.</p>

<div class="summary">
  <div><b>{{ d.summary.regions }}</b>regions</div>
  <div><b>{{ d.summary.ledgers }}</b>ledgers verified</div>
  <div><b>{{ d.summary.entries }}</b>ledger entries</div>
  <div><b>{{ d.summary.apps_adopted }}</b>apps in use</div>
  <div><b>{{ d.summary.adoptions }}</b>adoptions now (region &times; app)</div>
  <div><b>{{ d.summary.first_deployments }}</b>first deployments ever</div>
</div>

<h2>Adoption by catalog group</h2>
<table>
  <thead><tr><th>group</th><th class="num">apps in catalog</th><th class="num">apps in use</th>
  <th class="num">adoptions now (region &times; app)</th></tr></thead>
  <tbody>
  {% for g in d.groups %}<tr><td>{{ g.name }}</td><td class="num">{{ g.catalog_apps }}</td>
  <td class="num">{{ g.apps_adopted }}</td><td class="num">{{ g.adoptions }}</td></tr>
  {% endfor %}</tbody>
</table>

<h2>Timeline of adoptions</h2>
<p class="note">First successful deployment of each app in each region, per month (bars, left scale) and in all
(line, right scale).</p>
{% if d.timeline_by_month %}
<svg width="{{ c.width }}" height="{{ c.height }}"
     viewBox="0 0 {{ c.width }} {{ c.height }}" role="img" aria-label="adoptions per month">
  <rect x="{{ c.left }}" y="{{ c.top }}" width="{{ c.plot_w }}" height="{{ c.plot_h }}" fill="none" stroke="#999"/>
  {% for t in c.ticks %}
  <line x1="{{ c.left }}" x2="{{ c.left + c.plot_w }}" y1="{{ t.y }}" y2="{{ t.y }}" stroke="#ddd"/>
  <text x="{{ c.left - 6 }}" y="{{ t.y + 4 }}" text-anchor="end">{{ t.left }}</text>
  <text x="{{ c.left + c.plot_w + 6 }}" y="{{ t.y + 4 }}">{{ t.right }}</text>
  {% endfor %}
  {% for b in c.bars %}<rect x="{{ b.x }}" y="{{ b.y }}" width="{{ b.w }}" height="{{ b.h }}" fill="#4a78b5">{#
  #}<title>{{ b.title }}</title></rect>
  {% endfor %}
  <polyline points="{{ c.points }}" fill="none" stroke="#c0392b" stroke-width="2"/>
  {% for l in c.labels %}<text x="{{ l.x }}" y="{{ c.bottom_y + 16 }}" text-anchor="middle">{{ l.text }}</text>
  {% endfor %}
  <text x="{{ c.left }}" y="{{ c.height - 6 }}">month of first deployment (UTC)</text>
  <rect x="{{ c.left + c.plot_w - 330 }}" y="{{ c.height - 16 }}" width="12" height="10" fill="#4a78b5"/>
  <text x="{{ c.left + c.plot_w - 314 }}" y="{{ c.height - 7 }}">new adoptions (left scale)</text>
  <line x1="{{ c.left + c.plot_w - 160 }}" x2="{{ c.left + c.plot_w - 144 }}" y1="{{ c.height - 11 }}"
        y2="{{ c.height - 11 }}" stroke="#c0392b" stroke-width="2"/>
  <text x="{{ c.left + c.plot_w - 140 }}" y="{{ c.height - 7 }}">in all (right scale)</text>
</svg>
<table>
  <thead><tr><th>month</th><th class="num">new adoptions</th><th class="num">in all</th></tr></thead>
  <tbody>
  {% for m in d.timeline_by_month %}<tr><td>{{ m.month }}</td><td class="num">{{ m.adoptions }}</td>
  <td class="num">{{ m.cumulative }}</td></tr>
  {% endfor %}</tbody>
</table>
{% else %}<p>No deployment recorded.</p>{% endif %}

<h2>Verification of the imported ledgers</h2>
<table>
  <thead><tr><th>region</th><th>name</th><th>status</th><th class="num">entries</th><th>head (seq, sha256)</th>
  <th>verified at (UTC)</th><th>source</th></tr></thead>
  <tbody>
  {% for l in d.ledgers %}<tr><td class="mono">{{ l.region_code }}</td><td>{{ l.region_name }}</td>
  <td class="{{ 'ok' if l.status == 'verified' else 'bad' }}">{{ l.status }}</td><td class="num">{{ l.entries }}</td>
  <td class="mono">{{ l.head_seq }} {{ l.head_hash }}</td><td>{{ l.verified_at }}</td>
  <td class="mono">{{ l.source }}</td></tr>
  {% endfor %}</tbody>
</table>

<h2>Regions per app</h2>
<table>
  <thead><tr><th>app</th><th>name</th><th>group</th><th class="num">regions running it now</th>
  <th class="num">regions that ever deployed it</th></tr></thead>
  <tbody>
  {% for a in d.apps %}<tr><td class="mono">{{ a.id }}</td><td>{{ a.name }}</td><td>{{ a.group_name }}</td>
  <td class="num">{{ a.regions }}</td><td class="num">{{ a.ever_adopted }}</td></tr>
  {% endfor %}</tbody>
</table>

<section class="matrix">
<h2>Adoption matrix: the version each region runs now</h2>
<table class="matrix">
  <thead><tr><th>region</th><th>name</th><th class="num">apps</th>
  {% for a in d.apps %}<th class="app" title="{{ a.name }}">{{ a.id }}</th>{% endfor %}</tr></thead>
  <tbody>
  {% for r in d.matrix %}<tr><td class="mono">{{ r.region_code }}</td><td>{{ r.region_name }}</td>
  <td class="num">{{ r.running }}</td>
  {% for a in d.apps %}{% set v = r.apps.get(a.id) %}<td class="cell{{ ' run' if v }}">{{ v or '' }}</td>{% endfor %}
  </tr>
  {% endfor %}</tbody>
</table>
</section>
</body>
</html>
"""


def render_html(data: dict[str, Any], source: str, title: str = "Adoption report: regional apps") -> str:
    from jinja2 import Environment, StrictUndefined

    env = Environment(autoescape=True, undefined=StrictUndefined, trim_blocks=False)
    return env.from_string(_TEMPLATE).render(d=data, c=timeline_svg(data["timeline_by_month"]), source=source,
                                             title=title, kit_version=__version__)
