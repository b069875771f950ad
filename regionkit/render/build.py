"""Render a region project into the exact files each chosen app needs.

Templates come from the project's `templates/` folder first, then the kit's, and run in Jinja2's immutable
sandbox with StrictUndefined: a template cannot reach Python internals, touch an undefined variable silently,
or read files outside the template folders. Output goes to a staging folder that replaces the build only when
everything rendered; `manifest.json` records the sha256 of every file and digests of every input.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, TemplateError, TemplateNotFound, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from regionkit import __version__
from regionkit.atomic import swap_in
from regionkit.catalog.model import Catalog, Kind
from regionkit.confined import project_files, read_project_file
from regionkit.errors import InputError, Location
from regionkit.project.files import Project
from regionkit.project.logo import LogoError, read_logo
from regionkit.project.region import Profile
from regionkit.provision import serverpaths
from regionkit.render.branding import branding_files, initials_of
from regionkit.render.context import RenderContext, build_contexts
from regionkit.render.filters import FILTERS
from regionkit.resources import kit_path

MANIFEST = "manifest.json"
TEMPLATES_DIR = "templates"  # a project's template overrides, searched before the kit's
TEMPLATE_SUFFIX = ".j2"
PER_UNIT_DIR = "site"  # files under this folder of a unit-site template set are rendered once per unit
KIND_TEMPLATES = {Kind.WEB: "web", Kind.SERVICE: "web", Kind.UNIT_SITE: "unit-site", Kind.ANDROID: "android",
                  Kind.NATIONAL: "national"}

Progress = Callable[[str], None]


@dataclass(frozen=True)
class TemplateFile:
    """One template (or verbatim file) chosen for an app's output path."""

    root: Path  # the templates folder it came from
    name: str  # path relative to that folder, as the loader knows it
    override: bool  # True when it comes from the region project

    @property
    def path(self) -> Path:
        return self.root / self.name


@dataclass
class BuildResult:
    out: Path
    manifest: dict[str, Any]
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


class _ConfinedLoader(FileSystemLoader):
    """The kit's templates as a FileSystemLoader does; the project's (`project_templates`, searched first) only
    as regionkit.confined reads a project's files: no link, regular files, bounded."""

    def __init__(self, project_templates: Path, kit_templates: Path):
        super().__init__([str(kit_templates)])
        self.project_templates = project_templates

    def get_source(self, environment, template):
        rel = template.lstrip("/")
        if self.project_templates.is_dir() and os.path.lexists(self.project_templates / rel):
            path = self.project_templates / rel
            data = read_project_file(self.project_templates.parent, f"{self.project_templates.name}/{rel}")
            try:
                source = data.decode("utf-8")
            except UnicodeDecodeError:
                raise InputError("a template must be UTF-8 text", Location(path)) from None
            return source, str(path), lambda: True  # read once per render
        return super().get_source(environment, template)


class Renderer:
    """Renders one region project; create once, call `build` or `diff`."""

    def __init__(self, project_root: Path, profile: Profile, catalog: Catalog):
        self.project_root = Path(project_root)
        self.profile = profile
        self.catalog = catalog
        self.project_templates = self.project_root / TEMPLATES_DIR
        self.roots = [p for p in (self.project_templates, kit_path("templates")) if p.is_dir()]
        self.env = ImmutableSandboxedEnvironment(
            loader=_ConfinedLoader(self.project_templates, kit_path("templates")),
            undefined=StrictUndefined, keep_trailing_newline=True, trim_blocks=False,
            autoescape=lambda name: bool(name) and name.removesuffix(TEMPLATE_SUFFIX).endswith((".html", ".xml")),
        )
        self.env.filters.update(FILTERS)
        self.env.globals["server_paths"] = serverpaths.LAYOUT  # name -> server path or pattern ({id})
        self.contexts = build_contexts(profile, catalog, __version__)

    # -- planning -------------------------------------------------------------------------------------------

    def templates_for(self, app_id: str, kind: Kind) -> dict[str, TemplateFile]:
        """Output path (relative to the app's folder) -> template, by precedence: the app's own set before its
        kind's set, the project's folder before the kit's."""
        chosen: dict[str, TemplateFile] = {}
        for sub in (f"apps/{app_id}", f"apps/kinds/{KIND_TEMPLATES[kind]}"):
            for root in self.roots:
                for name in self._files_under(root, sub):
                    rel = name.removeprefix(sub + "/")
                    if not rel.rsplit("/", 1)[-1].startswith("."):
                        chosen.setdefault(rel.removesuffix(TEMPLATE_SUFFIX), TemplateFile(
                            root, name, root == self.project_templates))
        return chosen

    def shared_templates(self) -> list[TemplateFile]:
        """Macros every app may import: part of every app's inputs."""
        found: dict[str, TemplateFile] = {}
        for root in self.roots:
            for name in self._files_under(root, "macros"):
                found.setdefault(name, TemplateFile(root, name, root == self.project_templates))
        return list(found.values())

    def _files_under(self, root: Path, sub: str) -> list[str]:
        """Template names (relative to `root`) of the files under `root/sub`: the project's under the project-file
        rule (a link or special file is an InputError), the kit's as they are."""
        if root == self.project_templates:
            return [name.removeprefix(TEMPLATES_DIR + "/")
                    for name, _ in project_files(self.project_root, f"{TEMPLATES_DIR}/{sub}")]
        folder = root / sub
        return [p.relative_to(root).as_posix() for p in sorted(folder.rglob("*")) if p.is_file()] \
            if folder.is_dir() else []

    def _read(self, template: TemplateFile) -> bytes:
        """A template's bytes: a project's under the project-file rule, the kit's as they are."""
        if template.override:
            return read_project_file(self.project_root, f"{TEMPLATES_DIR}/{template.name}")
        return template.path.read_bytes()

    # -- rendering ------------------------------------------------------------------------------------------

    def render_files(self, only_app: str | None = None, progress: Progress | None = None) -> tuple[
            dict[str, bytes], dict[str, Any]]:
        """All output files (relative path -> bytes) and the manifest's app records, in memory."""
        if only_app is not None and only_app not in self.profile.apps:
            raise InputError(f"app '{only_app}' is not chosen for this region", hint="see `regionkit apps list`")
        files: dict[str, bytes] = {}
        branding = self._branding()
        files.update({f"branding/{name}": data for name, data in branding.items()})
        branding_digest = _digest_of({name: _sha(data) for name, data in branding.items()})
        shared = {t.name: _sha(self._read(t)) for t in self.shared_templates()}
        first = self.contexts[0] if self.contexts else None  # region, units, hosts, links: the same for all apps
        region_digest = _digest_of([asdict(first.region), [asdict(u) for u in first.units],
                                    [asdict(h) for h in first.hosts],
                                    [asdict(k) for k in first.links]]) if first else ""
        apps: dict[str, Any] = {}
        for context in self.contexts:
            app = context.app
            if only_app is not None and app.id != only_app:
                continue
            if progress:
                progress(app.id)
            templates = self.templates_for(app.id, Kind(app.kind))
            produced = self._render_app(context, templates)
            if app.kind == Kind.ANDROID:
                produced.update({f"res/{name.removeprefix('android/')}": data for name, data in branding.items()
                                 if name.startswith("android/")})
            prefix = f"apps/{app.id}/"
            for rel, data in produced.items():
                files[_inside(prefix + rel)] = data
            apps[app.id] = {
                "version": app.version,
                "kind": app.kind,
                "inputs_digest": _digest_of({
                    "kit": __version__, "catalog_entry": self.catalog.apps[app.id].model_dump(mode="json"),
                    "region": region_digest, "app": asdict(app), "branding": branding_digest,
                    "shared_templates": shared,
                    "templates": {rel: _sha(self._read(t)) for rel, t in sorted(templates.items())},
                }),
                "files": sorted(prefix + rel for rel in produced),
                "overrides": sorted(self._project_relative(t) for t in templates.values() if t.override),
            }
        return files, apps

    def _render_app(self, context: RenderContext, templates: dict[str, TemplateFile]) -> dict[str, bytes]:
        produced: dict[str, bytes] = {}
        for rel, template in sorted(templates.items()):
            per_unit = context.app.kind == Kind.UNIT_SITE and rel.startswith(PER_UNIT_DIR + "/")
            targets = ([(f"sites/{unit.code}/{rel.removeprefix(PER_UNIT_DIR + '/')}", replace(context, unit=unit))
                        for unit in context.app.units] if per_unit else [(rel, context)])
            for target, target_context in targets:
                if not template.name.endswith(TEMPLATE_SUFFIX):
                    produced[target] = self._read(template)
                    continue
                text = self._render_one(template, target_context)
                if text.strip():  # a template that renders to nothing does not apply to this app
                    produced[target] = text.encode("utf-8")
        return produced

    def _render_one(self, template: TemplateFile, context: RenderContext) -> str:
        try:
            return self.env.get_template(template.name).render(context.as_template_vars())
        except TemplateSyntaxError as exc:
            raise InputError(f"template syntax error: {exc.message}", Location(template.path, exc.lineno)) from None
        except SecurityError as exc:
            raise InputError(f"template refused by the sandbox (no access to Python internals): {exc}",
                             Location(template.path, _template_line(exc, template.path))) from None
        except TemplateNotFound as exc:
            raise InputError(f"template not found: {exc.name}", Location(template.path)) from None
        except TemplateError as exc:
            raise InputError(f"template error: {exc.message or exc}",
                             Location(template.path, _template_line(exc, template.path))) from None

    def _branding(self) -> dict[str, bytes]:
        """The branding files, from the logo checked exactly as `validate` checks it."""
        region = self.profile.region
        logo, data = None, None
        if region.logo:
            try:
                logo, data = read_logo(self.project_root, region.logo)
            except LogoError as exc:
                raise InputError(f"{region.logo}: {exc}", Location(Project(self.project_root).profile_path,
                                                                   field="region.logo")) from None
        return branding_files(data, logo.format if logo else None, initials_of(region.name),
                              region.colours.primary)

    def _project_relative(self, template: TemplateFile) -> str:
        return template.path.relative_to(self.project_root).as_posix()

    # -- build folder ---------------------------------------------------------------------------------------

    def build(self, out: Path, only_app: str | None = None, progress: Progress | None = None) -> BuildResult:
        """Render and replace `out` as a whole; with `only_app`, other apps' files are kept from `out`."""
        out = Path(out).absolute()
        _check_out(out)
        files, apps = self.render_files(only_app, progress)
        previous = read_manifest(out)
        if only_app is not None and previous:
            kept = {name: rec for name, rec in previous.get("apps", {}).items()
                    if name != only_app and name in self.profile.apps}
            for record in kept.values():
                for rel in record["files"]:
                    files[rel] = (out / rel).read_bytes()
            apps = {**kept, **apps}
        manifest = self._manifest(files, apps)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.staging-", dir=out.parent))
        try:
            for rel, data in files.items():
                target = staging / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            (staging / MANIFEST).write_text(_dumps(manifest), encoding="utf-8")
            swap_in(staging, out, "the build")
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        old = previous.get("files", {}) if previous else {}
        changed = sorted(rel for rel, digest in manifest["files"].items() if old.get(rel) != digest)
        removed = sorted(set(old) - set(manifest["files"]))
        return BuildResult(out, manifest, changed, removed)

    def diff(self, out: Path, only_app: str | None = None) -> list[str]:
        """Unified diffs between the current build and what would be rendered now; writes nothing."""
        out = Path(out).absolute()
        files, _ = self.render_files(only_app)
        current = read_manifest(out).get("files", {})
        if only_app is not None:
            current = {rel: d for rel, d in current.items() if rel.startswith((f"apps/{only_app}/", "branding/"))}
        chunks = []
        for rel in sorted(set(files) | set(current)):
            new = files.get(rel)
            old = (out / rel).read_bytes() if rel in current and (out / rel).is_file() else None
            if old == new:
                continue
            chunks.append(_file_diff(rel, old, new))
        return chunks

    def _manifest(self, files: dict[str, bytes], apps: dict[str, Any]) -> dict[str, Any]:
        digests = {rel: _sha(data) for rel, data in sorted(files.items())}
        return {
            "kit_version": __version__,
            "region": {"key": self.profile.region.key, "name": self.profile.region.name},
            "catalog_digest": self.catalog.digest,
            "inputs_digest": _digest_of({"apps": {a: r["inputs_digest"] for a, r in apps.items()},
                                         "files": digests}),
            "apps": dict(sorted(apps.items())),
            "overrides": sorted({o for record in apps.values() for o in record["overrides"]}),
            "files": digests,
        }


def read_manifest(out: Path) -> dict[str, Any]:
    path = Path(out) / MANIFEST
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"unreadable build manifest: {exc}", Location(path)) from None


def verify_build(out: Path) -> list[str]:
    """Files whose content no longer matches the manifest (or that are missing or unlisted)."""
    manifest = read_manifest(out)
    listed = manifest.get("files", {})
    problems = [f"{rel}: missing" for rel in listed if not (Path(out) / rel).is_file()]
    problems += [f"{rel}: sha256 differs" for rel, digest in listed.items()
                 if (Path(out) / rel).is_file() and _sha((Path(out) / rel).read_bytes()) != digest]
    present = {p.relative_to(out).as_posix() for p in Path(out).rglob("*") if p.is_file()} - {MANIFEST}
    problems += [f"{rel}: not in the manifest" for rel in sorted(present - set(listed))]
    return problems


def _inside(rel: str) -> str:
    """Refuse output paths that could leave the build folder (absolute, `..`, empty parts)."""
    parts = rel.split("/")
    if rel.startswith("/") or any(part in ("", ".", "..") for part in parts) or "\\" in rel or "\0" in rel:
        raise InputError(f"output path {rel!r} would leave the build folder; refusing to render")
    return rel


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise InputError("the build output exists and is not a folder", Location(out))
    if out.is_dir() and any(out.iterdir()) and not (out / MANIFEST).is_file():
        raise InputError("the build output is a folder that regionkit did not make (no manifest.json); "
                         "refusing to replace it", Location(out))
    out.parent.mkdir(parents=True, exist_ok=True)


def _file_diff(rel: str, old: bytes | None, new: bytes | None) -> str:
    try:
        old_text = old.decode("utf-8").splitlines(keepends=True) if old is not None else []
        new_text = new.decode("utf-8").splitlines(keepends=True) if new is not None else []
    except UnicodeDecodeError:
        state = "added" if old is None else "removed" if new is None else "changed"
        return f"Binary file {rel} {state}\n"
    return "".join(difflib.unified_diff(old_text, new_text, fromfile=f"a/{rel}" if old is not None else "/dev/null",
                                        tofile=f"b/{rel}" if new is not None else "/dev/null"))


def _template_line(exc: BaseException, path: Path) -> int | None:
    """The template line a runtime error happened on, from Jinja's rewritten traceback."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if Path(tb.tb_frame.f_code.co_filename) == path:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _dumps(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _digest_of(data: Any) -> str:
    return _sha(json.dumps(data, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8"))
