"""Queries over a loaded catalog that the CLI presents: filters, records, details and statistics."""

from __future__ import annotations

import difflib
import statistics
from collections import Counter
from typing import Any

from regionkit.catalog import depgraph
from regionkit.catalog.model import App, Catalog, Kind, UnitSiteApp
from regionkit.errors import InputError, Problem
from regionkit.project.units import STANDARD_OPD, UnitKind
from regionkit.project.wilayah import code_table


def filter_apps(catalog: Catalog, group: str | None = None, kind: str | None = None,
                search: str | None = None) -> list[Any]:
    """Apps matching every given filter, in catalog order. Unknown groups or kinds are input errors."""
    apps = list(catalog.apps.values())
    if group is not None:
        known = [g.id for g in catalog.groups]
        if group not in known:
            close = difflib.get_close_matches(group, known, n=3)
            raise InputError(f"unknown group '{group}'", hint=f"did you mean: {', '.join(close)}?" if close
                             else f"groups: {', '.join(known)}")
        apps = [a for a in apps if a.group == group]
    if kind is not None:
        if kind not in Kind._value2member_map_:
            raise InputError(f"unknown kind '{kind}'", hint=f"kinds: {', '.join(k.value for k in Kind)}")
        apps = [a for a in apps if a.kind == kind]
    if search:
        needle = search.casefold()
        apps = [a for a in apps if needle in " ".join(
            (a.id, a.name, a.summary.en, a.summary.id, a.owner)).casefold()]
    return apps


def app_record(app: App) -> dict:
    return app.model_dump(mode="json")


def problem_record(problem: Problem) -> dict:
    loc = problem.location
    return {"file": str(loc.file) if loc.file else None, "line": loc.line, "column": loc.column,
            "field": loc.field, "message": problem.message}


def dependency_tree(catalog: Catalog, app_id: str, _path: tuple[str, ...] = ()) -> dict:
    """Nested dependencies of one app; a node already on the path is not expanded again."""
    app = catalog.apps[app_id]
    node: dict[str, Any] = {"id": app.id, "name": app.name, "kind": str(app.kind.value), "depends_on": []}
    if app_id not in _path:
        node["depends_on"] = [dependency_tree(catalog, dep, _path + (app_id,)) for dep in app.depends_on]
    return node


def app_details(catalog: Catalog, app: App) -> dict:
    """An app's record plus what it needs (tree and install order) and what needs it."""
    required_by_all = depgraph.closure(catalog.dependents, [app.id])[:-1]
    return {
        **app_record(app),
        "group_name": catalog.group_name(app.group),
        "dependency_tree": dependency_tree(catalog, app.id)["depends_on"],
        "install_order": catalog.closure([app.id]),
        "required_by": catalog.dependents.get(app.id, []),
        "required_by_all": required_by_all,
    }


def catalog_stats(catalog: Catalog) -> dict:
    """Counts by group/subgroup, kind, audience and status; websites per region for each unit-site app."""
    apps = list(catalog.apps.values())
    by_subgroup = Counter((a.group, a.subgroup) for a in apps)
    groups = [{
        "group": g.id, "name": g.name, "apps": sum(by_subgroup[(g.id, s.id)] for s in g.subgroups),
        "subgroups": [{"subgroup": s.id, "name": s.name, "apps": by_subgroup[(g.id, s.id)]} for s in g.subgroups],
    } for g in catalog.groups]
    return {
        "apps": len(apps),
        "by_group": groups,
        "by_kind": {k.value: sum(1 for a in apps if a.kind == k) for k in Kind},
        "by_audience": dict(Counter(a.audience.value for a in apps).most_common()),
        "by_status": dict(Counter(a.status.value for a in apps).most_common()),
        "unit_sites": [_sites_per_region(a) for a in apps if isinstance(a, UnitSiteApp)],
    }


def _sites_per_region(app: UnitSiteApp) -> dict:
    """How many sites one unit-site app makes in a kabupaten/kota, over all 514 in the code table.

    OPD counts come from the standard OPD list and kecamatan from the code table; kelurahan and UPTD are not
    in the table, so they are reported as depending on the region's own unit list.
    """

    kinds = [UnitKind(k) for k in app.unit_kinds]
    record: dict = {"app": app.id, "name": app.name, "unit_kinds": [k.value for k in kinds]}
    if any(k in (UnitKind.KELURAHAN, UnitKind.UPTD) for k in kinds):
        record["sites_per_region"] = None
        record["basis"] = "one site per unit of these kinds in the region's own unit list"
        return record
    table = code_table()
    kecamatan = Counter(d.regency_code for d in table.districts.values())
    counts = [
        (len(STANDARD_OPD) if UnitKind.OPD in kinds else 0)
        + (kecamatan[code] if UnitKind.KECAMATAN in kinds else 0)
        for code in table.regencies
    ]
    record["sites_per_region"] = {"min": min(counts), "median": statistics.median(counts), "max": max(counts),
                                  "regions": len(counts)}
    basis = [f"{len(STANDARD_OPD)} standard OPD"] if UnitKind.OPD in kinds else []
    basis += ["the kecamatan of each kabupaten/kota"] if UnitKind.KECAMATAN in kinds else []
    record["basis"] = " + ".join(basis)
    return record
