"""`regionkit validate`: the profile, the catalog, the chosen apps and the servers, consistent together."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from regionkit.catalog.model import Catalog, Kind
from regionkit.errors import Problem, ValidationFailed
from regionkit.project.appplan import plan_deployment
from regionkit.project.logo import LogoError, read_logo
from regionkit.project.region import HostRole, Profile, RegionKind, load_profile_document
from regionkit.project.wilayah import code_table
from regionkit.schema_errors import sort_problems
from regionkit.yamldoc import YamlDocument


@dataclass
class Report:
    profile: Profile | None
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def checked_profile(self, message: str) -> Profile:
        """The profile when it has no errors; else raises ValidationFailed(errors, message) (exit 2)."""
        if self.errors or self.profile is None:  # None comes with its errors
            raise ValidationFailed(self.errors, message)
        return self.profile


def check_project(profile_path: Path, catalog: Catalog) -> Report:
    """Every rule at once; errors and warnings in file order."""
    doc, profile, problems = load_profile_document(profile_path)
    if profile is not None:
        problems += _region(doc, profile) + _units(doc, profile) + _apps(doc, profile, catalog)
        problems += _hosts(doc, profile, catalog)
    problems = sort_problems(problems)
    return Report(profile, [p for p in problems if not p.warning], [p for p in problems if p.warning])


def _region(doc: YamlDocument, profile: Profile) -> list[Problem]:
    region, table, problems = profile.region, code_table(), []
    at = lambda *path: doc.location(("region", *path))  # noqa: E731
    if region.kind == RegionKind.INSTITUTION:
        if region.code:
            problems.append(Problem("an institution has no territorial code; put its region in `parent`",
                                    at("code")))
        if not region.parent:
            problems.append(Problem("an institution needs `parent`: the code of the region it belongs to",
                                    at("parent")))
        elif region.parent not in table.regencies and region.parent not in table.provinces:
            problems.append(Problem(f"unknown region code '{region.parent}'; {table.suggest(region.parent)}",
                                    at("parent")))
    elif not region.code:
        problems.append(Problem(f"a {region.kind.value} needs its Kemendagri code", at("code")))
    else:
        place = table.regencies.get(region.code) or table.provinces.get(region.code)
        expected_kind = None if place is None else getattr(place, "kind", "provinsi")
        if place is None:
            problems.append(Problem(f"unknown region code '{region.code}'; {table.suggest(region.code)}",
                                    at("code")))
        elif expected_kind != region.kind.value:
            problems.append(Problem(f"code {region.code} is a {expected_kind} ({place.name}), not a "
                                    f"{region.kind.value}", at("kind")))
        elif place.timezone != region.timezone:
            problems.append(Problem(f"{region.code} lies in {place.timezone} by the Kemendagri table; servers will "
                                    f"run on {region.timezone}", at("timezone"), warning=True))
    if region.logo is None:
        problems.append(Problem("no logo: apps and unit sites will show the region's name only", at("logo"),
                                warning=True))
    else:
        try:
            read_logo(doc.path.parent, region.logo)  # the very check `render` makes
        except LogoError as exc:
            problems.append(Problem(f"{region.logo}: {exc}", at("logo")))
    if not region.head.name:
        problems.append(Problem(f"the {region.head.title}'s name is empty", at("head", "name"), warning=True))
    return problems


def _units(doc: YamlDocument, profile: Profile) -> list[Problem]:
    table, problems = code_table(), []
    prefix = (profile.region.code or profile.region.parent or "") + "."
    for index, unit in enumerate(profile.units):
        if unit.wilayah is None:
            continue
        if unit.wilayah.count(".") == 2 and unit.wilayah not in table.districts:
            problems.append(Problem(f"unknown kecamatan code '{unit.wilayah}'",
                                    doc.location(("units", index, "wilayah"))))
        elif not unit.wilayah.startswith(prefix):
            problems.append(Problem(f"{unit.wilayah} lies outside {profile.region.name}",
                                    doc.location(("units", index, "wilayah"))))
    return problems


def _apps(doc: YamlDocument, profile: Profile, catalog: Catalog) -> list[Problem]:
    problems = []
    unit_kinds = {u.kind for u in profile.units}
    for app_id in profile.apps:
        at = lambda *path, _id=app_id: doc.location(("apps", _id, *path))  # noqa: E731
        if app_id not in catalog.apps:
            problems.append(Problem(f"unknown app '{app_id}'; {catalog.suggest(app_id)}", at()))
            continue
        app = catalog.apps[app_id]
        missing = [d for d in app.depends_on if d not in profile.apps]
        if missing:
            problems.append(Problem(f"{app_id} needs {', '.join(missing)}, which {'is' if len(missing) == 1 else 'are'}"
                                    f" not chosen (regionkit apps add {' '.join(missing)})", at()))
        if app.kind == Kind.UNIT_SITE and not unit_kinds & set(app.unit_kinds):
            kinds = " or ".join(k.value for k in app.unit_kinds)
            problems.append(Problem(f"{app_id} makes one site per {kinds} unit, and the profile has none", at()))
        settings = profile.choice(app_id).settings
        if app.kind == Kind.NATIONAL:
            known = {s.name: s for s in app.integration.settings}
            for name in settings:
                if name not in known:
                    problems.append(Problem(f"unknown setting for {app.name}; expected one of: "
                                            f"{', '.join(known)}", at("settings", name)))
                elif known[name].secret:
                    problems.append(Problem(f"{name} is a secret: keep it in the vault (regionkit secrets), "
                                            "never in region.yaml", at("settings", name)))
    return problems


def _hosts(doc: YamlDocument, profile: Profile, catalog: Catalog) -> list[Problem]:
    plan = plan_deployment(profile, catalog)
    roles = {role for host in profile.hosts for role in host.roles}
    problems = []
    installable = [i.id for i in plan.installed]
    with_db = [i.id for i in plan.with_database]
    if installable and HostRole.WEB not in roles:
        problems.append(Problem(f"no host has the web role, and {len(installable)} chosen apps run on one "
                                f"({_few(installable)})", doc.location(("hosts",))))
    if with_db and HostRole.DB not in roles:
        problems.append(Problem(f"no host has the db role, and {len(with_db)} chosen apps need a database "
                                f"({_few(with_db)})", doc.location(("hosts",))))
    return problems


def _few(ids: list[str], limit: int = 5) -> str:
    return ", ".join(ids[:limit]) + (f" and {len(ids) - limit} more" if len(ids) > limit else "")
